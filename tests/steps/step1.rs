//! Step 1: `/health` and the Origin/Host guard, composed as `src/bin/step1.rs` composes them.

use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::{GuardArgs, OriginGuard};
use mcp_auth_steps::http::service::HttpService;
use reqwest::StatusCode;
use serde_json::json;

use crate::spawn;

fn app(guard: &GuardArgs) -> impl HttpService {
    let guard = OriginGuard::from_args(guard).expect("valid guard flags");
    guard.protect(Health::new(1).router())
}

#[tokio::test]
async fn health_answers_healthy() {
    // Arrange
    let server = spawn(app(&GuardArgs::default())).await;

    // Act
    let reply = server.request("GET", "/health", &[]).await;

    // Assert
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json, json!({"status": "healthy", "step": 1}));
}

#[tokio::test]
async fn health_is_outside_the_guard() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server
        .request(
            "GET",
            "/health",
            &[("origin", "http://evil.com"), ("host", "evil.com")],
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "healthy");
}

#[tokio::test]
async fn step_one_has_no_mcp_endpoint() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server
        .post_mcp(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;

    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text, "");
}

#[tokio::test]
async fn loopback_origins_pass_the_guard() {
    let server = spawn(app(&GuardArgs::default())).await;

    for origin in [
        "http://localhost:6274",
        "http://127.0.0.1:1",
        "http://[::1]:3000",
        "https://localhost",
    ] {
        let reply = server.request("GET", "/mcp", &[("origin", origin)]).await;

        // Past the guard, the router has no /mcp: 404, not 403.
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "Origin {origin}");
    }
}

#[tokio::test]
async fn foreign_null_and_malformed_origins_are_refused_with_a_json_rpc_error() {
    let server = spawn(app(&GuardArgs::default())).await;

    for origin in [
        "http://localhost.evil.com",
        "null",
        "localhost:9000",
        "http://evil.com",
    ] {
        let reply = server.request("GET", "/mcp", &[("origin", origin)]).await;

        assert_eq!(reply.status, StatusCode::FORBIDDEN, "Origin {origin}");
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.json["jsonrpc"], "2.0");
        assert!(reply.json.get("id").is_none(), "no id: {}", reply.text);
        assert_eq!(reply.json["error"]["code"], -32001);
        let message = reply.json["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Forbidden: Origin") && message.contains(origin),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_even_without_origin() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server.request("GET", "/mcp", &[("host", "evil.com")]).await;

    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.json.get("id").is_none());
    assert_eq!(
        reply.json["error"]["message"],
        "Forbidden: Host \"evil.com\" rejected (not a loopback or allowed host)"
    );
}

#[tokio::test]
async fn allow_lists_admit_exactly_what_they_name() {
    let server = spawn(app(&GuardArgs {
        allow_origins: vec!["https://app.example.com".into()],
        allow_hosts: vec!["mcp.example.com".into()],
    }))
    .await;

    let allowed_origin = server
        .request("GET", "/mcp", &[("origin", "https://app.example.com")])
        .await;
    let other_scheme = server
        .request("GET", "/mcp", &[("origin", "http://app.example.com")])
        .await;
    let allowed_host = server
        .request("GET", "/mcp", &[("host", "mcp.example.com:8443")])
        .await;
    let other_host = server
        .request("GET", "/mcp", &[("host", "app.example.com")])
        .await;

    assert_eq!(allowed_origin.status, StatusCode::NOT_FOUND);
    assert_eq!(other_scheme.status, StatusCode::FORBIDDEN);
    assert_eq!(allowed_host.status, StatusCode::NOT_FOUND);
    assert_eq!(other_host.status, StatusCode::FORBIDDEN);
}

#[test]
fn a_bad_allow_list_entry_stops_start() {
    let err = OriginGuard::from_args(&GuardArgs {
        allow_origins: vec!["localhost:9000".into()],
        allow_hosts: vec![],
    })
    .unwrap_err();

    assert!(
        err.to_string()
            .starts_with("ALLOWED_ORIGINS / --allow-origin: \"localhost:9000\" is not valid"),
        "{err}"
    );
}
