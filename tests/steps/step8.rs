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

#[tokio::test]
async fn both_eras_get_the_same_challenges() {
    let server = spawn(app(8)).await;
    let bob = format!(
        "Bearer {}",
        signed(&claims("mcp:read mcp:prompts", &["user"], json!({})))
    );
    let call = json!({"name": "echo", "arguments": {"message": "x"}});
    let legacy_body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}).to_string();
    let anonymous = [("content-type", "application/json")];
    let as_bob = [
        ("content-type", "application/json"),
        ("authorization", bob.as_str()),
    ];

    let legacy_anonymous = server.post_raw(legacy_body.clone(), &anonymous).await;
    let modern_anonymous = server.call_modern("tools/call", call.clone(), &[]).await;
    let legacy_bob = server.post_raw(legacy_body, &as_bob).await;
    let modern_bob = server
        .call_modern("tools/call", call.clone(), &[("authorization", &bob)])
        .await;
    let modern_list = server
        .call_modern("tools/list", json!({}), &[("authorization", &bob)])
        .await;

    assert_eq!(legacy_anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(modern_anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        modern_anonymous.header("www-authenticate"),
        legacy_anonymous.header("www-authenticate")
    );
    assert_eq!(legacy_bob.status, StatusCode::FORBIDDEN);
    assert_eq!(modern_bob.status, StatusCode::FORBIDDEN);
    assert_eq!(
        modern_bob.header("www-authenticate"),
        legacy_bob.header("www-authenticate")
    );
    assert!(
        modern_bob
            .header("www-authenticate")
            .starts_with("Bearer error=\"insufficient_scope\"")
    );
    assert_eq!(modern_bob.json["error"], legacy_bob.json["error"]);
    assert_eq!(modern_list.status, StatusCode::OK);
    assert_eq!(modern_list.json["result"]["cacheScope"], "private");
}
