//! Step 7: CORS for browser-based MCP clients (e.g. the Inspector's web UI on another localhost
//! port).
//!
//! Allowed origins follow the Origin guard's rules exactly (loopback hosts, or the allow-list), so
//! CORS never lets in a page the guard would refuse. Preflights (`OPTIONS`) are answered here,
//! before bearer auth, and `WWW-Authenticate` is exposed so a browser client can read the
//! challenge and start discovery.
//!
//! What a browser gets (Fetch standard, "CORS protocol"):
//!
//! | request | answer |
//! |---|---|
//! | preflight: any `OPTIONS` | 200, empty; `Access-Control-Allow-Origin` (the origin, when allowed), `-Allow-Methods`, `-Allow-Headers`, `-Max-Age: 600` |
//! | any other request | the app's answer, plus `Access-Control-Allow-Origin` (when allowed) and `Access-Control-Expose-Headers: www-authenticate` |
//! | both | `Vary: origin, access-control-request-method, access-control-request-headers` |
//!
//! No `Access-Control-Allow-Credentials`: tokens travel in a header, never in cookies.
//!
//! Written here as a small tower service (the rules are fixed, so every header value is a
//! constant) rather than with `tower_http::cors`, whose per-request header building showed up in
//! step 8's profile (see `docs/benchmarks.md`).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::Service;

use crate::origin_guard::OriginGuard;
use crate::server::{BoxedResponse, HttpService};

/// `Access-Control-Allow-Methods` in preflight answers.
pub const ALLOW_METHODS: &str = "GET,POST,OPTIONS";
/// `Access-Control-Allow-Headers` in preflight answers: what MCP clients send.
pub const ALLOW_HEADERS: &str =
    "authorization,content-type,accept,mcp-protocol-version,mcp-session-id,last-event-id";
/// `Access-Control-Expose-Headers`: the challenge a browser client must read to start discovery.
pub const EXPOSE_HEADERS: &str = "www-authenticate";
/// `Access-Control-Max-Age` (seconds) in preflight answers.
pub const MAX_AGE: &str = "600";
/// `Vary` on every answer: it depends on these request headers.
pub const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

/// `app` behind CORS for a server whose Origin guard is `guard`. It wraps the whole app (not each
/// route), so it runs once per request; put the guard around it:
/// `guard.protect(cors::wrap(&guard, app))`.
pub fn wrap<S: HttpService>(guard: &OriginGuard, app: S) -> Cors<S> {
    Cors {
        guard: Arc::new(guard.clone()),
        inner: app,
    }
}

/// An app behind CORS ([`wrap`]).
#[derive(Debug, Clone)]
pub struct Cors<S> {
    guard: Arc<OriginGuard>,
    inner: S,
}

impl<S> Cors<S> {
    /// The request's `Origin`, when the guard's rules allow it.
    fn allowed_origin(&self, request: &Request) -> Option<HeaderValue> {
        let origin = request.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.guard.check_origin(text).ok()?;
        Some(origin.clone())
    }
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

impl<S: HttpService> Service<Request> for Cors<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let origin = self.allowed_origin(&request);
        if request.method() == Method::OPTIONS {
            // A preflight: answered here, before auth (a browser sends no credentials with it).
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            if let Some(origin) = origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
            set(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
            set(headers, header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
            headers.append(header::VARY, HeaderValue::from_static(VARY));
            return Box::pin(std::future::ready(Ok(response)));
        }
        let answer = self.inner.call(request);
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            let headers = response.headers_mut();
            if let Some(origin) = origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            set(
                headers,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                EXPOSE_HEADERS,
            );
            headers.append(header::VARY, HeaderValue::from_static(VARY));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin_guard::GuardArgs;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(allow_origins: &[&str]) -> Cors<Router> {
        let guard = OriginGuard::from_args(&GuardArgs {
            allow_origins: allow_origins.iter().map(|s| s.to_string()).collect(),
            allow_hosts: Vec::new(),
        })
        .unwrap();
        let router = Router::new().route(
            "/mcp",
            get(|| async {
                let mut response = (StatusCode::UNAUTHORIZED, "no").into_response();
                response
                    .headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                response
            }),
        );
        wrap(&guard, router)
    }

    async fn send(app: Cors<Router>, method: &str, origin: Option<&str>) -> Response {
        let mut request = Request::builder().method(method).uri("/mcp");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let Ok(response) = app
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await;
        response
    }

    fn header<'a>(response: &'a Response, name: &str) -> Vec<&'a str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_preflight_is_answered_here_with_the_rules() {
        let response = send(app(&[]), "OPTIONS", Some("http://localhost:6274")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            ["http://localhost:6274"]
        );
        assert_eq!(
            header(&response, "access-control-allow-methods"),
            [ALLOW_METHODS]
        );
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            [ALLOW_HEADERS]
        );
        assert_eq!(header(&response, "access-control-max-age"), ["600"]);
        assert_eq!(header(&response, "vary"), [VARY]);
        assert!(header(&response, "access-control-allow-credentials").is_empty());
        assert!(header(&response, "access-control-expose-headers").is_empty());
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert!(body.is_empty(), "the route was not called");
    }

    #[tokio::test]
    async fn other_requests_reach_the_app_and_expose_the_challenge() {
        let response = send(app(&[]), "GET", Some("http://127.0.0.1:6274")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            ["http://127.0.0.1:6274"]
        );
        assert_eq!(
            header(&response, "access-control-expose-headers"),
            ["www-authenticate"]
        );
        // The app's own Vary is kept; ours is added.
        assert_eq!(header(&response, "vary"), ["accept-encoding", VARY]);
        assert!(header(&response, "access-control-allow-methods").is_empty());
    }

    #[tokio::test]
    async fn only_origins_the_guard_allows_are_echoed() {
        for (allow, origin, echoed) in [
            (&[][..], "https://evil.example", false),
            (&[][..], "http://localhost.evil.com", false),
            (&[][..], "null", false),
            (
                &["https://app.example.com"][..],
                "https://app.example.com",
                true,
            ),
            (
                &["https://app.example.com"][..],
                "https://app.example.com:444",
                false,
            ),
        ] {
            for method in ["OPTIONS", "GET"] {
                let response = send(app(allow), method, Some(origin)).await;
                let got = header(&response, "access-control-allow-origin");
                if echoed {
                    assert_eq!(got, [origin], "{method} from {origin}");
                } else {
                    assert!(got.is_empty(), "{method} from {origin}: {got:?}");
                }
                assert_eq!(header(&response, "vary").last(), Some(&VARY));
            }
        }
        // No Origin (not a browser): no Access-Control-Allow-Origin, the rest as usual.
        let response = send(app(&[]), "GET", None).await;
        assert!(header(&response, "access-control-allow-origin").is_empty());
        assert_eq!(
            header(&response, "access-control-expose-headers"),
            ["www-authenticate"]
        );
    }
}
