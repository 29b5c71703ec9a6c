//! Step 2: the MCP endpoint over Streamable HTTP, stateless and JSON-only, for both eras (MCP
//! 2026-07-28 and 2025-11-25, "Transports").
//!
//! `POST /mcp` checks, in this order: `Content-Type` (415), `Accept` (406), body size (413), the
//! JSON-RPC envelope (400), then asks the lifecycle which era the message belongs to (400 with
//! -32022, -32020 or -32602 when it belongs to none); then a notification or a client response
//! gets 202 with an empty body and a request gets 200 with its JSON-RPC answer (404 for an
//! unknown method in the modern era; 403 from the step 8 policy). `GET` and `DELETE /mcp` → 405
//! `Allow: POST`: this server opens no SSE stream, issues no `Mcp-Session-Id` and ignores one
//! that is sent.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use crate::http::connection::BodyTimedOut;
use crate::http::request_log::{LogFields, LogUser};
use crate::http::server::MAX_BODY_BYTES;
use crate::http::service::{announces_body, close_after};
use crate::mcp::dispatch::{Denial, McpService, Outcome};
use crate::mcp::jsonrpc::{self, Id, Incoming, RpcError};
use crate::mcp::lifecycle::{self, Era};

/// The route path.
pub const MCP_PATH: &str = "/mcp";

/// `POST /mcp` (and 405 for every other method).
pub fn router(service: McpService) -> Router {
    Router::new()
        .route(MCP_PATH, post(handle_post).fallback(method_not_allowed))
        .with_state(Arc::new(service))
}

async fn method_not_allowed() -> Response {
    let error = RpcError::new(
        jsonrpc::INVALID_REQUEST,
        "Method Not Allowed: this server is stateless and JSON-only; use POST",
    );
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(jsonrpc::failure(None, &error)),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// An answer with its status and what the log line should say.
fn answer(status: StatusCode, body: Option<Value>, log: LogFields) -> Response {
    let mut response = match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    response.extensions_mut().insert(log);
    response
}

fn reject(status: StatusCode, id: Option<&Id>, error: RpcError, log: LogFields) -> Response {
    answer(status, Some(jsonrpc::failure(id, &error)), log)
}

async fn handle_post(State(service): State<Arc<McpService>>, request: Request) -> Response {
    // Taken apart rather than extracted piecewise: the `HeaderMap` and `Extension` extractors
    // would clone the headers and the extensions on every request.
    let (mut parts, body) = request.into_parts();
    let headers = &parts.headers;
    let mut log = LogFields {
        user: parts.extensions.remove::<LogUser>().map(|u| u.0),
        ..LogFields::default()
    };

    if !is_json(headers.get(header::CONTENT_TYPE)) {
        let error = RpcError::new(
            jsonrpc::INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json",
        );
        return unread(
            reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, error, log),
            headers,
        );
    }
    if !accepts_json(headers) {
        let error = RpcError::new(
            jsonrpc::INVALID_REQUEST,
            "Not Acceptable: Accept must allow application/json",
        );
        return unread(
            reject(StatusCode::NOT_ACCEPTABLE, None, error, log),
            headers,
        );
    }
    let bytes = match read_limited(headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let message = match jsonrpc::parse(&bytes) {
        Ok(message) => message,
        Err(malformed) => {
            return reject(
                StatusCode::BAD_REQUEST,
                malformed.id.as_ref(),
                malformed.error,
                log,
            );
        }
    };
    let (id, method, params) = match message {
        Incoming::Request { id, method, params } => (Some(id), method, params),
        Incoming::Notification { method } => (None, method, None),
        Incoming::Response => return answer(StatusCode::ACCEPTED, None, log),
    };
    log.rpc_method = Some(logged_method(&method));
    // The one question to the lifecycle: which era, or why not.
    let served = match lifecycle::classify(headers, &method, params.as_ref(), id.is_some()) {
        Ok(served) => served,
        Err(refusal) => {
            log.era = refusal.era.map(Era::as_str);
            return reject(refusal.status, id.as_ref(), refusal.error, log);
        }
    };
    log.era = Some(served.era.as_str());
    log.client = served.client;
    let Some(id) = id else {
        // A notification: accepted whatever its method, once the caller is authorized to send it.
        if let Err(denial) = service.authorize(&method, &parts.extensions) {
            return forbidden(None, denial, log);
        }
        return answer(StatusCode::ACCEPTED, None, log);
    };
    match service.handle(served.era, &method, params.as_ref(), &parts.extensions) {
        Outcome::Result(result) => answer(StatusCode::OK, Some(jsonrpc::success(&id, result)), log),
        Outcome::Error(error) => {
            let status = lifecycle::error_status(served.era, &error);
            reject(status, Some(&id), error, log)
        }
        Outcome::Forbidden(denial) => forbidden(Some(&id), denial, log),
    }
}

/// The JSON-RPC method as the log line shows it: its first 64 characters (a name of at most 64
/// bytes, the usual case, is copied whole without counting its characters).
fn logged_method(method: &str) -> String {
    let cut = match method.len() {
        0..=64 => None,
        _ => method.char_indices().nth(64).map(|(at, _)| at),
    };
    method[..cut.unwrap_or(method.len())].to_string()
}

fn forbidden(id: Option<&Id>, denial: Denial, log: LogFields) -> Response {
    let mut response = reject(StatusCode::FORBIDDEN, id, denial.error, log);
    if let Ok(value) = HeaderValue::from_str(&denial.challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// An answer given before the body was read: `Connection: close` when the request has one.
fn unread(mut response: Response, headers: &HeaderMap) -> Response {
    if announces_body(headers) {
        close_after(&mut response);
    }
    response
}

/// Reads at most [`MAX_BODY_BYTES`]. A body declared larger (`Content-Length`) is refused with 413
/// before a byte is read, so a client that sent `Expect: 100-continue` gets 413 instead of
/// `100 Continue`; one that turns out larger is 413 too; one that is not complete within
/// `--body-timeout` is 408; one that cannot be read (broken chunked framing, a connection cut
/// short) is 400. Each closes the connection: the rest of the body is left unread.
async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(body_refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            too_large_message(),
        ));
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if cause::<http_body_util::LengthLimitError>(&e).is_some() {
                body_refused(StatusCode::PAYLOAD_TOO_LARGE, too_large_message())
            } else if let Some(timed_out) = cause::<BodyTimedOut>(&e) {
                body_refused(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("Request Timeout: {timed_out}"),
                )
            } else {
                body_refused(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: the request body could not be read (malformed framing or cut short)"
                        .into(),
                )
            }
        })
}

fn too_large_message() -> String {
    format!("Payload Too Large: the body limit is {MAX_BODY_BYTES} bytes")
}

/// A body that was not (wholly) read: the JSON-RPC error, and `Connection: close`.
fn body_refused(status: StatusCode, message: String) -> Response {
    let error = RpcError::new(jsonrpc::INVALID_REQUEST, message);
    let mut response = answer(
        status,
        Some(jsonrpc::failure(None, &error)),
        LogFields::default(),
    );
    close_after(&mut response);
    response
}

/// The first error of type `E` in `error`'s chain of sources, `error` included.
fn cause<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// `application/json`, with or without parameters such as `charset=utf-8`.
fn is_json(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// `Accept` absent, or naming `application/json`, `application/*` or `*/*` with a non-zero q.
fn accepts_json(headers: &HeaderMap) -> bool {
    let mut values = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    if values.peek().is_none() {
        return true;
    }
    values.flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.get(..2).is_some_and(|q| q.eq_ignore_ascii_case("q="))
                && p[2..].trim().parse::<f32>().ok() == Some(0.0)
        });
        !refused
            && ["application/json", "application/*", "*/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_method_is_its_first_64_characters() {
        assert_eq!(logged_method("tools/call"), "tools/call");
        assert_eq!(logged_method(""), "");
        let exact = "m".repeat(64);
        assert_eq!(logged_method(&exact), exact);
        assert_eq!(logged_method(&"m".repeat(65)), exact);
        // Characters, not bytes: 70 two-byte characters keep 64 (128 bytes).
        let wide = "\u{e9}".repeat(70);
        assert_eq!(logged_method(&wide), "\u{e9}".repeat(64));
        assert_eq!(logged_method(&"\u{e9}".repeat(40)), "\u{e9}".repeat(40));
    }

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        accepts_json(&h)
    }

    #[test]
    fn accept_header() {
        assert!(accepts_json(&HeaderMap::new()));
        assert!(accept("*/*"));
        assert!(accept("application/json, text/event-stream"));
        assert!(accept("text/event-stream;q=0.9, Application/JSON;q=0.5"));
        assert!(accept("application/*"));
        assert!(!accept("text/event-stream"));
        assert!(!accept("text/html"));
        assert!(!accept("application/json;q=0"));
    }

    #[test]
    fn content_type() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("application/json; charset=utf-8"))));
        assert!(is_json(Some(&v("Application/JSON"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(Some(&v("application/jsonx"))));
        assert!(!is_json(None));
    }
}
