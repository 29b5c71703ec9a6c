//! Step 7: CORS for browser-based MCP clients (e.g. the Inspector's web UI on another localhost
//! port).
//!
//! Allowed origins follow the Origin guard's rules exactly (loopback hosts, or the allow-list), so
//! CORS never lets in a page the guard would refuse. Preflights (`OPTIONS`) are answered here,
//! before bearer auth, and `WWW-Authenticate` is exposed so a browser client can read the
//! challenge and start discovery.

use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::origin_guard::OriginGuard;

/// The CORS layer for a server whose Origin guard is `guard`.
pub fn layer(guard: &OriginGuard) -> CorsLayer {
    let guard = guard.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| guard.check_origin(o).is_ok())
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(std::time::Duration::from_secs(600))
}
