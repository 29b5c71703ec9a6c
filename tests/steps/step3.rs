//! Step 3: the catalog is described (`tools/list`, `prompts/list`) but not run, composed as
//! `src/bin/step3.rs` composes it.

use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::service::HttpService;
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::endpoint;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use reqwest::StatusCode;
use serde_json::json;

use crate::{contains_null, initialize_params, spawn};

fn app() -> impl HttpService {
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step3",
        "Step 3: tools and prompts",
    ))
    .with_catalog(Catalog::echo());
    let app = Health::new(3).router().merge(endpoint::router(mcp));
    OriginGuard::default().protect(app)
}

#[tokio::test]
async fn initialize_declares_tools_and_prompts_without_list_changes() {
    let server = spawn(app()).await;

    let reply = server
        .call("initialize", initialize_params("2025-11-25"))
        .await;

    assert_eq!(
        reply.json["result"]["capabilities"],
        json!({"tools": {"listChanged": false}, "prompts": {"listChanged": false}})
    );
}

#[tokio::test]
async fn tools_list_describes_echo_completely_and_without_nulls() {
    let server = spawn(app()).await;

    let reply = server.call("tools/list", json!({})).await;

    assert_eq!(reply.status, StatusCode::OK);
    let result = &reply.json["result"];
    assert!(!contains_null(result), "{result}");
    assert!(result.get("nextCursor").is_none());
    let tools = result["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    let echo = &tools[0];
    assert_eq!(echo["name"], "echo");
    assert_eq!(echo["title"], "Echo");
    assert!(echo["description"].as_str().is_some_and(|d| !d.is_empty()));
    let input = &echo["inputSchema"];
    assert_eq!(
        input["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(input["type"], "object");
    assert_eq!(input["required"], json!(["message"]));
    assert_eq!(input["additionalProperties"], false);
    assert_eq!(input["properties"]["message"]["type"], "string");
    let count = &input["properties"]["repeat_count"];
    assert_eq!(
        (
            &count["type"],
            &count["minimum"],
            &count["maximum"],
            &count["default"]
        ),
        (&json!("integer"), &json!(1), &json!(10), &json!(1))
    );
    assert_eq!(echo["outputSchema"]["properties"]["text"]["type"], "string");
    assert_eq!(
        echo["annotations"],
        json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
    );
}

#[tokio::test]
async fn prompts_list_describes_echo_prompt() {
    let server = spawn(app()).await;

    let reply = server
        .call("prompts/list", json!({"cursor": "ignored"}))
        .await;

    let prompts = reply.json["result"]["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0]["name"], "echo_prompt");
    assert!(prompts[0]["description"].is_string());
    assert_eq!(prompts[0]["arguments"][0]["name"], "message");
    assert_eq!(prompts[0]["arguments"][0]["required"], true);
}

#[tokio::test]
async fn a_non_string_cursor_is_invalid_params() {
    let server = spawn(app()).await;

    let reply = server.call("tools/list", json!({"cursor": 3})).await;

    assert_eq!(reply.json["error"]["code"], -32602);
}

#[tokio::test]
async fn calling_is_not_yet_possible() {
    let server = spawn(app()).await;

    let call = server
        .call(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    let get = server
        .call(
            "prompts/get",
            json!({"name": "echo_prompt", "arguments": {"message": "hi"}}),
        )
        .await;

    assert_eq!(call.json["error"]["code"], -32601);
    assert_eq!(get.json["error"]["code"], -32601);
}
