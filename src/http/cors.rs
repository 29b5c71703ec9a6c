//! Step 7: CORS for browser-based MCP clients (e.g. the Inspector's web UI on another localhost
//! port), with `tower-http`'s `CorsLayer`.
//!
//! Allowed origins follow the Origin guard's rules exactly — the layer's origin predicate *is*
//! [`OriginGuard::check_origin`] — so CORS never lets in a page the guard would refuse. Preflights
//! (`OPTIONS`) are answered here, before bearer auth, and `WWW-Authenticate` is exposed so a
//! browser client can read the challenge and start discovery.
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

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower::util::MapRequest;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::http::origin_guard::OriginGuard;

pub use tower_http::cors::Cors;

/// `Access-Control-Allow-Methods` in preflight answers.
pub const ALLOW_METHODS: &str = "GET,POST,OPTIONS";
/// `Access-Control-Allow-Headers` in preflight answers: what MCP clients send, in both eras
/// (`mcp-method` and `mcp-name` are the 2026-07-28 mirrored headers). A preflight that asks for
/// `Mcp-Param-{Name}` headers (2026-07-28, "Custom Headers from Tool Parameters") gets those
/// names added; any other name it asks for is left out, so the browser refuses to send it.
pub const ALLOW_HEADERS: &str = "authorization,content-type,accept,mcp-protocol-version,mcp-method,mcp-name,mcp-session-id,last-event-id";
/// The prefix of the custom headers a tool's `x-mcp-header` annotations define.
pub const PARAM_HEADER_PREFIX: &str = "mcp-param-";
/// `Access-Control-Expose-Headers`: the challenge a browser client must read to start discovery.
pub const EXPOSE_HEADERS: &str = "www-authenticate";
/// `Access-Control-Max-Age` (seconds) in preflight answers.
pub const MAX_AGE: &str = "600";
/// `Vary` on every answer: it depends on these request headers.
pub const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

/// The CORS rules for a server whose Origin guard is `guard`. Its allowed headers echo the
/// preflight's request, so it is only used behind the filter of [`wrap`], which decides them.
fn layer(guard: &OriginGuard) -> CorsLayer {
    let guard = guard.clone();
    let allowed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
        origin
            .to_str()
            .is_ok_and(|text| guard.check_origin(text).is_ok())
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allowed))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        // Echoes what `allowed_request_headers` left in the preflight: the fixed list, plus the
        // `mcp-param-*` names asked for (a fixed list cannot name them; `*` would allow anything).
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600))
}

/// A service behind [`wrap`].
pub type CorsService<S> = MapRequest<Cors<S>, fn(Request) -> Request>;

/// `app` behind CORS. It wraps the whole app (not each route), so it runs once per request; put
/// the guard around it: `guard.protect(cors::wrap(&guard, app))`.
pub fn wrap<S>(guard: &OriginGuard, app: S) -> CorsService<S> {
    let cors = tower::Layer::layer(&layer(guard), app);
    MapRequest::new(cors, allowed_request_headers as fn(Request) -> Request)
}

/// Rewrites a preflight's `Access-Control-Request-Headers` to what it may have: [`ALLOW_HEADERS`]
/// and the `mcp-param-*` names it asked for. The layer then mirrors this value.
fn allowed_request_headers(mut request: Request) -> Request {
    if request.method() != Method::OPTIONS {
        return request;
    }
    let mut allowed = ALLOW_HEADERS.to_string();
    for value in request
        .headers()
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
    {
        let names = value.to_str().unwrap_or("").split(',');
        for name in names.map(|n| n.trim().to_ascii_lowercase()) {
            let param = name
                .strip_prefix(PARAM_HEADER_PREFIX)
                .is_some_and(|rest| !rest.is_empty());
            if param && HeaderName::from_bytes(name.as_bytes()).is_ok() {
                allowed.push(',');
                allowed.push_str(&name);
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&allowed) {
        request
            .headers_mut()
            .insert(header::ACCESS_CONTROL_REQUEST_HEADERS, value);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::origin_guard::GuardArgs;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(allow_origins: &[&str]) -> CorsService<Router> {
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

    async fn send(app: CorsService<Router>, method: &str, origin: Option<&str>) -> Response {
        send_asking(app, method, origin, None).await
    }

    async fn send_asking(
        app: CorsService<Router>,
        method: &str,
        origin: Option<&str>,
        request_headers: Option<&str>,
    ) -> Response {
        let mut request = Request::builder().method(method).uri("/mcp");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(names) = request_headers {
            request = request.header(header::ACCESS_CONTROL_REQUEST_HEADERS, names);
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
    async fn a_preflight_may_ask_for_mcp_param_headers_and_nothing_else() {
        let asked = "Mcp-Method, mcp-name, Mcp-Param-Region, x-evil, mcp-param-, authorization";
        let response = send_asking(
            app(&[]),
            "OPTIONS",
            Some("http://localhost:6274"),
            Some(asked),
        )
        .await;
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            [format!("{ALLOW_HEADERS},mcp-param-region").as_str()]
        );
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
