//! What step 11 reads from an authorization server's token endpoint, on any bytes: a token
//! response (`client::token_endpoint::TokenResponse::from_body` and its `check`) and the token exchange's
//! ID-JAG answer (`client::agent_grant::id_jag_from`). What must hold: an accepted answer's
//! token is what the JSON holds, non-empty and within the size and character rules the client
//! enforces before it stores or sends a token.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::client::agent_grant::id_jag_from;
use mcp_auth_steps::client::oauth_syntax::MAX_EXPIRES_IN_SECS;
use mcp_auth_steps::client::token_endpoint::TokenResponse;
use serde_json::Value;

/// An access token is sent as `Authorization: Bearer <token>`: RFC 6750 §2.1's b64token,
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn header_safe(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
}

/// A refresh token is RFC 6749 A.17's `1*VSCHAR` (%x20-7E).
fn vschar(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let json = serde_json::from_slice::<Value>(data).ok();
    if let Ok(answer) = TokenResponse::from_body(data) {
        if answer.check().is_ok() {
            let json = json.as_ref().expect("parsed as a token response, so JSON");
            assert_eq!(json["access_token"], answer.access_token.as_str());
            assert!(
                header_safe(&answer.access_token),
                "access token {:?}",
                answer.access_token
            );
            if let Some(refresh) = &answer.refresh_token {
                assert!(vschar(refresh), "refresh token {refresh:?}");
            }
            assert!(answer.expires_in.is_none_or(|s| s <= MAX_EXPIRES_IN_SECS));
        }
    }
    if let Ok(jag) = id_jag_from(data) {
        let json = json
            .as_ref()
            .expect("an ID-JAG was read from bytes that are not JSON");
        assert_eq!(json["access_token"], jag.as_str());
        assert_eq!(
            json["issued_token_type"],
            "urn:ietf:params:oauth:token-type:id-jag"
        );
        assert!(header_safe(&jag), "ID-JAG {jag:?}");
    }
});
