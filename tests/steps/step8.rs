//! Step 8: the policy — the demo matrix over real HTTP, with the 403 challenge and the request id.

use reqwest::StatusCode;
use serde_json::json;

use crate::auth_fixture::{app, claims, signed};
use crate::spawn;

const CALLS: [(&str, &str); 4] = [
    ("tools/list", "{}"),
    (
        "tools/call",
        r#"{"name":"echo","arguments":{"message":"x"}}"#,
    ),
    ("prompts/list", "{}"),
    (
        "prompts/get",
        r#"{"name":"echo_prompt","arguments":{"message":"x"}}"#,
    ),
];
const NEEDED: [&str; 4] = ["mcp:read", "mcp:tools", "mcp:read", "mcp:prompts"];

#[tokio::test]
async fn the_demo_matrix_cell_by_cell() {
    let server = spawn(app(8)).await;
    let users = [
        (
            "alice",
            "mcp:read mcp:tools",
            vec!["user"],
            [true, true, true, false],
        ),
        (
            "bob",
            "mcp:read mcp:prompts",
            vec!["user"],
            [true, false, true, true],
        ),
        (
            "admin",
            "mcp:read mcp:tools mcp:prompts",
            vec!["user", "admin"],
            [true, true, true, true],
        ),
        (
            "admin role only",
            "",
            vec!["admin"],
            [true, true, true, true],
        ),
        ("guest", "", vec!["user"], [false, false, false, false]),
    ];
    let mut id = 100;
    for (who, scope, roles, allowed) in users {
        let token = signed(&claims(scope, &roles, json!({})));
        for (i, (method, params)) in CALLS.iter().enumerate() {
            id += 1;
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
            let reply = server
                .post_raw(
                    body,
                    &[
                        ("content-type", "application/json"),
                        ("authorization", &format!("Bearer {token}")),
                    ],
                )
                .await;
            assert_eq!(reply.json["id"], id, "{who} {method}");
            if allowed[i] {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{who} {method}: {}",
                    reply.text
                );
                assert!(
                    reply.json.get("result").is_some(),
                    "{who} {method}: {}",
                    reply.text
                );
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who} {method}");
                let challenge = reply.header("www-authenticate");
                assert!(
                    challenge.starts_with("Bearer error=\"insufficient_scope\""),
                    "{challenge}"
                );
                assert!(
                    challenge.contains(&format!("scope=\"{}\"", NEEDED[i])),
                    "{who} {method}: {challenge}"
                );
                assert!(challenge.contains("resource_metadata=\"http://localhost:9000/.well-known/oauth-protected-resource/mcp\""));
                assert_eq!(reply.json["error"]["code"], -32003, "{who} {method}");
            }
        }
    }
}

#[tokio::test]
async fn any_valid_token_may_initialize_ping_and_notify() {
    let server = spawn(app(8)).await;
    let guest = format!("Bearer {}", signed(&claims("", &["user"], json!({}))));
    let headers = [
        ("content-type", "application/json"),
        ("authorization", guest.as_str()),
    ];
    let ping = server
        .post_raw(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, &headers)
        .await;
    assert_eq!(
        (ping.status, ping.json["result"].clone()),
        (StatusCode::OK, json!({}))
    );
    let init = server
        .post_raw(
            json!({"jsonrpc":"2.0","id":2,"method":"initialize","params":crate::initialize_params("2025-11-25")}).to_string(),
            &headers,
        )
        .await;
    assert_eq!(init.status, StatusCode::OK);
    let note = server
        .post_raw(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &headers,
        )
        .await;
    assert_eq!(note.status, StatusCode::ACCEPTED);
    assert!(note.text.is_empty());
}
