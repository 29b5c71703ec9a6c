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

use crate::{initialize_params, modern_body, spawn};

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
        .post_raw(PING, &[JSON, ("mcp-protocol-version", "2099-01-01")])
        .await;
    let get = server.request("GET", "/mcp", &[]).await;
    let delete = server.request("DELETE", "/mcp", &[]).await;

    assert_eq!(text_plain.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(sse_only.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(both.status, StatusCode::OK);
    assert_eq!(future_version.status, StatusCode::BAD_REQUEST);
    assert_eq!(future_version.json["error"]["code"], -32022);
    assert_eq!(
        future_version.json["error"]["data"],
        json!({"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
               "requested": "2099-01-01"})
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

#[tokio::test]
async fn modern_server_discover_is_complete_and_cacheable() {
    let server = spawn(app()).await;

    let reply = server.call_modern("server/discover", json!({}), &[]).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json["result"],
        json!({
            "supportedVersions": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
            "capabilities": {},
            "resultType": "complete",
            "ttlMs": 3_600_000,
            "cacheScope": "public",
            "_meta": {"io.modelcontextprotocol/serverInfo":
                {"name": "mcp-auth-steps-step2", "version": env!("CARGO_PKG_VERSION")}}
        })
    );
}

#[tokio::test]
async fn modern_requests_know_no_initialize_or_ping_404() {
    let server = spawn(app()).await;

    for method in ["initialize", "ping", "logging/setLevel", "no/such"] {
        let reply = server
            .call_modern(method, initialize_params("2026-07-28"), &[])
            .await;

        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(reply.json["error"]["code"], -32601, "{method}");
        assert_eq!(reply.json["id"], 1);
    }
}

#[tokio::test]
async fn modern_envelope_and_header_errors_are_400_with_modern_codes() {
    let server = spawn(app()).await;
    let discover = modern_body("server/discover", json!({}));
    let modern = [
        JSON,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "server/discover"),
    ];
    let mut no_caps = discover.clone();
    no_caps["params"]["_meta"]
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let mut old_meta = discover.clone();
    old_meta["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let bare = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover"});

    let cases = [
        (bare.to_string(), &modern[..], -32602),
        (no_caps.to_string(), &modern[..], -32602),
        (old_meta.to_string(), &modern[..], -32020),
        (discover.to_string(), &modern[..2], -32020),
        (
            discover.to_string(),
            &[
                JSON,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
            ][..],
            -32020,
        ),
    ];

    for (body, headers, code) in cases {
        let reply = server.post_raw(body.clone(), headers).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body} {headers:?}");
        assert_eq!(reply.json["error"]["code"], code, "{body} {headers:?}");
        assert_eq!(reply.json["id"], 1);
    }
    let missing = server.post_raw(bare.to_string(), &modern).await;
    let message = missing.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("io.modelcontextprotocol/protocolVersion"),
        "{message}"
    );
}

#[tokio::test]
async fn modern_notifications_are_accepted_and_sessions_ignored() {
    let server = spawn(app()).await;
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

    let accepted = server
        .post_raw(note, &[JSON, ("mcp-protocol-version", "2026-07-28")])
        .await;
    let with_session = server
        .call_modern(
            "server/discover",
            json!({}),
            &[("mcp-session-id", "abc"), ("last-event-id", "7")],
        )
        .await;

    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    assert_eq!(accepted.text, "");
    assert_eq!(with_session.status, StatusCode::OK);
    assert!(with_session.headers.get("mcp-session-id").is_none());
}

#[tokio::test]
async fn legacy_requests_are_unchanged_beside_modern_ones() {
    let server = spawn(app()).await;

    let modern = server.call_modern("server/discover", json!({}), &[]).await;
    let legacy = server
        .call("initialize", initialize_params("2025-11-25"))
        .await;
    let ping = server.post_raw(PING, &[JSON]).await;

    assert_eq!(modern.status, StatusCode::OK);
    assert_eq!(legacy.json["result"]["protocolVersion"], "2025-11-25");
    assert!(legacy.json["result"].get("resultType").is_none());
    assert_eq!(ping.json, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
}
