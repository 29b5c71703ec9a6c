//! Step 11: what a token, a client id or a secret from an authorization server may look like
//! before this client keeps it or sends it back (RFC 6749 Appendix A, RFC 6750 §2.1), and the
//! longest lifetime it believes. Used for fresh token and registration responses and for what is
//! read back from the state directory.

/// The longest access or refresh token this client keeps. Keycloak's are 1–3 KB; an answer
/// beyond this is not a token a server could take back in a header.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The longest `expires_in` accepted: ten years. Beyond it the value is no lifetime but a fault
/// (or a probe for an overflow), and the response is refused.
pub const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 24 * 3600;

/// Where `value` first leaves `allowed`: `character N is U+XXXX` (1-based), for an error message
/// that names the fault without showing the secret around it.
fn first_bad(value: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    value
        .chars()
        .enumerate()
        .find(|&(_, c)| !allowed(c))
        .map(|(i, c)| format!("character {} is U+{:04X}", i + 1, c as u32))
}

/// RFC 6750 §2.1: the access token travels as `Authorization: Bearer <b64token>`, so it must be
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (which RFC 6749 Appendix A.12's
/// `1*VSCHAR` contains). A token with a space, a CR/LF or an ESC could not be sent, or would
/// split or smuggle a header.
pub fn check_access_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("access_token is empty".into());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "access_token is {} bytes, more than the {MAX_TOKEN_BYTES} this client keeps",
            token.len()
        ));
    }
    let body = token.trim_end_matches('=');
    let b64 = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    match first_bad(body, b64).or_else(|| body.is_empty().then(|| "it is only padding".into())) {
        Some(why) => Err(format!(
            "access_token is not an RFC 6750 b64token ({why}), so it cannot be sent as a Bearer credential"
        )),
        None => Ok(()),
    }
}

/// RFC 6749 Appendix A: `1*VSCHAR` (%x20-7E), the syntax of a refresh token (A.17), and of a
/// client id and secret (A.1, A.2; empty ones are refused before this).
pub fn check_vschar(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "{name} is {} bytes, more than the {MAX_TOKEN_BYTES} this client keeps",
            value.len()
        ));
    }
    match first_bad(value, |c| (' '..='~').contains(&c)) {
        _ if value.is_empty() => Err(format!("{name} is empty")),
        Some(why) => Err(format!("{name} is not RFC 6749 1*VSCHAR ({why})")),
        None => Ok(()),
    }
}

/// RFC 6749 Appendix A.17: `refresh-token = 1*VSCHAR`.
pub fn check_refresh_token(token: &str) -> Result<(), String> {
    check_vschar("refresh_token", token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_must_be_b64token() {
        for good in ["eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "abc-._~+/==", "x"] {
            assert_eq!(check_access_token(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "access_token is empty"),
            (
                "abc\r\nX-Evil: 1",
                "access_token is not an RFC 6750 b64token (character 4 is U+000D), so it cannot be sent as a Bearer credential",
            ),
            (
                "abc\u{1b}[2J",
                "access_token is not an RFC 6750 b64token (character 4 is U+001B), so it cannot be sent as a Bearer credential",
            ),
            (
                "two words",
                "access_token is not an RFC 6750 b64token (character 4 is U+0020), so it cannot be sent as a Bearer credential",
            ),
            (
                "tök",
                "access_token is not an RFC 6750 b64token (character 2 is U+00F6), so it cannot be sent as a Bearer credential",
            ),
            (
                "a=b",
                "access_token is not an RFC 6750 b64token (character 2 is U+003D), so it cannot be sent as a Bearer credential",
            ),
            (
                "==",
                "access_token is not an RFC 6750 b64token (it is only padding), so it cannot be sent as a Bearer credential",
            ),
        ] {
            assert_eq!(check_access_token(bad), Err(why.to_string()), "{bad:?}");
        }
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            check_access_token(&long),
            Err("access_token is 16385 bytes, more than the 16384 this client keeps".into())
        );
    }

    #[test]
    fn refresh_tokens_and_client_credentials_must_be_vschar() {
        assert_eq!(
            check_vschar("client_id", "fake\u{1b}[2J"),
            Err("client_id is not RFC 6749 1*VSCHAR (character 5 is U+001B)".into())
        );
        assert_eq!(check_vschar("client_id", "my-client 1"), Ok(()));
        assert_eq!(check_refresh_token("a b~!"), Ok(()));
        assert_eq!(
            check_refresh_token(""),
            Err("refresh_token is empty".into())
        );
        assert_eq!(
            check_refresh_token("r\nx"),
            Err("refresh_token is not RFC 6749 1*VSCHAR (character 2 is U+000A)".into())
        );
    }
}
