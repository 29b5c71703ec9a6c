//! Step 6: the bearer-token middleware (RFC 6750) in front of `/mcp`.
//!
//! Only the `Authorization: Bearer <JWT>` header is read — never a query parameter or the body.
//! Validation pins RS256 (the token's `alg` is checked, never trusted), finds the key by `kid`,
//! requires `exp`, `iss` and `aud`, honours `nbf` and `iat`, and allows [`LEEWAY_SECONDS`] of clock
//! skew. Failures answer with an RFC 6750 challenge and a JSON body with the same `error`:
//!
//! | case | HTTP | `error` |
//! |---|---|---|
//! | no credentials, or another scheme | 401 | (none) |
//! | `Bearer` without a token, extra parts, repeated header | 400 | `invalid_request` |
//! | any token that does not verify | 401 | `invalid_token` |
//! | keys cannot be had (step 10) | 503 + `Retry-After` | `temporarily_unavailable` |
//!
//! The reason in `error_description` is specific but never echoes the token.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Value, json};
use tower::Service;

use crate::auth::dpop::{self, DpopMode, ProofChecker, ProofRequest};
use crate::auth::identity::{Caller, Identity, parse_scope};
use crate::auth::keys::{self, PublicKey};
use crate::auth::token::now;
use crate::auth::token_cache::{self, TokenCache, Verified};
use crate::http::config::ConfigError;
use crate::http::request_log::LogUser;
use crate::http::server::PublicUrl;
use crate::http::service::{Answer, HttpService, announces_body, close_after};

/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;
/// Tokens longer than this are refused before any parsing (real access tokens are a few KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The `realm` of every challenge.
pub const REALM: &str = "mcp";

/// Flags for the local issuer's key (step 5 on).
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
    /// The public key tokens are verified with (SPKI PEM). Demo-only default.
    #[arg(long = "public-key", env = "MCP_PUBLIC_KEY", default_value = keys::DEFAULT_PUBLIC_KEY)]
    pub public_key: std::path::PathBuf,
}

/// Flags for token validation (step 6 on).
#[derive(clap::Args, Debug, Clone)]
pub struct TokenArgs {
    /// Expected `iss` (steps 6–8: MCP_SERVER_URL, the local issuer; steps 9–10: `<KEYCLOAK_URL>/realms/<realm>`).
    #[arg(long = "jwt-issuer", env = "JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Expected member of `aud` (MCP_SERVER_URL + /mcp, the canonical resource URI, in every step).
    #[arg(long = "jwt-audience", env = "JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl TokenArgs {
    /// (issuer, audience), with the defaults filled in; an issuer that is not an http(s) URL stops
    /// the program.
    pub fn resolve(&self, public: &PublicUrl) -> Result<(String, String), ConfigError> {
        let issuer = match &self.issuer {
            Some(raw) => check_issuer(raw)?,
            None => public.base().to_string(),
        };
        let audience = match &self.audience {
            Some(raw) if !raw.trim().is_empty() => raw.trim().to_string(),
            Some(raw) => {
                return Err(ConfigError::Invalid {
                    name: "JWT_AUDIENCE",
                    value: raw.clone(),
                    why: "empty".into(),
                });
            }
            None => public.mcp_endpoint(),
        };
        Ok((issuer, audience))
    }
}

/// An issuer must be an absolute http(s) URL without query or fragment (RFC 8414 §2).
pub fn check_issuer(raw: &str) -> Result<String, ConfigError> {
    crate::http::config::http_url("JWT_ISSUER", raw)?;
    Ok(raw.trim().to_string())
}

/// Why no key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The keys are known and this `kid` is not among them.
    UnknownKid,
    /// No keys could be had at all.
    Unavailable,
}

/// The answer of [`RemoteKeys::key`].
pub type KeyFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Arc<PublicKey>, KeyError>> + Send + 'a>,
>;

/// Keys that live elsewhere and are fetched (step 10's `keycloak::jwks_cache::JwksCache` is one).
/// Defined here, where keys are used, so that this part does not depend on the later one.
pub trait RemoteKeys: Send + Sync + std::fmt::Debug {
    /// The key for `kid`, fetching if it is not held yet.
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a>;
    /// The key held for `kid` right now, without fetching.
    fn lookup(&self, kid: &str) -> Option<Arc<PublicKey>>;
}

/// Where verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// One local public key (steps 6–8).
    Local(Arc<PublicKey>),
    /// The issuer's JWKS, cached (step 10).
    Remote(Arc<dyn RemoteKeys>),
}

impl KeySource {
    async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, KeyError> {
        match self {
            KeySource::Local(key) if key.kid == kid => Ok(key.clone()),
            KeySource::Local(_) => Err(KeyError::UnknownKid),
            KeySource::Remote(cache) => cache.key(kid).await,
        }
    }

    /// The key held for `kid` right now, without fetching anything (the token cache asks this on
    /// every hit: is the key that verified this token still published?).
    pub fn current(&self, kid: &str) -> Option<Arc<PublicKey>> {
        match self {
            KeySource::Local(key) if key.kid == kid => Some(key.clone()),
            KeySource::Local(_) => None,
            KeySource::Remote(cache) => cache.lookup(kid),
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization`, or a scheme other than Bearer → 401, no error code.
    Missing,
    /// A malformed `Authorization` header → 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token does not verify → 401 `invalid_token`.
    InvalidToken(String),
    /// No keys could be had from the issuer → 503 `temporarily_unavailable`.
    KeysUnavailable,
    /// A [`TokenConfirmation`] (step 10's introspection) could not get an answer from the
    /// issuer → 503 `temporarily_unavailable`, never a pass and never a 401.
    ConfirmationUnavailable,
    /// A DPoP request whose proof fails a check of RFC 9449 §4.3 → 401 `invalid_dpop_proof`
    /// (RFC 9449 §7.1), on the `DPoP` challenge.
    InvalidDpopProof(String),
}

/// The scheme a request presented its token with (RFC 6750 `Bearer`, RFC 9449 `DPoP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: DPoP <token>`, with a `DPoP` proof header.
    Dpop,
}

/// The future a [`TokenConfirmation`] returns.
pub type Confirming<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Arc<Identity>, AuthError>> + Send + 'a>,
>;

/// A second check after a token verified offline: ask the issuer whether it is still active
/// (step 10's RFC 7662 introspection, which part 3 adds in `keycloak`). Gets the identity the
/// token's claims gave, returns the identity to use, or why the token is refused.
pub trait TokenConfirmation: std::fmt::Debug + Send + Sync {
    /// Confirms `token`, which verified as `verified`.
    fn confirm<'a>(&'a self, token: &'a str, verified: Arc<Identity>) -> Confirming<'a>;
}

/// Verifies tokens and turns them into an [`Identity`].
#[derive(Debug, Clone)]
pub struct TokenValidator {
    keys: KeySource,
    validation: Validation,
    roles_client: Option<String>,
}

impl TokenValidator {
    /// Tokens must be signed by a key from `keys`, issued by `issuer`, for `audience`.
    // ANCHOR: validation_settings
    pub fn new(keys: KeySource, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Self {
            keys,
            validation,
            roles_client: None,
        }
    }
    // ANCHOR_END: validation_settings

    /// Step 10: also take the roles Keycloak lists for this client, in
    /// `resource_access.<client>.roles` (the realm's resource client, `echo-mcp-server`).
    pub fn with_client_roles(mut self, client: &str) -> Self {
        self.roles_client = Some(client.to_string());
        self
    }

    /// Verifies `token`.
    pub async fn validate(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        self.verify(token).await.map(|v| v.identity)
    }

    /// Like [`TokenValidator::validate`], answering from `cache` when this exact token verified
    /// before, has not reached its `exp`, and its key is still published (see [`crate::auth::token_cache`]).
    pub async fn validate_cached(
        &self,
        token: &str,
        cache: &TokenCache,
    ) -> Result<Arc<Identity>, AuthError> {
        match self.cached(token, cache) {
            Some(identity) => Ok(identity),
            None => self.validate_and_remember(token, cache).await,
        }
    }

    /// The identity `cache` holds for `token`, if any (see [`TokenValidator::validate_cached`]).
    /// Synchronous: a hit needs no key fetch.
    pub fn cached(&self, token: &str, cache: &TokenCache) -> Option<Arc<Identity>> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let key_is_current = |used: &PublicKey| {
            self.keys
                .current(&used.kid)
                .is_some_and(|current| token_cache::same_key(&current, used))
        };
        cache.get(token, crate::auth::token::now(), key_is_current)
    }

    /// Verifies `token` in full and, when it is valid, puts it in `cache`.
    pub async fn validate_and_remember(
        &self,
        token: &str,
        cache: &TokenCache,
    ) -> Result<Arc<Identity>, AuthError> {
        let verified = self.verify(token).await?;
        let identity = Arc::clone(&verified.identity);
        cache.insert(token, verified, crate::auth::token::now());
        Ok(identity)
    }

    /// Verifies `token` in full and returns what the token cache keeps.
    pub async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.to_string());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too large"));
        }
        let header = read_header(token)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "RS256" {
            let shown: String = alg
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(16)
                .collect();
            let shown = if shown.is_empty() {
                "(none given)".to_string()
            } else {
                shown
            };
            return Err(AuthError::InvalidToken(format!(
                "algorithm {shown} is not accepted (RS256 only)"
            )));
        }
        // RFC 7515 §4.1.11: a recipient must reject a JWS whose `crit` lists an extension it does
        // not understand. This server understands none, so any `crit` is refused.
        if header.get("crit").is_some() {
            return Err(invalid("unsupported critical header (crit)"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("token has no kid"))?;
        let key = match self.keys.key(kid).await {
            Ok(key) => key,
            Err(KeyError::UnknownKid) => return Err(invalid("unknown signing key (kid)")),
            Err(KeyError::Unavailable) => return Err(AuthError::KeysUnavailable),
        };
        let data = jsonwebtoken::decode::<Value>(token, &key.decoding_key, &self.validation)
            .map_err(|e| AuthError::InvalidToken(describe(e.kind())))?;
        let claims = data.claims;
        match claims.get("iat") {
            None => {}
            Some(Value::Number(iat)) => {
                let iat = iat.as_f64().unwrap_or(f64::MAX);
                if iat > (crate::auth::token::now() as f64) + LEEWAY_SECONDS as f64 {
                    return Err(invalid("token issued in the future (iat)"));
                }
            }
            Some(_) => return Err(invalid("iat is not a number")),
        }
        // jsonwebtoken also takes `"iss": ["<issuer>"]`; RFC 7519 §4.1.1 makes `iss` one string.
        if !claims.get("iss").is_some_and(Value::is_string) {
            return Err(invalid("iss is not a string"));
        }
        Ok(Verified {
            identity: Arc::new(identity_from_claims(&claims, self.roles_client.as_deref())),
            // `exp` is required and was checked; a fractional NumericDate is rounded down.
            exp: claims
                .get("exp")
                .and_then(Value::as_f64)
                .map_or(i64::MIN, |exp| exp.floor() as i64),
            key,
        })
    }
}

/// Decodes the JOSE header without trusting it.
fn read_header(token: &str) -> Result<Value, AuthError> {
    let malformed = || AuthError::InvalidToken("malformed token".into());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(malformed())
    }
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::ImmatureSignature => "token not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "unexpected issuer".into(),
        ErrorKind::InvalidAudience => "unexpected audience".into(),
        ErrorKind::InvalidSignature => "signature verification failed".into(),
        ErrorKind::InvalidAlgorithm => "algorithm not accepted".into(),
        ErrorKind::MissingRequiredClaim(claim) => {
            let claim: String = claim
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(16)
                .collect();
            format!("missing required claim {claim}")
        }
        _ => "malformed token".into(),
    }
}

/// Maps claims to an identity. Roles come from `roles` (local tokens) and Keycloak's
/// `realm_access.roles` and, when `roles_client` is given, `resource_access.<roles_client>.roles`.
pub fn identity_from_claims(claims: &Value, roles_client: Option<&str>) -> Identity {
    let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::to_string);
    let mut roles: Vec<String> = Vec::new();
    let sources = [
        claims.get("roles"),
        claims.pointer("/realm_access/roles"),
        roles_client.and_then(|client| claims.get("resource_access")?.get(client)?.get("roles")),
    ];
    for list in sources.into_iter().flatten().filter_map(Value::as_array) {
        for role in list.iter().filter_map(Value::as_str) {
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_string());
            }
        }
    }
    Identity {
        subject: text("sub"),
        username: text("preferred_username"),
        client_id: text("azp").or_else(|| text("client_id")),
        scopes: claims
            .get("scope")
            .and_then(Value::as_str)
            .map(parse_scope)
            .unwrap_or_default(),
        roles,
        jkt: claims
            .pointer("/cnf/jkt")
            .and_then(Value::as_str)
            .map(str::to_string),
        caller: Caller::of(claims),
    }
}

/// Extracts the token from `Authorization: Bearer <token>`; any other scheme is [`AuthError::Missing`].
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    match presented_token(headers)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(AuthError::Missing),
    }
}

/// Extracts the scheme and the token from `Authorization: Bearer <token>` or `DPoP <token>`
/// (schemes are case-insensitive, RFC 9110 §11.1).
pub fn presented_token(headers: &HeaderMap) -> Result<(Scheme, &str), AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("Authorization is not ASCII"))?;
    let mut parts = value.split(' ').filter(|p| !p.is_empty());
    let scheme = match parts.next().unwrap_or("") {
        s if s.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        s if s.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
        _ => return Err(AuthError::Missing),
    };
    let token = parts.next().ok_or(match scheme {
        Scheme::Bearer => AuthError::InvalidRequest("Bearer without a token"),
        Scheme::Dpop => AuthError::InvalidRequest("DPoP without a token"),
    })?;
    if parts.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "Authorization has extra parts after the token",
        ));
    }
    Ok((scheme, token))
}

/// The one `DPoP` proof header (RFC 9449 §4.3: exactly one).
fn dpop_proof(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all("dpop").iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .map_err(|_| AuthError::InvalidDpopProof("the DPoP header is not ASCII".into())),
        (None, _) => Err(AuthError::InvalidDpopProof(
            "Authorization: DPoP needs a DPoP proof header".into(),
        )),
        (Some(_), Some(_)) => Err(AuthError::InvalidDpopProof(
            "more than one DPoP header".into(),
        )),
    }
}

/// What every challenge carries besides the error.
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    /// `resource_metadata` (step 7, RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
    /// `scope`: what a client should request (step 7, MCP 2025-11-25 scope selection).
    pub scope: Option<String>,
}

impl Challenge {
    /// The `WWW-Authenticate` value for `error`.
    pub fn header(&self, error: &AuthError) -> String {
        self.challenge(format!("Bearer realm=\"{REALM}\""), error)
    }

    /// A challenge: `scheme_and_first` (the scheme and its first parameter), the error, then
    /// `resource_metadata` and `scope`.
    fn challenge(&self, scheme_and_first: String, error: &AuthError) -> String {
        let mut out = scheme_and_first;
        if let Some((code, description)) = error.code_and_description() {
            // A quoted-string (RFC 9110 §5.6.4): keep the description free of quotes and backslashes.
            let description = description.replace(['"', '\\'], "'");
            out.push_str(&format!(
                ", error=\"{code}\", error_description=\"{description}\""
            ));
        }
        if let Some(url) = &self.resource_metadata {
            out.push_str(&format!(", resource_metadata=\"{url}\""));
        }
        if let Some(scope) = &self.scope {
            out.push_str(&format!(", scope=\"{scope}\""));
        }
        out
    }

    /// The `WWW-Authenticate` values for `error` when the resource takes DPoP (`mode` not off):
    /// a `Bearer` challenge unless DPoP is required, and a `DPoP` one with `algs` (RFC 9449
    /// §7.1). The error goes on the challenge of the scheme the request used (`used`), or on the
    /// `DPoP` one when it is the only one.
    pub fn headers(&self, error: &AuthError, used: Option<Scheme>, mode: DpopMode) -> Vec<String> {
        if mode == DpopMode::Off {
            return vec![self.header(error)];
        }
        let on_dpop = mode == DpopMode::Required
            || used == Some(Scheme::Dpop)
            || matches!(error, AuthError::InvalidDpopProof(_));
        let mut out = Vec::new();
        if mode == DpopMode::Accepted {
            out.push(self.header(if on_dpop { &AuthError::Missing } else { error }));
        }
        out.push(self.challenge(
            format!("DPoP algs=\"{}\"", dpop::PROOF_ALGS.join(" ")),
            if on_dpop { error } else { &AuthError::Missing },
        ));
        out
    }

    /// The full response for `error`.
    pub fn response(&self, error: &AuthError) -> Response {
        self.response_for(error, None, DpopMode::Off)
    }

    /// The full response for `error`, with the challenges of [`Challenge::headers`].
    pub fn response_for(
        &self,
        error: &AuthError,
        used: Option<Scheme>,
        mode: DpopMode,
    ) -> Response {
        let status = match error {
            AuthError::Missing | AuthError::InvalidToken(_) | AuthError::InvalidDpopProof(_) => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::KeysUnavailable | AuthError::ConfirmationUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = match error.code_and_description() {
            Some((code, description)) => json!({"error": code, "error_description": description}),
            None if mode == DpopMode::Required => {
                json!({"error": "unauthorized", "error_description": "a DPoP-bound token is required (Authorization: DPoP <token>, with a DPoP proof header)"})
            }
            None => {
                json!({"error": "unauthorized", "error_description": "a bearer token is required (Authorization: Bearer <token>)"})
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let AuthError::KeysUnavailable | AuthError::ConfirmationUnavailable = error {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        } else {
            for value in self.headers(error, used, mode) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response
                        .headers_mut()
                        .append(header::WWW_AUTHENTICATE, value);
                }
            }
        }
        response
    }
}

impl std::fmt::Display for AuthError {
    /// `invalid_token: token expired` — the RFC 6750 code and the reason (never the token).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code_and_description() {
            Some((code, description)) => write!(f, "{code}: {description}"),
            None => write!(f, "no bearer token"),
        }
    }
}

impl AuthError {
    fn code_and_description(&self) -> Option<(&'static str, String)> {
        match self {
            AuthError::Missing => None,
            AuthError::InvalidRequest(why) => Some(("invalid_request", (*why).to_string())),
            AuthError::InvalidToken(why) => Some(("invalid_token", why.clone())),
            AuthError::KeysUnavailable => Some((
                "temporarily_unavailable",
                "the issuer's signing keys cannot be fetched right now".to_string(),
            )),
            AuthError::ConfirmationUnavailable => Some((
                "temporarily_unavailable",
                "the authorization server cannot confirm the token right now".to_string(),
            )),
            AuthError::InvalidDpopProof(why) => Some(("invalid_dpop_proof", why.clone())),
        }
    }
}

/// The middleware: validator + challenge.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    validator: TokenValidator,
    challenge: Challenge,
    token_cache: Option<Arc<TokenCache>>,
    confirmation: Option<Arc<dyn TokenConfirmation>>,
    dpop_mode: DpopMode,
    proofs: Option<Arc<ProofChecker>>,
}

impl BearerAuth {
    /// Step 6: plain RFC 6750 challenges.
    pub fn new(validator: TokenValidator) -> Self {
        Self {
            validator,
            challenge: Challenge::default(),
            token_cache: None,
            confirmation: None,
            dpop_mode: DpopMode::Off,
            proofs: None,
        }
    }

    /// Step 7: challenges also point at the protected resource metadata and name a scope.
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }

    /// Steps 8 and 10: remember verified tokens until their `exp` (see [`crate::auth::token_cache`]).
    pub fn with_token_cache(mut self, cache: Arc<TokenCache>) -> Self {
        self.token_cache = Some(cache);
        self
    }

    /// Step 10 with `TOKEN_CHECK=introspection`: every token that verifies offline (or from the
    /// token cache) is also confirmed by `confirmation` before the request goes on.
    pub fn with_confirmation(mut self, confirmation: Arc<dyn TokenConfirmation>) -> Self {
        self.confirmation = Some(confirmation);
        self
    }

    /// Step 10 with `DPOP=accepted` or `required`: DPoP-bound tokens with proofs checked by
    /// `proofs` (one per resource: its public URL and its replay store).
    pub fn with_dpop(mut self, mode: DpopMode, proofs: Arc<ProofChecker>) -> Self {
        self.dpop_mode = mode;
        self.proofs = (mode != DpopMode::Off).then_some(proofs);
        self
    }

    /// The scheme check after the token verified (RFC 9449 §7.1 and §7.2): a DPoP-bound token
    /// (`cnf.jkt`) only as `DPoP` with a valid proof, never as `Bearer` (no downgrade, in every
    /// step); a `DPoP` token only where DPoP is on; a `Bearer` token only where it is not required.
    fn check_binding(
        &self,
        scheme: Scheme,
        token: &str,
        identity: &Identity,
        headers: &HeaderMap,
        method: &str,
    ) -> Result<(), AuthError> {
        // ANCHOR: dpop_binding
        match (scheme, identity.jkt.as_deref(), &self.proofs) {
            (Scheme::Bearer, Some(_), _) => Err(AuthError::InvalidToken(
                "the token is bound to a key (cnf.jkt): present it as Authorization: DPoP with a DPoP proof".into(),
            )),
            (Scheme::Bearer, None, _) if self.dpop_mode == DpopMode::Required => {
                Err(AuthError::InvalidToken(
                    "this resource accepts only DPoP-bound tokens (Authorization: DPoP <token> with a DPoP proof)".into(),
                ))
            }
            (Scheme::Bearer, None, _) => Ok(()),
            (Scheme::Dpop, _, None) => Err(AuthError::Missing),
            (Scheme::Dpop, None, Some(_)) => Err(AuthError::InvalidToken(
                "the token is not bound to a key (no cnf.jkt): it cannot be presented as DPoP".into(),
            )),
            (Scheme::Dpop, Some(jkt), Some(proofs)) => {
                let proof = dpop_proof(headers)?;
                let request = ProofRequest { method, proof, token, jkt };
                proofs
                    .check(request, now())
                    .map_err(AuthError::InvalidDpopProof)
            }
        }
        // ANCHOR_END: dpop_binding
    }

    /// Requires a valid token on every route of `router` (use it on the `/mcp` router only).
    pub fn protect(self, router: Router) -> Router {
        router.route_layer(RequireBearer(Arc::new(self)))
    }

    /// The refusal for `error`: logged (the reason, never the token) and answered with its
    /// challenge; with `Connection: close` when the request's body goes unread.
    fn refuse(&self, error: &AuthError, used: Option<Scheme>, has_body: bool) -> Response {
        let reason = error
            .code_and_description()
            .map(|(_, d)| d)
            .unwrap_or_else(|| "no bearer token".into());
        tracing::info!(target: "mcp_auth_steps::auth", reason, "request not authenticated");
        let mut response = self.challenge.response_for(error, used, self.dpop_mode);
        if has_body {
            close_after(&mut response);
        }
        response
    }
}

/// The layer [`BearerAuth::protect`] puts on each route.
#[derive(Debug, Clone)]
struct RequireBearer(Arc<BearerAuth>);

impl<S> tower::Layer<S> for RequireBearer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Authenticated<S> {
        Authenticated {
            auth: Arc::clone(&self.0),
            inner,
        }
    }
}

/// A route behind bearer auth: the request reaches it only with a valid token, and carries the
/// token's [`Identity`] (as `Arc<Identity>` in its extensions).
///
/// A plain tower service rather than `axum::middleware::from_fn`, for the verified-token cache's
/// sake: a token the cache holds is checked without awaiting anything, and the request goes
/// straight on to the route, with no per-request boxing of the route.
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    auth: Arc<BearerAuth>,
    inner: S,
}

impl<S: HttpService> Service<Request> for Authenticated<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let has_body = announces_body(request.headers());
        let (scheme, token) = match presented_token(request.headers()) {
            // A DPoP token where DPoP is off: refused as an unknown scheme, before any verification.
            Ok((Scheme::Dpop, _)) if self.auth.proofs.is_none() => {
                let refusal = self.auth.refuse(&AuthError::Missing, None, has_body);
                return Answer::now(refusal);
            }
            Ok(presented) => presented,
            Err(error) => {
                let refusal = self.auth.refuse(&error, None, has_body);
                return Answer::now(refusal);
            }
        };
        let cache = self.auth.token_cache.as_deref();
        let cached = cache.and_then(|cache| self.auth.validator.cached(token, cache));
        // This exact token verified before (steps 8 and 10): on to the route at once, unless
        // the issuer must confirm it too. A DPoP proof is checked on every request all the same.
        if let Some(identity) = &cached
            && self.auth.confirmation.is_none()
        {
            let method = request.method().as_str();
            if let Err(error) =
                self.auth
                    .check_binding(scheme, token, identity, request.headers(), method)
            {
                let refusal = self.auth.refuse(&error, Some(scheme), has_body);
                return Answer::now(refusal);
            }
            admit(&mut request, Arc::clone(identity));
            return Answer::Inner {
                future: self.inner.call(request),
            };
        }
        // Verify in full, which may wait for the issuer's keys (step 10), then confirm. The
        // route, made ready by `poll_ready`, goes into the future; a fresh clone stays here for
        // the next request.
        let token = token.to_owned();
        let auth = Arc::clone(&self.auth);
        let fresh = self.inner.clone();
        let mut route = std::mem::replace(&mut self.inner, fresh);
        let future = Box::pin(async move {
            let verified = match (cached, &auth.token_cache) {
                (Some(identity), _) => Ok(identity),
                (None, Some(cache)) => auth.validator.validate_and_remember(&token, cache).await,
                (None, None) => auth.validator.validate(&token).await,
            };
            // The binding before the issuer is asked: a refused proof costs no introspection.
            let verified = verified.and_then(|identity| {
                let method = request.method().as_str();
                auth.check_binding(scheme, &token, &identity, request.headers(), method)
                    .map(|()| identity)
            });
            let verified = match (verified, &auth.confirmation) {
                (Ok(identity), Some(confirmation)) => confirmation.confirm(&token, identity).await,
                (result, _) => result,
            };
            match verified {
                Ok(identity) => {
                    admit(&mut request, identity);
                    route.call(request).await
                }
                Err(error) => Ok(auth.refuse(&error, Some(scheme), has_body)),
            }
        });
        Answer::Boxed { future }
    }
}

/// Hands the verified identity to what comes next: the handlers and the policy (as
/// `Arc<Identity>`) and the request's log line (as its name).
fn admit(request: &mut Request, identity: Arc<Identity>) {
    let extensions = request.extensions_mut();
    extensions.insert(LogUser(identity.log_name()));
    extensions.insert(identity);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn authorization_header_parsing() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthError::Missing));
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcjpwdw=="])),
            Err(AuthError::Missing)
        );
        assert_eq!(bearer_token(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["bearer abc"])), Ok("abc"));
        assert!(matches!(
            bearer_token(&headers(&["Bearer"])),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer "])),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a b"])),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn challenges() {
        let plain = Challenge::default();
        assert_eq!(plain.header(&AuthError::Missing), "Bearer realm=\"mcp\"");
        assert_eq!(
            plain.header(&AuthError::InvalidToken("token expired".into())),
            "Bearer realm=\"mcp\", error=\"invalid_token\", error_description=\"token expired\""
        );
        let full = Challenge {
            resource_metadata: Some("http://x/prm".into()),
            scope: Some("mcp:read".into()),
        };
        assert_eq!(
            plain.header(&AuthError::InvalidToken("a \"quoted\" \\ value".into())),
            "Bearer realm=\"mcp\", error=\"invalid_token\", error_description=\"a 'quoted' ' value\""
        );
        assert_eq!(
            full.header(&AuthError::Missing),
            "Bearer realm=\"mcp\", resource_metadata=\"http://x/prm\", scope=\"mcp:read\""
        );
    }

    #[test]
    fn keycloak_and_local_claims_map_to_one_identity() {
        let kc = json!({
            "azp": "mcp-test-client", "scope": "openid mcp:read  mcp:tools",
            "realm_access": {"roles": ["admin", "offline_access"]},
            "resource_access": {"echo-mcp-server": {"roles": ["tools"]}, "account": {"roles": ["x"]}}
        });
        let id = identity_from_claims(&kc, Some("echo-mcp-server"));
        assert_eq!(id.subject, None);
        assert_eq!(id.client_id.as_deref(), Some("mcp-test-client"));
        assert_eq!(id.scopes, vec!["openid", "mcp:read", "mcp:tools"]);
        assert_eq!(id.roles, vec!["admin", "offline_access", "tools"]);
        let local = json!({"sub": "s", "preferred_username": "alice", "scope": "mcp:read", "roles": ["user"]});
        let id = identity_from_claims(&local, None);
        assert_eq!(
            (id.username.as_deref(), id.roles.clone()),
            (Some("alice"), vec!["user".to_string()])
        );
    }

    #[test]
    fn issuer_must_be_a_url() {
        assert!(check_issuer("mcp-server").is_err());
        assert!(check_issuer("ftp://x").is_err());
        assert_eq!(
            check_issuer(" http://localhost:9000 ").unwrap(),
            "http://localhost:9000"
        );
    }
}
