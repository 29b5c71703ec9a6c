//! Step 11: who the client is to the authorization server — RFC 7591 dynamic client registration,
//! the credentials it returns, where they are kept, and how they authenticate at the token
//! endpoint (RFC 6749 §2.3).
//!
//! MCP 2025-11-25 ("Client Registration Approaches") orders the options: credentials registered
//! in advance ([`ClientCredentials::pre_registered`]), then a Client ID Metadata Document when the
//! AS accepts URL client ids ([`ClientCredentials::metadata_document`]), then dynamic registration
//! ([`register`]). Registered credentials are kept per issuer in the state directory
//! ([`CredentialStore`]: directory 0700, one JSON file 0600 per issuer) and reused only for
//! exactly that issuer.

use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::client::http_client;
use crate::client::oauth_syntax::check_vschar;
use crate::client::state_dir::{StoreError, issuer_file, read_if_present, save_private_json};
use crate::client::trace::{redact, untrusted};

/// `token_endpoint_auth_method` values this client can use.
pub const AUTH_NONE: &str = "none";
/// HTTP Basic with the url-encoded id and secret (RFC 6749 §2.3.1).
pub const AUTH_BASIC: &str = "client_secret_basic";
/// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
pub const AUTH_POST: &str = "client_secret_post";

/// How the client got its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSource {
    /// RFC 7591 registration by this program.
    Registered,
    /// `--client-id` (and `STEP11_CLIENT_SECRET`): registered by hand.
    PreRegistered,
    /// `--client-metadata-url`: the client id is the URL of its metadata document.
    MetadataDocument,
}

/// A client identity at one authorization server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCredentials {
    /// The issuer these credentials belong to.
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, for confidential registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub token_endpoint_auth_method: String,
    /// The redirect URIs registered.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `client_secret_expires_at` (0 or absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// How the identity was obtained.
    pub source: ClientSource,
    /// Registered with `dpop_bound_access_tokens: true` (RFC 9449 §5.2): the authorization
    /// server refuses this client's token requests without a DPoP proof.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound: bool,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_deref().map(redact))
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("source", &self.source)
            .finish()
    }
}

impl ClientCredentials {
    /// Credentials registered by hand (MCP 2025-11-25 option 1). With a secret the method is
    /// what the AS supports (Basic first, RFC 8414's default), without one `none`.
    pub fn pre_registered(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
        supported: Option<&[String]>,
    ) -> Self {
        let method = if client_secret.is_some() {
            secret_method(supported)
        } else {
            AUTH_NONE
        };
        Self {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.map(str::to_string),
            token_endpoint_auth_method: method.to_string(),
            redirect_uris: Vec::new(),
            client_secret_expires_at: None,
            source: ClientSource::PreRegistered,
            dpop_bound: false,
        }
    }

    /// A Client ID Metadata Document client (MCP 2025-11-25 option 2): the client id is the
    /// document's https URL, the client is public.
    pub fn metadata_document(issuer: &str, url: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
            client_id: url.to_string(),
            client_secret: None,
            token_endpoint_auth_method: AUTH_NONE.to_string(),
            redirect_uris: Vec::new(),
            client_secret_expires_at: None,
            source: ClientSource::MetadataDocument,
            dpop_bound: false,
        }
    }

    /// True when a stored secret has expired (or expires within a minute).
    pub fn is_expired(&self, now: u64) -> bool {
        matches!(self.client_secret_expires_at, Some(at) if at != 0 && at <= now + 60)
    }

    /// Adds client authentication to a token request: HTTP Basic with the url-encoded id and
    /// secret (RFC 6749 §2.3.1), or `client_id` + `client_secret` in the form, or `client_id`
    /// alone for a public client (RFC 6749 §3.2.1).
    pub fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        let secret = self.client_secret.as_deref().unwrap_or_default();
        match self.token_endpoint_auth_method.as_str() {
            AUTH_BASIC => {
                request.header(AUTHORIZATION, basic_authorization(&self.client_id, secret))
            }
            AUTH_POST => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.to_string()));
                request
            }
            // A workload known only by its platform token has no client id to send.
            _ if self.client_id.is_empty() => request,
            _ => {
                form.push(("client_id", self.client_id.clone()));
                request
            }
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` — RFC 6749 §2.3.1 form-encodes both
/// before Basic (reqwest's `basic_auth` does not).
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

fn secret_method(supported: Option<&[String]>) -> &'static str {
    match supported {
        Some(list)
            if !list.iter().any(|m| m == AUTH_BASIC) && list.iter().any(|m| m == AUTH_POST) =>
        {
            AUTH_POST
        }
        _ => AUTH_BASIC,
    }
}

/// The `token_endpoint_auth_method` to ask for: `none` (a native app is a public client, RFC 8252
/// §8.4) when the AS lists it or lists nothing; else `client_secret_basic`, then
/// `client_secret_post`.
pub fn choose_auth_method(supported: Option<&[String]>) -> Result<&'static str, RegistrationError> {
    let Some(list) = supported else {
        return Ok(AUTH_NONE);
    };
    [AUTH_NONE, AUTH_BASIC, AUTH_POST]
        .into_iter()
        .find(|m| list.iter().any(|s| s == m))
        .ok_or_else(|| RegistrationError::NoUsableAuthMethod(list.join(", ")))
}

/// Why registration or the credential store failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The AS only takes client authentication this client cannot do.
    #[error(
        "the token endpoint accepts none of none, client_secret_basic, client_secret_post (it lists: {0})"
    )]
    NoUsableAuthMethod(String),
    /// No way to get a client identity.
    #[error(
        "the authorization server {0} has no registration_endpoint: register a client by hand and pass --client-id (secret in STEP11_CLIENT_SECRET)"
    )]
    NoRegistrationEndpoint(String),
    /// The request failed.
    #[error("POST {url} failed: {reason}")]
    Http {
        /// The registration endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// RFC 7591 §3.2.2 error response, or another failure status.
    #[error("registration at {url} refused (HTTP {status}): {error}")]
    Refused {
        /// The registration endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// `error` and `error_description`, or the body.
        error: String,
    },
    /// The response is not a usable RFC 7591 §3.2.1 response.
    #[error("registration response from {url} is unusable: {reason}")]
    BadResponse {
        /// The registration endpoint.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The state directory.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What this client asks to be registered as (RFC 7591 §2).
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    /// `client_name`.
    pub client_name: String,
    /// The loopback redirect URI (RFC 8252 §7.3).
    pub redirect_uri: String,
    /// `scope`, when known.
    pub scope: Option<String>,
    /// `token_endpoint_auth_method`.
    pub auth_method: String,
    /// Ask to be held to DPoP-bound tokens (`dpop_bound_access_tokens`, RFC 9449 §5.2).
    pub dpop_bound: bool,
}

impl RegistrationRequest {
    /// The JSON body: a public native client using the authorization code grant.
    /// `application_type: native` (OpenID Connect Dynamic Client Registration §2, which MCP's
    /// client registration rules point to) says the redirect URI is a loopback one on the user's
    /// machine (RFC 8252 §7.3), not a web server's.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "client_name": self.client_name,
            "application_type": "native",
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": self.auth_method,
        });
        if let Some(scope) = &self.scope {
            body["scope"] = json!(scope);
        }
        if self.dpop_bound {
            body["dpop_bound_access_tokens"] = json!(true);
        }
        body
    }
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: Option<String>,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
    redirect_uris: Option<Vec<String>>,
    client_secret_expires_at: Option<u64>,
    dpop_bound_access_tokens: Option<bool>,
}

/// RFC 7591 §3: POST the metadata, read the client id (and secret) back. The method used at the
/// token endpoint is the one the response names; without one, a secret means Basic (or post when
/// only post is supported) and no secret means `none`.
pub async fn register(
    http: &reqwest::Client,
    endpoint: &Url,
    issuer: &str,
    request: &RegistrationRequest,
    supported: Option<&[String]>,
) -> Result<ClientCredentials, RegistrationError> {
    let url = endpoint.to_string();
    let post = http
        .post(endpoint.clone())
        .header(ACCEPT, "application/json")
        .json(&request.body());
    let (status, body) =
        http_client::exchange(post)
            .await
            .map_err(|reason| RegistrationError::Http {
                url: url.clone(),
                reason,
            })?;
    if !status.is_success() {
        return Err(RegistrationError::Refused {
            url,
            status: status.as_u16(),
            error: oauth_error_text(&body),
        });
    }
    let bad = |reason: String| RegistrationError::BadResponse {
        url: url.clone(),
        reason,
    };
    let parsed: RegistrationResponse =
        http_client::json_body(&body).map_err(|e| bad(format!("not the expected JSON ({e})")))?;
    let client_id = parsed
        .client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad("client_id is missing".into()))?;
    let client_secret = parsed.client_secret.filter(|s| !s.is_empty());
    // Both are kept in the state directory and sent back (form, query, Basic header).
    check_vschar("client_id", &client_id).map_err(bad)?;
    if let Some(secret) = &client_secret {
        check_vschar("client_secret", secret).map_err(bad)?;
    }
    let method = match parsed.token_endpoint_auth_method {
        Some(m) => m,
        None if client_secret.is_some() => secret_method(supported).to_string(),
        None => AUTH_NONE.to_string(),
    };
    match method.as_str() {
        AUTH_NONE => {}
        AUTH_BASIC | AUTH_POST if client_secret.is_some() => {}
        AUTH_BASIC | AUTH_POST => {
            return Err(bad(format!(
                "token_endpoint_auth_method {method} without a client_secret"
            )));
        }
        other => {
            return Err(bad(format!(
                "token_endpoint_auth_method {other} is not supported by this client"
            )));
        }
    }
    Ok(ClientCredentials {
        issuer: issuer.to_string(),
        client_id,
        client_secret,
        token_endpoint_auth_method: method,
        redirect_uris: parsed
            .redirect_uris
            .unwrap_or_else(|| vec![request.redirect_uri.clone()]),
        client_secret_expires_at: parsed.client_secret_expires_at,
        source: ClientSource::Registered,
        // RFC 7591 §3.2.1: the response holds the metadata as registered; an AS that ignores
        // the member leaves it out, one that refuses it says false.
        dpop_bound: request.dpop_bound && parsed.dpop_bound_access_tokens != Some(false),
    })
}

/// `error: error_description` of an OAuth error body (RFC 6749 §5.2, RFC 7591 §3.2.2), or the
/// start of the body.
pub fn oauth_error_text(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(error) = v.get("error").and_then(Value::as_str)
    {
        return match v.get("error_description").and_then(Value::as_str) {
            Some(d) => format!("{}: {}", untrusted(error), untrusted(d)),
            None => untrusted(error),
        };
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        "(empty body)".into()
    } else {
        untrusted(text.trim())
    }
}

/// Client credentials kept on disk, one file per issuer.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl CredentialStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file for `issuer`: `client-<first 16 characters of base64url(SHA-256(issuer))>.json`.
    pub fn path_for(&self, issuer: &str) -> PathBuf {
        issuer_file(&self.dir, "client", issuer)
    }

    /// The stored credentials for exactly `issuer`, if any and still valid. `Err` only for a file
    /// that exists but cannot be read.
    pub fn load(&self, issuer: &str) -> Result<Option<ClientCredentials>, RegistrationError> {
        let Some(text) = read_if_present(&self.path_for(issuer))? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_str::<ClientCredentials>(&text) else {
            return Ok(None);
        };
        if stored.issuer != issuer
            || stored.source != ClientSource::Registered
            || stored.is_expired(now())
        {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// Saves credentials (directory 0700, file 0600, written to a temporary file and renamed).
    pub fn save(&self, credentials: &ClientCredentials) -> Result<PathBuf, RegistrationError> {
        let path = self.path_for(&credentials.issuer);
        save_private_json(&self.dir, &path, credentials)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::state_dir::test_dir;

    fn creds(issuer: &str) -> ClientCredentials {
        ClientCredentials {
            issuer: issuer.into(),
            client_id: "abc".into(),
            client_secret: Some("s3cret-value-that-is-long".into()),
            token_endpoint_auth_method: AUTH_BASIC.into(),
            redirect_uris: vec!["http://127.0.0.1:5000/callback".into()],
            client_secret_expires_at: Some(0),
            source: ClientSource::Registered,
            dpop_bound: false,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn auth_method_choice() {
        assert_eq!(choose_auth_method(None).unwrap(), AUTH_NONE);
        let all = strings(&["client_secret_basic", "none", "client_secret_post"]);
        assert_eq!(choose_auth_method(Some(&all)).unwrap(), AUTH_NONE);
        let kc = strings(&[
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post",
        ]);
        assert_eq!(choose_auth_method(Some(&kc)).unwrap(), AUTH_BASIC);
        let post = strings(&["client_secret_post"]);
        assert_eq!(choose_auth_method(Some(&post)).unwrap(), AUTH_POST);
        let jwt = strings(&["private_key_jwt"]);
        assert!(choose_auth_method(Some(&jwt)).is_err());
    }

    #[test]
    fn registration_body_is_a_public_native_client() {
        let body = RegistrationRequest {
            client_name: "step11".into(),
            redirect_uri: "http://127.0.0.1:4000/callback".into(),
            scope: Some("mcp:read mcp:tools".into()),
            auth_method: AUTH_NONE.into(),
            dpop_bound: false,
        }
        .body();
        assert_eq!(
            body["redirect_uris"],
            json!(["http://127.0.0.1:4000/callback"])
        );
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["application_type"], "native");
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert_eq!(body["scope"], "mcp:read mcp:tools");
        assert!(body.get("dpop_bound_access_tokens").is_none());
        let without = RegistrationRequest {
            scope: None,
            ..RegistrationRequest {
                client_name: "x".into(),
                redirect_uri: "r".into(),
                scope: None,
                auth_method: AUTH_NONE.into(),
                dpop_bound: true,
            }
        }
        .body();
        assert!(without.get("scope").is_none());
        assert_eq!(without["dpop_bound_access_tokens"], true, "RFC 9449 §5.2");
    }

    #[test]
    fn basic_header_url_encodes_id_and_secret() {
        // RFC 6749 §2.3.1: application/x-www-form-urlencoded first, then Basic.
        let header = basic_authorization("my client", "p@ss:word");
        let decoded = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:p%40ss%3Aword"
        );
        let header = basic_authorization("test-client-1", "test-secret-1");
        let decoded = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"test-client-1:test-secret-1");
    }

    #[test]
    fn pre_registered_method() {
        let basic = strings(&["client_secret_basic"]);
        let c = ClientCredentials::pre_registered("i", "id", Some("s"), Some(&basic));
        assert_eq!(c.token_endpoint_auth_method, AUTH_BASIC);
        let post = strings(&["client_secret_post"]);
        let c = ClientCredentials::pre_registered("i", "id", Some("s"), Some(&post));
        assert_eq!(c.token_endpoint_auth_method, AUTH_POST);
        let c = ClientCredentials::pre_registered("i", "id", None, Some(&post));
        assert_eq!(c.token_endpoint_auth_method, AUTH_NONE);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let text = format!("{:?}", creds("http://as"));
        assert!(!text.contains("s3cret-value-that-is-long"), "{text}");
        assert!(text.contains("s3cret…"), "{text}");
    }

    #[test]
    fn expiry() {
        let mut c = creds("i");
        assert!(!c.is_expired(1_000));
        c.client_secret_expires_at = Some(1_030);
        assert!(c.is_expired(1_000));
        c.client_secret_expires_at = Some(10_000);
        assert!(!c.is_expired(1_000));
    }

    #[test]
    fn oauth_error_text_forms() {
        assert_eq!(
            oauth_error_text(br#"{"error":"invalid_redirect_uri","error_description":"bad"}"#),
            "invalid_redirect_uri: bad"
        );
        assert_eq!(oauth_error_text(b"nope"), "nope");
        assert_eq!(oauth_error_text(b""), "(empty body)");
    }

    #[cfg(unix)]
    #[test]
    fn store_round_trip_permissions_and_exact_issuer() {
        use std::os::unix::fs::PermissionsExt;
        let dir = test_dir("store-test");
        let store = CredentialStore::new(dir.join("nested"));
        assert!(store.load("http://as/realms/a").unwrap().is_none());
        let path = store.save(&creds("http://as/realms/a")).unwrap();
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        let dir_mode = std::fs::metadata(dir.join("nested"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(
            store.load("http://as/realms/a").unwrap(),
            Some(creds("http://as/realms/a"))
        );
        // Another issuer, even one differing by a trailing slash, gets nothing.
        assert!(store.load("http://as/realms/a/").unwrap().is_none());
        assert!(store.load("http://as/realms/b").unwrap().is_none());
        // A file whose content names another issuer is not reused.
        std::fs::copy(&path, store.path_for("http://other")).unwrap();
        assert!(store.load("http://other").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
