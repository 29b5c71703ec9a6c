//! Step 4: dispatch — `tools/call` and `prompts/get` run, composed as `src/bin/step4.rs`
//! composes them.

use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::service::HttpService;
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::endpoint;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{contains_null, initialize_params, spawn};

fn app() -> impl HttpService {
    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step4", "Step 4: dispatch"))
        .with_catalog(Catalog::echo())
        .with_dispatch();
    let app = Health::new(4).router().merge(endpoint::router(mcp));
    OriginGuard::default().protect(app)
}

fn echo(arguments: Value) -> Value {
    json!({"name": "echo", "arguments": arguments})
}

#[tokio::test]
async fn echo_returns_text_and_structured_content() {
    let server = spawn(app()).await;

    let reply = server
        .call(
            "tools/call",
            echo(json!({"message": "ab", "repeat_count": 3})),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json["result"],
        json!({
            "content": [{"type": "text", "text": "ababab"}],
            "structuredContent": {"text": "ababab"},
            "isError": false
        })
    );
}

#[tokio::test]
async fn repeat_count_defaults_to_one() {
    let server = spawn(app()).await;

    let reply = server
        .call("tools/call", echo(json!({"message": "hi"})))
        .await;

    assert_eq!(reply.json["result"]["content"][0]["text"], "hi");
    assert_eq!(reply.json["result"]["structuredContent"]["text"], "hi");
}

#[tokio::test]
async fn bad_arguments_come_back_as_readable_tool_errors() {
    let server = spawn(app()).await;
    let cases = [
        (json!({}), "\"message\" is required"),
        (
            json!({"message": "x", "repeat_count": 0}),
            "between 1 and 10, not 0",
        ),
        (
            json!({"message": "x", "repeat_count": 11}),
            "between 1 and 10, not 11",
        ),
        (
            json!({"message": 5}),
            "\"message\" must be a string, not a number",
        ),
        (
            json!({"message": "x", "repeat_count": "2"}),
            "\"repeat_count\" must be an integer, not a string",
        ),
        (
            json!({"message": "x", "loud": true}),
            "unknown argument \"loud\"",
        ),
    ];

    for (arguments, why) in cases {
        let reply = server.call("tools/call", echo(arguments.clone())).await;

        assert_eq!(reply.status, StatusCode::OK, "{arguments}");
        assert!(reply.json.get("error").is_none(), "{arguments}");
        let result = &reply.json["result"];
        assert_eq!(result["isError"], true, "{arguments}");
        assert!(result.get("structuredContent").is_none(), "{arguments}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("Invalid arguments for echo: ") && text.contains(why),
            "{arguments}: {text}"
        );
    }
}

#[tokio::test]
async fn arguments_may_be_absent() {
    let server = spawn(app()).await;

    let reply = server.call("tools/call", json!({"name": "echo"})).await;

    // Absent arguments are `{}`: a tool error about `message`, not a protocol error.
    assert_eq!(reply.json["result"]["isError"], true);
}

#[tokio::test]
async fn unknown_tools_and_a_missing_name_are_invalid_params() {
    let server = spawn(app()).await;

    let unknown = server
        .call("tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    let nameless = server
        .call("tools/call", json!({"arguments": {"message": "x"}}))
        .await;

    assert_eq!(unknown.json["error"]["code"], -32602);
    assert_eq!(unknown.json["error"]["message"], "Unknown tool: nope");
    assert_eq!(nameless.json["error"]["code"], -32602);
    assert_eq!(nameless.json["id"], 1);
}

#[tokio::test]
async fn echo_prompt_renders_one_user_message() {
    let server = spawn(app()).await;

    let reply = server
        .call(
            "prompts/get",
            json!({"name": "echo_prompt", "arguments": {"message": "hi"}}),
        )
        .await;

    let result = &reply.json["result"];
    assert!(!contains_null(result));
    assert!(result["description"].is_string());
    assert_eq!(
        result["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Please echo: hi"}}])
    );
}

#[tokio::test]
async fn prompt_errors_are_invalid_params() {
    let server = spawn(app()).await;

    let unknown = server
        .call(
            "prompts/get",
            json!({"name": "nope", "arguments": {"message": "hi"}}),
        )
        .await;
    let missing = server
        .call("prompts/get", json!({"name": "echo_prompt"}))
        .await;

    assert_eq!(unknown.json["error"]["code"], -32602);
    assert_eq!(missing.json["error"]["code"], -32602);
    assert_eq!(
        missing.json["error"]["message"],
        "echo_prompt: argument \"message\" is required"
    );
}

#[tokio::test]
async fn a_client_session_from_initialize_to_tools_call() {
    // Arrange: what an MCP client sends after negotiating 2025-06-18.
    let server = spawn(app()).await;
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
        ("origin", "http://localhost:6274"),
    ];
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("2025-06-18")});

    // Act
    let init = server.post_mcp(initialize).await;
    let initialized = server
        .post_raw(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &headers,
        )
        .await;
    let list = server
        .post_raw(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            &headers,
        )
        .await;
    let call = server
        .post_raw(
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"ok"}}}"#,
            &headers,
        )
        .await;

    // Assert
    assert_eq!(init.json["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(initialized.status, StatusCode::ACCEPTED);
    assert_eq!(initialized.text, "");
    assert_eq!(list.json["result"]["tools"][0]["name"], "echo");
    assert_eq!(call.json["id"], 3);
    assert_eq!(call.json["result"]["structuredContent"]["text"], "ok");
}

#[tokio::test]
async fn the_guard_stops_a_rebinding_page_from_calling_tools() {
    let server = spawn(app()).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}"#;

    let rebound = server
        .post_raw(
            body,
            &[
                ("content-type", "application/json"),
                ("host", "attacker.example:9000"),
            ],
        )
        .await;

    assert_eq!(rebound.status, StatusCode::FORBIDDEN);
    assert!(rebound.json.get("result").is_none());
    assert!(
        rebound.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attacker.example:9000")
    );
}

#[tokio::test]
async fn modern_tools_call_mirrors_the_name_in_mcp_name() {
    let server = spawn(app()).await;
    let call = echo(json!({"message": "hi", "repeat_count": 2}));

    let plain = server.call_modern("tools/call", call.clone(), &[]).await;
    let prompt = server
        .call_modern(
            "prompts/get",
            json!({"name": "echo_prompt", "arguments": {"message": "m"}}),
            &[],
        )
        .await;

    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.json["result"]["content"][0]["text"], "hihi");
    assert_eq!(plain.json["result"]["structuredContent"]["text"], "hihi");
    assert_eq!(plain.json["result"]["isError"], false);
    assert_eq!(plain.json["result"]["resultType"], "complete");
    assert_eq!(
        plain.json["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-auth-steps-step4"
    );
    assert!(plain.json["result"].get("cacheScope").is_none());
    assert_eq!(prompt.status, StatusCode::OK);
    assert_eq!(
        prompt.json["result"]["messages"][0]["content"]["text"],
        "Please echo: m"
    );
}

#[tokio::test]
async fn modern_mcp_name_is_required_equal_and_base64_decoded() {
    let server = spawn(app()).await;
    let body = |name: &str| {
        crate::modern_body(
            "tools/call",
            json!({"name": name, "arguments": {"message": "x"}}),
        )
        .to_string()
    };
    let headers = |name: Option<&'static str>| {
        let mut h = vec![
            ("content-type", "application/json"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
        ];
        if let Some(name) = name {
            h.push(("mcp-name", name));
        }
        h
    };

    let missing = server.post_raw(body("echo"), &headers(None)).await;
    let other = server
        .post_raw(body("echo"), &headers(Some("whoami")))
        .await;
    // "echo" as base64: the server decodes the sentinel before comparing.
    let encoded = server
        .post_raw(body("echo"), &headers(Some("=?base64?ZWNobw==?=")))
        .await;
    let bad_base64 = server
        .post_raw(body("echo"), &headers(Some("=?base64?ZWNobw?=")))
        .await;
    let unknown = server.post_raw(body("nope"), &headers(Some("nope"))).await;
    let schema = server
        .call_modern("tools/call", echo(json!({"repeat_count": 11})), &[])
        .await;

    for (reply, what) in [
        (&missing, "missing"),
        (&other, "other"),
        (&bad_base64, "bad base64"),
    ] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(reply.json["error"]["code"], -32020, "{what}");
    }
    assert!(
        missing.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mcp-Name header is required")
    );
    assert_eq!(encoded.status, StatusCode::OK);
    assert_eq!(encoded.json["result"]["content"][0]["text"], "x");
    // The method's own errors keep their status and code.
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.json["error"]["code"], -32602);
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.json["result"]["isError"], true);
}

#[tokio::test]
async fn modern_lists_carry_cache_hints() {
    let server = spawn(app()).await;

    let tools = server.call_modern("tools/list", json!({}), &[]).await;
    let prompts = server.call_modern("prompts/list", json!({}), &[]).await;

    for reply in [&tools, &prompts] {
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json["result"]["ttlMs"], 3_600_000);
        assert_eq!(reply.json["result"]["cacheScope"], "public");
        assert_eq!(reply.json["result"]["resultType"], "complete");
    }
    assert_eq!(tools.json["result"]["tools"][0]["name"], "echo");
    assert_eq!(prompts.json["result"]["prompts"][0]["name"], "echo_prompt");
}
