//! Step 11: the MCP side of the client — JSON-RPC over the Streamable HTTP transport
//! (MCP 2025-11-25, Transports).
//!
//! Every message is a `POST` with `Accept: application/json, text/event-stream`. A request's
//! answer is either one `application/json` body or a `text/event-stream` whose `data:` lines carry
//! JSON-RPC messages; the client reads events until the response with its request's `id`.
//!
//! Two eras (MCP 2026-07-28, "Basic › Versioning"). Modern ([`McpClient::speak_modern`]): every
//! request carries `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method`, `Mcp-Name` on `tools/call` /
//! `prompts/get` / `resources/read` (as `=?base64?…?=` when the name is not plain printable
//! ASCII), and `params._meta` with the protocol version, the client's capabilities and its name.
//! Legacy: after `initialize` it sends `MCP-Protocol-Version`, and `Mcp-Session-Id` when the
//! server issued one. A `401`/`403` is handed back with its `Bearer` (or `DPoP`) challenge: what to
//! do about it is the host's business (`client::host`).
//!
//! A DPoP-bound token (RFC 9449) goes as `Authorization: DPoP` with a fresh proof on every request;
//! a `401 use_dpop_nonce` with a `DPoP-Nonce` is answered once, with a proof holding the nonce.

use std::fmt;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use url::Url;

use crate::client::challenge::{BearerChallenge, parse_www_authenticate};
use crate::client::dpop::{self, DpopSigner};
use crate::client::http_client::MAX_BODY_BYTES;
use crate::client::http_client::describe_reqwest;
use crate::client::trace::redact;

/// The `Accept` of every POST.
pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// The session header (MCP 2025-11-25, "Session Management").
pub const SESSION_HEADER: &str = "mcp-session-id";
// The version header (every modern request, legacy ones after initialization), the mirrored
// headers and the `_meta` keys: the same names the server side checks.
use crate::mcp::lifecycle::{
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, METHOD_HEADER,
    MODERN_VERSION, NAME_HEADER, NAME_PARAM, VERSION_HEADER,
};

/// A refusal by the server's auth layer.
#[derive(Debug, Clone)]
pub struct Denial {
    /// 401 or 403.
    pub status: u16,
    /// The `Bearer` challenge, when there is one.
    pub challenge: Option<BearerChallenge>,
    /// The raw `WWW-Authenticate` values, for the trace.
    pub www_authenticate: String,
}

/// What a POST came back with.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The JSON-RPC response to our request (a `result` or an `error` object).
    Response(Value),
    /// A notification was accepted (202).
    Accepted,
    /// 401 / 403.
    Denied(Denial),
}

/// Why a message could not be exchanged.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// Network, time-out, oversized body.
    #[error("POST {url} ({method}) failed: {reason}")]
    Http {
        /// The MCP endpoint.
        url: String,
        /// The JSON-RPC method.
        method: String,
        /// What went wrong.
        reason: String,
    },
    /// An HTTP status that is neither success nor an auth refusal.
    #[error("POST {url} ({method}) → HTTP {status}: {body}")]
    Status {
        /// The MCP endpoint.
        url: String,
        /// The JSON-RPC method.
        method: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
        /// The JSON-RPC error object of the body, when it holds one (a modern server explains its
        /// 400s and 404s with one).
        rpc_error: Option<Value>,
    },
    /// The answer is not the JSON-RPC response expected.
    #[error("{method}: {reason}")]
    Protocol {
        /// The JSON-RPC method.
        method: String,
        /// What is wrong.
        reason: String,
    },
}

/// A Streamable HTTP connection to one MCP endpoint.
pub struct McpClient {
    http: reqwest::Client,
    url: Url,
    token: Option<String>,
    /// The key the token is bound to (RFC 9449): then `Authorization: DPoP` and a proof.
    dpop: Option<Arc<DpopSigner>>,
    /// The MCP server's latest `DPoP-Nonce` (RFC 9449 §9).
    dpop_nonce: Option<String>,
    /// The last request was retried once with the server's nonce.
    retried_with_nonce: bool,
    /// The client's capabilities (`initialize`, and `_meta` of every 2026-07-28 request).
    capabilities: Value,
    session_id: Option<String>,
    protocol_version: Option<String>,
    /// `Some(clientInfo.name)` while speaking 2026-07-28.
    modern: Option<String>,
    next_id: u64,
}

impl fmt::Debug for McpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpClient")
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_deref().map(redact))
            .field("dpop_jkt", &self.dpop.as_ref().map(|d| d.thumbprint()))
            .field("session_id", &self.session_id)
            .field("protocol_version", &self.protocol_version)
            .finish()
    }
}

impl McpClient {
    /// A client for the endpoint at `url`, without a token yet.
    pub fn new(http: reqwest::Client, url: Url) -> Self {
        Self {
            http,
            url,
            token: None,
            dpop: None,
            dpop_nonce: None,
            retried_with_nonce: false,
            capabilities: json!({}),
            session_id: None,
            protocol_version: None,
            modern: None,
            next_id: 0,
        }
    }

    /// The endpoint.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Uses `token` from now on: as `Bearer`, or with `dpop` as `DPoP` with a fresh proof on
    /// every request (RFC 9449 §7.1).
    pub fn set_token(&mut self, token: String, dpop: Option<Arc<DpopSigner>>) {
        self.token = Some(token);
        self.dpop = dpop;
    }

    /// Declares an MCP extension in the client's capabilities (`extensions`, keyed by its
    /// identifier, e.g. `io.modelcontextprotocol/oauth-client-credentials`).
    pub fn declare_extension(&mut self, id: &str) {
        self.capabilities["extensions"][id] = json!({});
    }

    /// The client's capabilities.
    pub fn capabilities(&self) -> Value {
        self.capabilities.clone()
    }

    /// True when the last request was sent again with the server's `DPoP-Nonce` (RFC 9449 §9).
    pub fn retried_with_nonce(&self) -> bool {
        self.retried_with_nonce
    }

    /// The thumbprint of the key the token is bound to, when it is.
    pub fn dpop_jkt(&self) -> Option<String> {
        self.dpop.as_ref().map(|d| d.thumbprint())
    }

    /// The current token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends `MCP-Protocol-Version: version` from now on (after `initialize`).
    pub fn set_protocol_version(&mut self, version: &str) {
        self.protocol_version = Some(version.to_string());
    }

    /// Speaks 2026-07-28 from now on: the headers and `_meta` of every request, `client_name` as
    /// `clientInfo.name`.
    pub fn speak_modern(&mut self, client_name: &str) {
        self.protocol_version = Some(MODERN_VERSION.to_string());
        self.modern = Some(client_name.to_string());
    }

    /// Back to the legacy era (no version header until `initialize` has chosen one).
    pub fn speak_legacy(&mut self) {
        self.protocol_version = None;
        self.modern = None;
    }

    /// The session id the server issued, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Sends a request and waits for its response.
    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Reply, McpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        if let Some(client_name) = &self.modern {
            if !message["params"].is_object() {
                message["params"] = json!({});
            }
            message["params"]["_meta"] = json!({
                META_PROTOCOL_VERSION: MODERN_VERSION,
                META_CLIENT_CAPABILITIES: self.capabilities,
                META_CLIENT_INFO: {"name": client_name, "version": env!("CARGO_PKG_VERSION")},
            });
        }
        self.post(method, &message, Some(id)).await
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Option<Value>) -> Result<Reply, McpError> {
        let mut message = json!({"jsonrpc": "2.0", "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.post(method, &message, None).await
    }

    /// One POST of `message`, with every header this client sends.
    fn build(&self, method: &str, message: &Value, id: Option<u64>) -> reqwest::RequestBuilder {
        let mut builder = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, ACCEPT_BOTH)
            .body(message.to_string());
        if let Some(version) = &self.protocol_version {
            builder = builder.header(VERSION_HEADER, version);
        }
        if self.modern.is_some() && id.is_some() {
            builder = builder.header(METHOD_HEADER, method);
            let name_param = NAME_PARAM.iter().find(|(m, _)| *m == method);
            if let Some(name) = name_param.and_then(|(_, key)| message["params"][*key].as_str()) {
                builder = builder.header(NAME_HEADER, header_safe(name));
            }
        }
        if let Some(session) = &self.session_id {
            builder = builder.header(SESSION_HEADER, session);
        }
        // ANCHOR: dpop_request
        match (&self.token, &self.dpop) {
            (Some(token), Some(signer)) => {
                let proof =
                    signer.proof("POST", &self.url, Some(token), self.dpop_nonce.as_deref());
                builder = builder
                    .header(AUTHORIZATION, format!("DPoP {token}"))
                    .header(dpop::PROOF_HEADER, proof);
            }
            (Some(token), None) => {
                builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            (None, _) => {}
        }
        // ANCHOR_END: dpop_request
        builder
    }

    /// One POST, and once more with a new proof when a DPoP-bound request is answered `401`
    /// `use_dpop_nonce` with a `DPoP-Nonce` (RFC 9449 §9); any answer's `DPoP-Nonce` is kept.
    async fn send(
        &mut self,
        method: &str,
        message: &Value,
        id: Option<u64>,
    ) -> Result<reqwest::Response, McpError> {
        let http_error = |reason: String| McpError::Http {
            url: self.url.to_string(),
            method: method.to_string(),
            reason,
        };
        self.retried_with_nonce = false;
        loop {
            let response = self
                .build(method, message, id)
                .send()
                .await
                .map_err(|e| http_error(describe_reqwest(&e)))?;
            if self.dpop.is_none() {
                return Ok(response);
            }
            let nonce = dpop::nonce_from(response.headers());
            if let Some(nonce) = &nonce {
                self.dpop_nonce = Some(nonce.clone());
            }
            let wants_nonce = response.status() == StatusCode::UNAUTHORIZED
                && response
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(parse_www_authenticate)
                    .any(|c| {
                        c.scheme.eq_ignore_ascii_case("dpop")
                            && c.param("error") == Some(dpop::USE_DPOP_NONCE)
                    });
            if wants_nonce && nonce.is_some() && !self.retried_with_nonce {
                self.retried_with_nonce = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// Sends `message` ([`Self::send`]) and reads the answer: a denial, a JSON-RPC error status,
    /// `202` for a notification, or the response to request `id` (JSON or an event stream).
    async fn post(
        &mut self,
        method: &str,
        message: &Value,
        id: Option<u64>,
    ) -> Result<Reply, McpError> {
        let mut response = self.send(method, message, id).await?;
        let url = self.url.to_string();
        let http_error = |reason: String| McpError::Http {
            url: url.clone(),
            method: method.to_string(),
            reason,
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Ok(Reply::Denied(denial(status.as_u16(), response.headers())));
        }
        if let Some(session) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            self.session_id = Some(session.to_string());
        }
        if !status.is_success() {
            let body = crate::client::http_client::read_body(response, MAX_BODY_BYTES)
                .await
                .unwrap_or_default();
            let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            let rpc_error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").filter(|e| e["code"].is_i64()).cloned());
            return Err(McpError::Status {
                url: self.url.to_string(),
                method: method.to_string(),
                status: status.as_u16(),
                body: text.trim().to_string(),
                rpc_error,
            });
        }
        let Some(id) = id else {
            // A notification: 202 Accepted with no body (a body is ignored).
            return Ok(Reply::Accepted);
        };
        let protocol = |reason: String| McpError::Protocol {
            method: method.to_string(),
            reason,
        };
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            return match read_event_stream(&mut response, id).await {
                Ok(Some(found)) => Ok(Reply::Response(found)),
                Ok(None) => Err(protocol(format!(
                    "the event stream ended without the response to request {id}"
                ))),
                Err(reason) => Err(http_error(reason)),
            };
        }
        if status == StatusCode::ACCEPTED {
            return Err(protocol(
                "the server answered 202 with no response to a request".into(),
            ));
        }
        let body = crate::client::http_client::read_body(response, MAX_BODY_BYTES)
            .await
            .map_err(http_error)?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| protocol(format!("the {content_type} body is not JSON ({e})")))?;
        response_in_value(value, id)
            .ok_or_else(|| protocol(format!("the body is not the response to request {id}")))
            .map(Reply::Response)
    }
}

/// Reads an event stream until the response to request `id` (`None`: the stream ended without
/// it), at most [`MAX_BODY_BYTES`]; `Err` says why it could not be read.
async fn read_event_stream(
    response: &mut reqwest::Response,
    id: u64,
) -> Result<Option<Value>, String> {
    let mut parser = SseParser::default();
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(|e| describe_reqwest(&e))? {
        read += chunk.len();
        if read > MAX_BODY_BYTES {
            return Err(format!("the event stream passed {MAX_BODY_BYTES} bytes"));
        }
        for event in parser.feed(&chunk) {
            if let Some(found) = response_in(&event.data, id) {
                return Ok(Some(found));
            }
        }
    }
    Ok(parser
        .finish()
        .into_iter()
        .find_map(|event| response_in(&event.data, id)))
}

/// A header value as 2026-07-28 ("Streamable HTTP › Value Encoding") sends it: plain printable
/// ASCII without edge spaces as it is, anything else (and anything that looks like the sentinel)
/// as `=?base64?<base64 of the UTF-8>?=`.
pub fn header_safe(value: &str) -> String {
    use base64::Engine;
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim() == value
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    if plain {
        value.to_string()
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        format!("=?base64?{encoded}?=")
    }
}

fn denial(status: u16, headers: &HeaderMap) -> Denial {
    let values: Vec<&str> = headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Denial {
        status,
        challenge: BearerChallenge::from_header_values(values.iter().copied()),
        www_authenticate: values.join(", "),
    }
}

fn response_in(data: &str, id: u64) -> Option<Value> {
    serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| response_in_value(v, id))
}

/// The JSON-RPC response with `id` (an object with `result` or `error`).
fn response_in_value(value: Value, id: u64) -> Option<Value> {
    let is_ours = |v: &Value| {
        v.get("id") == Some(&json!(id)) && (v.get("result").is_some() || v.get("error").is_some())
    };
    if is_ours(&value) { Some(value) } else { None }
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` (empty = `message`).
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// `id:`.
    pub id: Option<String>,
}

/// An incremental `text/event-stream` parser (WHATWG HTML, "Server-sent events"): feed it bytes
/// as they arrive, get the complete events back. Lines end with LF or CRLF; a blank line ends an
/// event; `:` lines are comments; events without data are dropped.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

impl SseParser {
    /// Adds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                if let Some(event) = self.line_done(&line) {
                    out.push(event);
                }
            } else {
                self.line.push(b);
            }
        }
        out
    }

    /// The end of the stream: a last event not followed by a blank line still counts.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = self.feed(b"\n");
        if let Some(event) = self.line_done("") {
            out.push(event);
        }
        out
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let had = std::mem::take(&mut self.has_data);
            return had.then_some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.current.event = value.to_string(),
            "id" => self.current.id = Some(value.to_string()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_plain_or_base64() {
        assert_eq!(header_safe("echo"), "echo");
        assert_eq!(
            header_safe("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(header_safe(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(header_safe("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            header_safe("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
    }

    #[test]
    fn sse_single_event() {
        let mut p = SseParser::default();
        let events =
            p.feed(b"event: message\ndata: {\"result\":{},\"jsonrpc\":\"2.0\",\"id\":0}\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "message");
        assert_eq!(
            response_in(&events[0].data, 0).unwrap()["result"],
            json!({})
        );
    }

    #[test]
    fn sse_split_across_chunks_crlf_comments_and_multiline_data() {
        let mut p = SseParser::default();
        let mut events = Vec::new();
        for chunk in [
            &b": keep-alive\r\n\r\nid: 7\r\nda"[..],
            b"ta: {\"a\":\r\ndata: 1}\r",
            b"\n\r\ndata:x\n",
        ] {
            events.extend(p.feed(chunk));
        }
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "{\"a\":\n1}");
        assert_eq!(events[0].id.as_deref(), Some("7"));
        let rest = p.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].data, "x");
    }

    #[test]
    fn sse_events_without_data_are_dropped() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: ping\n\nid: 3\n\n").is_empty());
        assert!(p.finish().is_empty());
    }

    #[test]
    fn sse_utf8_split_across_chunks() {
        let mut p = SseParser::default();
        let bytes = "data: héllo\n\n".as_bytes();
        let (a, b) = bytes.split_at(8); // inside "é"
        let mut events = p.feed(a);
        events.extend(p.feed(b));
        assert_eq!(events[0].data, "héllo");
    }

    #[test]
    fn only_our_response_counts() {
        assert!(response_in(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, 1).is_some());
        assert!(
            response_in(
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#,
                1
            )
            .is_some()
        );
        assert!(response_in(r#"{"jsonrpc":"2.0","id":2,"result":{}}"#, 1).is_none());
        assert!(response_in(r#"{"jsonrpc":"2.0","id":"1","result":{}}"#, 1).is_none());
        // A server-to-client request that reuses our id number is not our response.
        assert!(response_in(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, 1).is_none());
        assert!(response_in(r#"{"jsonrpc":"2.0","method":"notifications/message"}"#, 1).is_none());
        assert!(response_in("not json", 1).is_none());
    }
}
