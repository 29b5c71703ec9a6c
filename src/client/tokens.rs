//! Step 11: the tokens a run obtained, kept for the next run — so that a person logs in once, not
//! at every run.
//!
//! One file per issuer in the state directory (`tokens-<hash>.json`, mode 0600 in a 0700
//! directory, beside the registered client's file), holding the access token with the time it
//! expires and the refresh token when the authorization server issued one. The host uses them in
//! this order before it opens a browser (MCP "Authorization › Token Handling", OAuth 2.1 §4.3):
//! the access token while it is valid; then the refresh token (RFC 6749 §6, with the same
//! `resource`, RFC 8707 §2.2); then a new login. Tokens are only ever reused with the client,
//! issuer and resource they were issued for.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::oauth_syntax::{MAX_EXPIRES_IN_SECS, check_access_token, check_refresh_token};
use crate::client::registration::RegistrationError;
use crate::client::state_dir::{
    StoreError, issuer_file, read_if_present, save_private_json, store_error,
};
use crate::client::token_endpoint::TokenResponse;
use crate::client::trace::redact;

/// An access token this close to its expiry is treated as expired (it could lapse in flight).
pub const EXPIRY_MARGIN_SECS: u64 = 5;

/// The tokens of one authorization, as kept on disk.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The issuer that issued them.
    pub issuer: String,
    /// The client they were issued to.
    pub client_id: String,
    /// The RFC 8707 resource they are for (the PRM's `resource`).
    pub resource: String,
    /// The scope granted (the token response's `scope`, else the scope asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The access token.
    pub access_token: String,
    /// Seconds since the epoch when the access token expires (`None`: the AS did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The refresh token, when one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// For a DPoP-bound token (`token_type` `DPoP`, RFC 9449 §5): the thumbprint of the key it is
    /// bound to (its `cnf.jkt`). Absent: a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .field("access_token", &redact(&self.access_token))
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token.as_deref().map(redact))
            .field("dpop_jkt", &self.dpop_jkt)
            .finish()
    }
}

impl StoredTokens {
    /// The tokens of a token response received at `now` (as bearer tokens: the caller sets
    /// [`Self::dpop_jkt`] for a DPoP-bound one). `previous` is the set a refresh replaced: a response without a new refresh token keeps the old one (RFC 6749 §6), and one
    /// without `scope` keeps the scope (RFC 6749 §5.1: the scope is then the one asked for).
    pub fn from_response(
        issuer: &str,
        client_id: &str,
        resource: &str,
        asked_scope: Option<&str>,
        response: &TokenResponse,
        now: u64,
        previous: Option<&StoredTokens>,
    ) -> Self {
        Self {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            resource: resource.to_string(),
            scope: response
                .scope
                .clone()
                .or_else(|| previous.and_then(|p| p.scope.clone()))
                .or_else(|| asked_scope.map(str::to_string)),
            access_token: response.access_token.clone(),
            expires_at: response.expires_in.map(|s| now.saturating_add(s)),
            refresh_token: response
                .refresh_token
                .clone()
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            dpop_jkt: None,
        }
    }

    /// Seconds the access token has left at `now` (negative: expired that long ago); `None`
    /// when its lifetime is unknown.
    pub fn seconds_left(&self, now: u64) -> Option<i64> {
        self.expires_at.map(|at| {
            let left = i128::from(at) - i128::from(now);
            i64::try_from(left).unwrap_or(if left < 0 { i64::MIN } else { i64::MAX })
        })
    }

    /// The same checks as a fresh token response ([`TokenResponse::check`]), for a set read back from
    /// disk (the file may have been edited, or written by an older version): the tokens' syntax,
    /// and an expiry no further than [`MAX_EXPIRES_IN_SECS`] from `now`.
    pub fn check(&self, now: u64) -> Result<(), String> {
        check_access_token(&self.access_token)?;
        if let Some(refresh) = &self.refresh_token {
            check_refresh_token(refresh)?;
        }
        match self.expires_at {
            Some(at) if at > now.saturating_add(MAX_EXPIRES_IN_SECS) => {
                Err(format!("expires_at {at} is more than ten years ahead"))
            }
            _ => Ok(()),
        }
    }

    /// True while the access token may still be sent: its lifetime is unknown (the server will
    /// say), or it has more than [`EXPIRY_MARGIN_SECS`] left.
    pub fn access_usable(&self, now: u64) -> bool {
        self.seconds_left(now)
            .is_none_or(|left| left > EXPIRY_MARGIN_SECS as i64)
    }

    /// True when these tokens may be used for this client, issuer and resource.
    pub fn fits(&self, issuer: &str, client_id: &str, resource: &str) -> bool {
        self.issuer == issuer && self.client_id == client_id && self.resource == resource
    }
}

/// Tokens kept on disk, one file per issuer.
#[derive(Debug, Clone)]
pub struct TokenStore {
    dir: PathBuf,
}

impl TokenStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file for `issuer`: `tokens-<first 16 characters of base64url(SHA-256(issuer))>.json`.
    pub fn path_for(&self, issuer: &str) -> PathBuf {
        issuer_file(&self.dir, "tokens", issuer)
    }

    /// The tokens kept for exactly `issuer`, if any. A file that is not a token set (or belongs
    /// to another issuer) counts as none; `Err` only for a file that exists but cannot be read.
    pub fn load(&self, issuer: &str) -> Result<Option<StoredTokens>, RegistrationError> {
        let Some(text) = read_if_present(&self.path_for(issuer))? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<StoredTokens>(&text)
            .ok()
            .filter(|t| t.issuer == issuer))
    }

    /// Saves the tokens (directory 0700, file 0600).
    pub fn save(&self, tokens: &StoredTokens) -> Result<PathBuf, RegistrationError> {
        let path = self.path_for(&tokens.issuer);
        save_private_json(&self.dir, &path, tokens)?;
        Ok(path)
    }

    /// Deletes the tokens kept for `issuer` (a refused refresh token is worth nothing).
    pub fn remove(&self, issuer: &str) -> Result<(), RegistrationError> {
        Ok(remove_file(&self.path_for(issuer))?)
    }
}

fn remove_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store_error(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(
        refresh: Option<&str>,
        scope: Option<&str>,
        expires_in: Option<u64>,
    ) -> TokenResponse {
        serde_json::from_value(serde_json::json!({
            "access_token": "access-token-value-1234",
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope,
            "refresh_token": refresh,
        }))
        .unwrap()
    }

    /// The tokens of `response` from issuer `http://as` to client `c` for `http://rs/mcp`.
    fn issued(
        asked: Option<&str>,
        response: &TokenResponse,
        now: u64,
        previous: Option<&StoredTokens>,
    ) -> StoredTokens {
        StoredTokens::from_response(
            "http://as",
            "c",
            "http://rs/mcp",
            asked,
            response,
            now,
            previous,
        )
    }

    #[test]
    fn expiry_and_margin() {
        let t = issued(None, &response(None, None, Some(300)), 1_000, None);
        assert_eq!(t.expires_at, Some(1_300));
        assert_eq!(t.seconds_left(1_010), Some(290));
        assert!(t.access_usable(1_294));
        assert!(!t.access_usable(1_295), "5 s margin");
        assert_eq!(t.seconds_left(1_312), Some(-12));
        let unknown = issued(None, &response(None, None, None), 1_000, None);
        assert!(
            unknown.access_usable(u64::MAX / 2),
            "no expires_in: the server decides"
        );
    }

    #[test]
    fn a_refresh_without_new_refresh_token_or_scope_keeps_the_old_ones() {
        let first = issued(
            Some("a b"),
            &response(Some("refresh-1"), None, Some(60)),
            0,
            None,
        );
        assert_eq!(
            first.scope.as_deref(),
            Some("a b"),
            "no scope in the response: the one asked for"
        );
        let second = issued(None, &response(None, None, Some(60)), 100, Some(&first));
        assert_eq!(second.refresh_token.as_deref(), Some("refresh-1"));
        assert_eq!(second.scope.as_deref(), Some("a b"));
        let third = issued(
            None,
            &response(Some("refresh-2"), Some("a"), Some(60)),
            200,
            Some(&second),
        );
        assert_eq!(
            third.refresh_token.as_deref(),
            Some("refresh-2"),
            "rotation"
        );
        assert_eq!(third.scope.as_deref(), Some("a"));
    }

    #[test]
    fn an_extreme_expires_in_is_refused_and_nothing_overflows() {
        let huge = response(None, None, Some(u64::MAX));
        assert_eq!(
            huge.check(),
            Err(
                "expires_in 18446744073709551615 is out of range (at most 315360000 s, ten years)"
                    .into()
            )
        );
        assert_eq!(
            response(None, None, Some(MAX_EXPIRES_IN_SECS)).check(),
            Ok(())
        );
        // Even unchecked, the arithmetic saturates instead of wrapping or panicking.
        let t = issued(None, &huge, u64::MAX - 1, None);
        assert_eq!(t.expires_at, Some(u64::MAX));
        assert_eq!(t.seconds_left(0), Some(i64::MAX));
        assert_eq!(t.seconds_left(u64::MAX).map(|s| s <= 0), Some(true));
        assert_eq!(
            t.check(1_000),
            Err("expires_at 18446744073709551615 is more than ten years ahead".into())
        );
        let bad = StoredTokens {
            access_token: "bad\ntoken".into(),
            ..issued(None, &response(None, None, Some(60)), 0, None)
        };
        assert!(bad.check(0).unwrap_err().contains("character 4 is U+000A"));
        assert_eq!(
            issued(None, &response(Some("r"), None, Some(60)), 0, None).check(0),
            Ok(())
        );
    }

    #[test]
    fn fits_only_the_same_client_issuer_and_resource() {
        let t = issued(None, &response(None, None, None), 0, None);
        assert!(t.fits("http://as", "c", "http://rs/mcp"));
        assert!(!t.fits("http://as/", "c", "http://rs/mcp"));
        assert!(!t.fits("http://as", "d", "http://rs/mcp"));
        assert!(!t.fits("http://as", "c", "http://rs/other"));
    }

    #[test]
    fn debug_never_shows_a_token() {
        let t = issued(
            None,
            &response(Some("refresh-token-value-5678"), None, None),
            0,
            None,
        );
        let shown = format!("{t:?}");
        assert!(!shown.contains("access-token-value-1234"), "{shown}");
        assert!(!shown.contains("refresh-token-value-5678"), "{shown}");
    }

    #[cfg(unix)]
    #[test]
    fn store_round_trip_mode_0600_exact_issuer_and_remove() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::client::state_dir::test_dir("tokens-test");
        let store = TokenStore::new(&dir);
        let t = StoredTokens::from_response(
            "http://as/realms/a",
            "c",
            "http://rs/mcp",
            None,
            &response(Some("r"), None, Some(60)),
            0,
            None,
        );
        assert!(store.load("http://as/realms/a").unwrap().is_none());
        let path = store.save(&t).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(store.load("http://as/realms/a").unwrap(), Some(t));
        assert!(store.load("http://as/realms/b").unwrap().is_none());
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("tokens-"),
            "{path:?}"
        );
        store.remove("http://as/realms/a").unwrap();
        assert!(store.load("http://as/realms/a").unwrap().is_none());
        store.remove("http://as/realms/a").unwrap();
        std::fs::write(store.path_for("http://as/realms/a"), "not json").unwrap();
        assert!(store.load("http://as/realms/a").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
