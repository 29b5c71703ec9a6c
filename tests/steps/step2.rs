//! Step 2: JSON-RPC over `POST /mcp` and the lifecycle, behind the guard, composed as
//! `src/bin/step2.rs` composes them.

use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::service::HttpService;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::endpoint;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{initialize_params, spawn};

fn app() -> impl HttpService {
    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step2", "Step 2: JSON-RPC"));
    let app = Health::new(2).router().merge(endpoint::router(mcp));
    OriginGuard::default().protect(app)
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn initialize_echoes_each_supported_version_and_issues_no_session() {
    let server = spawn(app()).await;

    for version in ["2025-11-25", "2025-06-18", "2025-03-26"] {
        let reply = server.call("initialize", initialize_params(version)).await;

        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-type"), "application/json");
        assert!(reply.headers.get("mcp-session-id").is_none());
        assert_eq!(reply.json["id"], 1);
        assert_eq!(reply.json["result"]["protocolVersion"], version);
        assert_eq!(
            reply.json["result"]["serverInfo"]["name"],
            "mcp-auth-steps-step2"
        );
        assert_eq!(reply.json["result"]["capabilities"], json!({}));
    }
}

#[tokio::test]
async fn an_unknown_version_is_answered_with_our_latest() {
    let server = spawn(app()).await;

    let reply = server
        .call("initialize", initialize_params("2024-11-05"))
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn initialize_without_protocol_version_is_invalid_params() {
    let server = spawn(app()).await;

    let reply = server.call("initialize", json!({"capabilities": {}})).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["id"], 1);
    assert_eq!(reply.json["error"]["code"], -32602);
}

#[tokio::test]
async fn ping_is_an_empty_result_even_with_extra_params() {
    let server = spawn(app()).await;

    let reply = server.call("ping", json!({"extra": [1, 2]})).await;

    assert_eq!(reply.json, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
}

#[tokio::test]
async fn notifications_and_client_responses_get_202_and_no_body() {
    let server = spawn(app()).await;

    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/unknown"}),
        json!({"jsonrpc": "2.0", "id": 7, "result": {}}),
    ] {
        let reply = server.post_mcp(message.clone()).await;

        assert_eq!(reply.status, StatusCode::ACCEPTED, "{message}");
        assert_eq!(reply.text, "", "{message}");
        assert!(reply.headers.get("content-type").is_none(), "{message}");
    }
}

#[tokio::test]
async fn malformed_bodies_are_json_rpc_errors_with_http_400() {
    let server = spawn(app()).await;
    let cases: [(&str, i64, Value); 6] = [
        ("{", -32700, Value::Null),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            -32600,
            Value::Null,
        ),
        ("42", -32600, Value::Null),
        (
            r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#,
            -32600,
            json!(5),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"m","method":7}"#,
            -32600,
            json!("m"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            -32600,
            Value::Null,
        ),
    ];

    for (body, code, id) in cases {
        let reply = server.post_raw(body, &[JSON]).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json["error"]["code"], code, "{body}");
        assert_eq!(reply.json["id"], id, "{body}");
    }
}

#[tokio::test]
async fn unknown_methods_and_server_discover_are_method_not_found() {
    let server = spawn(app()).await;

    for method in ["tools/list", "server/discover", "no/such"] {
        let reply = server.call(method, json!({})).await;

        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json["error"]["code"], -32601);
        assert_eq!(
            reply.json["error"]["message"],
            format!("Method not found: {method}")
        );
    }
}

#[tokio::test]
async fn transport_checks_answer_415_406_400_and_405() {
    let server = spawn(app()).await;

    let text_plain = server
        .post_raw(PING, &[("content-type", "text/plain")])
        .await;
    let sse_only = server
        .post_raw(PING, &[JSON, ("accept", "text/event-stream")])
        .await;
    let both = server
        .post_raw(
            PING,
            &[JSON, ("accept", "application/json, text/event-stream")],
        )
        .await;
    let future_version = server
        .post_raw(PING, &[JSON, ("mcp-protocol-version", "2026-07-28")])
        .await;
    let get = server.request("GET", "/mcp", &[]).await;
    let delete = server.request("DELETE", "/mcp", &[]).await;

    assert_eq!(text_plain.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(sse_only.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(both.status, StatusCode::OK);
    assert_eq!(future_version.status, StatusCode::BAD_REQUEST);
    let message = future_version.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("supported: 2025-11-25, 2025-06-18, 2025-03-26"),
        "{message}"
    );
    for reply in [get, delete] {
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), "POST");
        assert!(reply.headers.get("mcp-session-id").is_none());
    }
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413() {
    let server = spawn(app()).await;
    let padding = "a".repeat(mcp_auth_steps::http::server::MAX_BODY_BYTES);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": padding}});

    let reply = server.post_mcp(body).await;

    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json["error"]["code"], -32600);
}

#[tokio::test]
async fn the_guard_refuses_before_the_body_is_read() {
    let server = spawn(app()).await;

    // A look-alike Origin and a body that is not even JSON: the guard answers first.
    let reply = server
        .post_raw("not json", &[JSON, ("origin", "http://localhost.evil.com")])
        .await;

    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json["error"]["code"], -32001);
    assert!(reply.json.get("id").is_none());
}
