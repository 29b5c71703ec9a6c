//! Step 5: minting demo access tokens offline (what `generate-token` does), and reading them back.
//!
//! Tokens are RS256 JWTs (RFC 7519/7515) with header `{"alg":"RS256","typ":"JWT","kid":<thumbprint>}`
//! and the claims below. Times are UTC seconds since the epoch, taken from the system clock, so the
//! local time zone never shifts them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::keys::{self, SigningKey};

/// The claims `generate-token` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: who minted the token.
    pub iss: String,
    /// Audience: the resource the token is for (the MCP endpoint).
    pub aud: String,
    /// Subject: stable per username.
    pub sub: String,
    /// Display name.
    pub preferred_username: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Granted scopes, space-separated (RFC 6749 §3.3 form).
    pub scope: String,
    /// Roles.
    pub roles: Vec<String>,
}

/// What to mint.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// `preferred_username`, and the seed of `sub`.
    pub username: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Lifetime in seconds (negative: already expired, for tests).
    pub expires_in: i64,
    /// `nbf` offset from now in seconds (0 = now).
    pub not_before: i64,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
}

/// The demo users of `generate-token --demo`: (username, scopes, roles).
pub const DEMO_USERS: [(&str, &[&str], &[&str]); 4] = [
    ("alice", &["mcp:read", "mcp:tools"], &["user"]),
    ("bob", &["mcp:read", "mcp:prompts"], &["user"]),
    (
        "admin",
        &["mcp:read", "mcp:tools", "mcp:prompts"],
        &["user", "admin"],
    ),
    ("guest", &[], &["user"]),
];

impl TokenSpec {
    /// One of [`DEMO_USERS`] with its scopes and roles, valid for an hour from now.
    pub fn demo(username: &str, issuer: &str, audience: &str) -> Option<Self> {
        let (name, scopes, roles) = DEMO_USERS.iter().find(|(name, _, _)| *name == username)?;
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Some(Self {
            username: name.to_string(),
            scopes: owned(scopes),
            roles: owned(roles),
            expires_in: 3600,
            not_before: 0,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }
}

/// Seconds since the Unix epoch (UTC).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A `sub` derived from the username: stable, opaque, and not the username itself.
pub fn subject_for(username: &str) -> String {
    let digest = keys::sha256_b64url(format!("mcp-auth-steps/sub/{username}").as_bytes());
    format!("local-{}", &digest[..22])
}

/// Builds the claims for `spec` at time `now`.
pub fn claims(spec: &TokenSpec, now: i64) -> Claims {
    Claims {
        iss: spec.issuer.clone(),
        aud: spec.audience.clone(),
        sub: subject_for(&spec.username),
        preferred_username: spec.username.clone(),
        iat: now,
        nbf: now + spec.not_before,
        exp: now + spec.expires_in,
        jti: URL_SAFE_NO_PAD.encode(keys::random_bytes(16)),
        scope: spec.scopes.join(" "),
        roles: spec.roles.clone(),
    }
}

/// Signs any claims with `key` (RS256, `typ: JWT`, `kid` = the key's thumbprint).
pub fn sign<T: Serialize>(key: &SigningKey, claims: &T) -> Result<String, String> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding_key).map_err(|e| e.to_string())
}

/// Mints a token for `spec` now.
pub fn mint(key: &SigningKey, spec: &TokenSpec) -> Result<(String, Claims), String> {
    let claims = claims(spec, now());
    Ok((sign(key, &claims)?, claims))
}

/// Shown in `generate-token`'s summary; written for the request log (step 1), reused here.
pub use crate::http::request_log::utc_string;

/// Parses `30s`, `15m`, `1h`, `2d` (or plain seconds), optionally negative, into seconds.
pub fn parse_duration(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let bad = || format!("{raw:?} is not a duration: use e.g. 30s, 15m, 1h, 2d or -1h");
    let amount: i64 = digits.parse().map_err(|_| bad())?;
    let unit_seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let seconds = amount
        .checked_mul(unit_seconds)
        .filter(|s| *s <= 366 * 86_400)
        .ok_or_else(bad)?;
    Ok(if negative { -seconds } else { seconds })
}

/// Decodes a JWT's header and claims **without verifying anything** (a learning aid).
pub fn decode_unverified(token: &str) -> Result<(Value, Value), String> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a JWT has three dot-separated parts".into());
    };
    let part = |b64: &str, what: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|e| format!("{what} is not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{what} is not JSON: {e}"))
    };
    Ok((part(header, "header")?, part(payload, "payload")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("-1h"), Ok(-3600));
        assert_eq!(parse_duration("90"), Ok(90));
        for bad in ["", "h", "1w", "1.5h", "--1h", "1 h", "9999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(utc_string(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_string(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_string(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(utc_string(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn demo_specs_come_from_the_demo_table() {
        let bob = TokenSpec::demo("bob", "http://i", "http://i/mcp").unwrap();
        assert_eq!(bob.scopes, vec!["mcp:read", "mcp:prompts"]);
        assert_eq!(
            (bob.roles.clone(), bob.expires_in),
            (vec!["user".to_string()], 3600)
        );
        assert!(TokenSpec::demo("mallory", "http://i", "http://i/mcp").is_none());
    }

    #[test]
    fn subjects_are_stable_and_distinct() {
        assert_eq!(subject_for("alice"), subject_for("alice"));
        assert_ne!(subject_for("alice"), subject_for("bob"));
        assert!(subject_for("alice").starts_with("local-"));
    }

    #[test]
    fn claims_follow_the_spec() {
        let spec = TokenSpec {
            username: "alice".into(),
            scopes: vec!["mcp:read".into(), "mcp:tools".into()],
            roles: vec!["user".into()],
            expires_in: 3600,
            not_before: 0,
            issuer: "http://localhost:9000".into(),
            audience: "http://localhost:9000/mcp".into(),
        };
        let c = claims(&spec, 1_000);
        assert_eq!((c.iat, c.nbf, c.exp), (1_000, 1_000, 4_600));
        assert_eq!(c.scope, "mcp:read mcp:tools");
        assert_ne!(claims(&spec, 1_000).jti, c.jti);
    }

    #[test]
    fn decode_needs_three_parts() {
        assert!(decode_unverified("a.b").is_err());
        assert!(decode_unverified("a.b.c.d").is_err());
        let (h, p) = decode_unverified("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.").unwrap();
        assert_eq!(h["alg"], "none");
        assert_eq!(p["sub"], "x");
    }
}
