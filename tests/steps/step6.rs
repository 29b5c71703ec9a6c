//! Step 6: the bearer middleware in front of `/mcp` — the bad-token corpus over real HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::auth_fixture::{self, app, claims, forged, signed};
use crate::{Reply, spawn};

fn ping() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string()
}

async fn with_auth(server: &crate::TestServer, authorization: &str) -> Reply {
    server
        .post_raw(
            ping(),
            &[
                ("content-type", "application/json"),
                ("authorization", authorization),
            ],
        )
        .await
}

/// (case, Authorization value, status, error code in the challenge, description fragment)
fn corpus() -> Vec<(
    &'static str,
    String,
    u16,
    Option<&'static str>,
    &'static str,
)> {
    let good = signed(&claims("mcp:read", &["user"], json!({})));
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let tampered_payload = {
        let evil = claims("mcp:read mcp:tools mcp:prompts", &["admin"], json!({}));
        let forged = forged(
            json!({"alg": "RS256", "typ": "JWT", "kid": auth_fixture::key().kid}),
            &evil,
            b"x",
        );
        format!(
            "{}.{}.{}",
            parts[0],
            forged.split('.').nth(1).unwrap(),
            parts[2]
        )
    };
    let tampered_signature = {
        let mut sig = parts[2].clone().into_bytes();
        sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
        parts[2] = String::from_utf8(sig).unwrap();
        parts.join(".")
    };
    let kid = auth_fixture::key().kid.clone();
    let c = claims("mcp:read", &["user"], json!({}));
    let now = mcp_auth_steps::auth::token::now();
    vec![
        ("Basic scheme", "Basic dXNlcjpwYXNz".into(), 401, None, ""),
        (
            "Bearer without token",
            "Bearer".into(),
            400,
            Some("invalid_request"),
            "without a token",
        ),
        (
            "extra parts",
            format!("Bearer {good} extra"),
            400,
            Some("invalid_request"),
            "extra parts",
        ),
        (
            "garbage",
            "Bearer not-a-jwt".into(),
            401,
            Some("invalid_token"),
            "malformed token",
        ),
        (
            "truncated",
            // 21 characters off the 342-character signature leave 321: a base64url length no
            // encoding has (321 mod 4 = 1), so it is malformed whatever the random signature was.
            // (20 off left a decodable length 1 time in 16, depending on the last bits.)
            format!("Bearer {}", &good[..good.len() - 21]),
            401,
            Some("invalid_token"),
            "malformed token",
        ),
        (
            "tampered payload",
            format!("Bearer {tampered_payload}"),
            401,
            Some("invalid_token"),
            "signature verification failed",
        ),
        (
            "tampered signature",
            format!("Bearer {tampered_signature}"),
            401,
            Some("invalid_token"),
            "signature verification failed",
        ),
        (
            "alg none",
            format!(
                "Bearer {}",
                forged(json!({"alg": "none", "kid": kid}), &c, b"")
            ),
            401,
            Some("invalid_token"),
            "algorithm none is not accepted",
        ),
        (
            "alg HS256",
            format!(
                "Bearer {}",
                forged(json!({"alg": "HS256", "kid": kid}), &c, b"hmac")
            ),
            401,
            Some("invalid_token"),
            "algorithm HS256 is not accepted",
        ),
        (
            "unknown kid",
            format!(
                "Bearer {}",
                forged(json!({"alg": "RS256", "kid": "other"}), &c, b"sig")
            ),
            401,
            Some("invalid_token"),
            "unknown signing key",
        ),
        (
            "no kid",
            format!("Bearer {}", forged(json!({"alg": "RS256"}), &c, b"sig")),
            401,
            Some("invalid_token"),
            "token has no kid",
        ),
        (
            "expired",
            format!(
                "Bearer {}",
                signed(&claims("mcp:read", &[], json!({"exp": now - 3600})))
            ),
            401,
            Some("invalid_token"),
            "token expired",
        ),
        (
            "nbf in the future",
            format!(
                "Bearer {}",
                signed(&claims("mcp:read", &[], json!({"nbf": now + 600})))
            ),
            401,
            Some("invalid_token"),
            "not valid yet",
        ),
        (
            "iat in the future",
            format!(
                "Bearer {}",
                signed(&claims("mcp:read", &[], json!({"iat": now + 600})))
            ),
            401,
            Some("invalid_token"),
            "issued in the future",
        ),
        (
            "wrong iss",
            format!(
                "Bearer {}",
                signed(&claims("mcp:read", &[], json!({"iss": "http://evil"})))
            ),
            401,
            Some("invalid_token"),
            "unexpected issuer",
        ),
        (
            "wrong aud",
            format!(
                "Bearer {}",
                signed(&claims(
                    "mcp:read",
                    &[],
                    json!({"aud": "http://localhost:9000/other"})
                ))
            ),
            401,
            Some("invalid_token"),
            "unexpected audience",
        ),
        (
            "no exp",
            format!(
                "Bearer {}",
                signed(&claims("mcp:read", &[], json!({"exp": null})))
            ),
            401,
            Some("invalid_token"),
            "missing required claim exp",
        ),
        (
            "100 KB",
            format!("Bearer {}", "a".repeat(100_000)),
            401,
            Some("invalid_token"),
            "token too large",
        ),
    ]
}

#[tokio::test]
async fn every_bad_token_gets_its_own_status_and_challenge() {
    let server = spawn(app(6)).await;
    for (case, authorization, status, error, description) in corpus() {
        let reply = with_auth(&server, &authorization).await;
        assert_eq!(reply.status.as_u16(), status, "{case}: {}", reply.text);
        let challenge = reply.header("www-authenticate").to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"mcp\""),
            "{case}: {challenge}"
        );
        match error {
            Some(code) => {
                assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{case}: {challenge}"
                );
                assert_eq!(reply.json["error"], code, "{case}");
                let said = reply.json["error_description"].as_str().unwrap_or("");
                assert!(
                    said.contains(description),
                    "{case}: {said:?} lacks {description:?}"
                );
            }
            None => assert!(!challenge.contains("error="), "{case}: {challenge}"),
        }
        assert!(
            !challenge.contains("resource_metadata"),
            "{case}: step 6 has no metadata yet"
        );
        let token = authorization.split(' ').nth(1).unwrap_or("");
        if token.len() > 8 {
            assert!(
                !reply.text.contains(token),
                "{case}: the body echoes the token"
            );
        }
    }
}

#[tokio::test]
async fn no_header_and_query_string_tokens_get_a_plain_challenge() {
    let server = spawn(app(6)).await;
    let good = signed(&claims("mcp:read", &[], json!({})));
    let bare = server
        .post_raw(ping(), &[("content-type", "application/json")])
        .await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bare.header("www-authenticate"), "Bearer realm=\"mcp\"");
    let query = server
        .request(
            "POST",
            &format!("/mcp?access_token={good}"),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(query.status, StatusCode::UNAUTHORIZED);
    assert_eq!(query.header("www-authenticate"), "Bearer realm=\"mcp\"");
}

#[tokio::test]
async fn a_valid_token_reaches_whoami_and_an_audience_list_is_accepted() {
    let server = spawn(app(6)).await;
    let token = signed(&claims(
        "mcp:read  mcp:tools",
        &["user"],
        json!({"aud": ["http://other", auth_fixture::AUDIENCE]}),
    ));
    let reply = server
        .post_raw(
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "whoami"}}).to_string(),
            &[("content-type", "application/json"), ("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let who: &Value = &reply.json["result"]["structuredContent"];
    assert_eq!(who["username"], "tester");
    assert_eq!(who["subject"], "local-test");
    assert_eq!(who["scopes"], json!(["mcp:read", "mcp:tools"]));
    assert_eq!(who["roles"], json!(["user"]));
    let health = server.request("GET", "/health", &[]).await;
    assert_eq!(health.json["auth_required"], true);
    assert_eq!(
        server
            .request("GET", "/.well-known/jwks.json", &[])
            .await
            .status,
        StatusCode::OK
    );
}
