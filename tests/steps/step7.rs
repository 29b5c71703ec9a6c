//! Step 7: discovery metadata, challenges that point at it, and CORS.

use reqwest::StatusCode;
use serde_json::json;

use crate::auth_fixture::{ISSUER, app};
use crate::spawn;

#[tokio::test]
async fn a_bare_401_leads_to_the_metadata_and_the_issuer() {
    let server = spawn(app(7)).await;
    let bare = server
        .post_raw("{}", &[("content-type", "application/json")])
        .await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.header("www-authenticate"),
        "Bearer realm=\"mcp\", resource_metadata=\"http://localhost:9000/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:read mcp:tools mcp:prompts\""
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let prm = server.request("GET", path, &[]).await;
        assert_eq!(prm.status, StatusCode::OK, "{path}");
        assert_eq!(
            prm.json,
            json!({
                "resource": "http://localhost:9000/mcp",
                "authorization_servers": [ISSUER],
                "scopes_supported": ["mcp:read", "mcp:tools", "mcp:prompts"],
                "bearer_methods_supported": ["header"],
                "resource_name": "mcp-auth-steps echo server"
            }),
            "{path}"
        );
    }
    let asm = server
        .request("GET", "/.well-known/oauth-authorization-server", &[])
        .await;
    assert_eq!(asm.status, StatusCode::OK);
    assert_eq!(asm.json["issuer"], ISSUER);
    assert_eq!(
        asm.json["jwks_uri"],
        "http://localhost:9000/.well-known/jwks.json"
    );
    for absent in [
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
    ] {
        assert!(
            asm.json.get(absent).is_none(),
            "{absent} must not be advertised"
        );
    }
}

#[tokio::test]
async fn browser_preflights_are_answered_without_a_token_for_allowed_origins_only() {
    let server = spawn(app(7)).await;
    let preflight = [
        ("origin", "http://localhost:6274"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization,content-type,mcp-protocol-version",
        ),
    ];
    let ok = server.request("OPTIONS", "/mcp", &preflight).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        "http://localhost:6274"
    );
    assert!(
        ok.header("access-control-allow-headers")
            .contains("authorization")
    );
    let evil = server
        .request(
            "OPTIONS",
            "/mcp",
            &[
                ("origin", "http://evil.example"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    let unauthorized = server
        .post_raw(
            "{}",
            &[
                ("content-type", "application/json"),
                ("origin", "http://localhost:6274"),
            ],
        )
        .await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unauthorized.header("access-control-expose-headers"),
        "www-authenticate"
    );
}
