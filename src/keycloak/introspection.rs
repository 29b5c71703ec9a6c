//! Step 10 with `TOKEN_CHECK=introspection`: asks Keycloak, over RFC 7662 token introspection,
//! whether each token is still active — what an offline JWT check cannot see: a session logged
//! out by an administrator, a disabled user, a revoked consent.
//!
//! - The token is verified offline first (signature, `iss`, `aud`, `exp`: step 6's checks), so a
//!   forged or expired token is refused without a network call, and Keycloak is asked only about
//!   tokens it signed.
//! - The caller authenticates as the resource server's own confidential client
//!   (`client_secret_basic`); the endpoint comes from the issuer's discovery document.
//! - The answer is checked like a JWT: `active`, `iss`, `aud` ∋ the resource, `exp`, token type
//!   `Bearer`; scopes and roles are taken from it. `active: false` is no identity (401).
//! - Answers, positive and negative, are kept for at most `ttl` and never past the token's `exp`,
//!   keyed by the token's SHA-256 (the token itself is not kept), in a map bounded to
//!   `max_entries`. Negative answers expire too: Keycloak answers `active: true` again for a
//!   token of a user who was disabled and enabled again (measured).
//! - Keycloak unreachable, slow (2 s to connect, 3 s in all), answering 5xx or refusing the
//!   client's credentials → 503 + `Retry-After`, never a 401 and never a pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::auth::bearer_auth::{AuthError, Confirming, TokenConfirmation, identity_from_claims};
use crate::auth::identity::Identity;
use crate::auth::keys::sha256;
use crate::keycloak::jwks_cache::get_json;

/// How step 10 checks a token (`TOKEN_CHECK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Offline: the JWT's signature and claims (the default; steps 6–10).
    Jwt,
    /// The offline check, then RFC 7662 introspection at the issuer.
    Introspection,
}

impl TokenCheck {
    /// `jwt` or `introspection`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "jwt" => Some(Self::Jwt),
            "introspection" => Some(Self::Introspection),
            _ => None,
        }
    }

    /// The name `/health` and the printout use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Introspection => "introspection",
        }
    }
}

/// What the introspecting client is and how long answers are kept.
#[derive(Clone)]
pub struct IntrospectionSettings {
    /// The resource server's confidential client (`INTROSPECTION_CLIENT_ID`).
    pub client_id: String,
    /// Its secret (`INTROSPECTION_CLIENT_SECRET`; never logged or printed).
    pub client_secret: String,
    /// The longest an answer is kept (`INTROSPECTION_CACHE_SECONDS`; 0 = ask every time).
    pub ttl: Duration,
    /// The most answers kept (`INTROSPECTION_CACHE_ENTRIES`).
    pub max_entries: usize,
}

impl std::fmt::Debug for IntrospectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionSettings")
            .field("client_id", &self.client_id)
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

/// Connect timeout toward the introspection endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Whole-request timeout toward the introspection endpoint.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
struct Answer {
    result: Result<Arc<Identity>, AuthError>,
    until: Instant,
}

/// How long a failed call (Keycloak unreachable, 5xx, client refused) is remembered for its
/// token: the requests that waited for that call, and those in the next second, answer 503 at
/// once instead of each waiting for a call of its own.
const UNAVAILABLE_FOR: Duration = Duration::from_secs(1);

/// How the start-up check of the client's credentials went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialCheck {
    /// Keycloak accepted the client (it answered `active: false` for a probe).
    Accepted,
    /// Keycloak refused the client's credentials: a configuration error.
    Refused(String),
    /// Keycloak could not be asked; the server starts and answers 503 until it can.
    Unreachable(String),
}

/// The RFC 7662 client with its answer cache (see the module doc).
#[derive(Debug)]
pub struct Introspector {
    http: reqwest::Client,
    issuer: String,
    audience: String,
    roles_client: String,
    settings: IntrospectionSettings,
    endpoint: Mutex<Option<String>>,
    answers: Mutex<HashMap<[u8; 32], Answer>>,
    /// One lock per token being asked about, so that concurrent requests with the same token
    /// wait for one call instead of each making its own (when its answer expires under load).
    asking: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    calls: AtomicU64,
    hits: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Introspector {
    /// An introspector for tokens of `issuer` meant for `audience`; roles are read from
    /// `resource_access.<roles_client>`, as the offline check reads them.
    pub fn new(
        issuer: &str,
        audience: &str,
        roles_client: &str,
        settings: IntrospectionSettings,
    ) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client with these settings can be built");
        Self {
            http,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            roles_client: roles_client.to_string(),
            settings,
            endpoint: Mutex::new(None),
            answers: Mutex::new(HashMap::new()),
            asking: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// The introspection endpoint from the issuer's discovery document (looked up once).
    async fn endpoint(&self) -> Result<String, String> {
        if let Some(e) = self.endpoint.lock().expect("endpoint lock").clone() {
            return Ok(e);
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let doc = get_json(&self.http, &url).await?;
        let endpoint = doc
            .get("introspection_endpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{url} names no introspection_endpoint"))?
            .to_string();
        *self.endpoint.lock().expect("endpoint lock") = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// POSTs `token` to the endpoint: the parsed answer, or why there is none.
    async fn ask(&self, token: &str) -> Result<(u16, Value), String> {
        let endpoint = self.endpoint().await?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(&endpoint)
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| format!("POST {endpoint}: {e}"))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// At start: a probe token must be answered `active: false` with the configured client.
    pub async fn check_credentials(&self) -> CredentialCheck {
        match self.ask("step10-credential-probe").await {
            Ok((200, body)) if body.get("active") == Some(&Value::Bool(false)) => {
                CredentialCheck::Accepted
            }
            Ok((status @ (400 | 401 | 403), body)) => CredentialCheck::Refused(format!(
                "HTTP {status} {}",
                body.get("error").and_then(Value::as_str).unwrap_or("-")
            )),
            Ok((status, _)) => CredentialCheck::Unreachable(format!("HTTP {status}")),
            Err(e) => CredentialCheck::Unreachable(e),
        }
    }

    /// Checks an introspection answer (RFC 7662 §2.2) as strictly as a JWT (public for the fuzz
    /// target `fuzz/fuzz_targets/introspection.rs`).
    // ANCHOR: introspection_judge
    pub fn judge(&self, answer: &Value, now: u64) -> Result<(Arc<Identity>, u64), String> {
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err("token is not active (introspection)".into());
        }
        let text = |key: &str| answer.get(key).and_then(Value::as_str);
        if text("iss") != Some(self.issuer.as_str()) {
            return Err("introspection: unexpected issuer".into());
        }
        let audience_ok = match answer.get("aud") {
            Some(Value::String(one)) => *one == self.audience,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err("introspection: unexpected audience".into());
        }
        let exp = answer.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if exp <= now {
            return Err("token expired (introspection)".into());
        }
        let kind = text("token_type").or_else(|| text("typ")).unwrap_or("");
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err("introspection: not an access token".into());
        }
        let mut identity = identity_from_claims(answer, Some(&self.roles_client));
        if identity.username.is_none() {
            identity.username = text("username").map(str::to_string);
        }
        Ok((Arc::new(identity), exp))
    }
    // ANCHOR_END: introspection_judge

    /// Keeps `answer` until `until`, within the bound: expired answers go first, then the one
    /// closest to expiring.
    fn keep(&self, key: [u8; 32], answer: Answer) {
        if answer.until <= Instant::now() || self.settings.max_entries == 0 {
            return;
        }
        let mut answers = self.answers.lock().expect("answers lock");
        if answers.len() >= self.settings.max_entries {
            let now = Instant::now();
            answers.retain(|_, a| a.until > now);
            if answers.len() >= self.settings.max_entries
                && let Some(oldest) = answers.iter().min_by_key(|(_, a)| a.until).map(|(k, _)| *k)
            {
                answers.remove(&oldest);
            }
        }
        answers.insert(key, answer);
    }

    /// The kept answer for `key`, if it is still good.
    fn kept(&self, key: &[u8; 32]) -> Option<Result<Arc<Identity>, AuthError>> {
        let answers = self.answers.lock().expect("answers lock");
        let answer = answers.get(key).filter(|a| a.until > Instant::now())?;
        if !matches!(answer.result, Err(AuthError::ConfirmationUnavailable)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        Some(answer.result.clone())
    }

    async fn confirm_token(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        let key = sha256(token.as_bytes());
        if let Some(kept) = self.kept(&key) {
            return kept;
        }
        // One call per token at a time: the others wait for it and take its answer.
        let lock = Arc::clone(
            self.asking
                .lock()
                .expect("asking lock")
                .entry(key)
                .or_default(),
        );
        let _turn = lock.lock().await;
        // Whatever ends this turn (an answer, or the request going away mid-call), the token's
        // lock leaves the map with it.
        let _leave = Leave(&self.asking, key);
        match self.kept(&key) {
            Some(kept) => kept,
            None => self.ask_and_keep(token, key).await,
        }
    }

    async fn ask_and_keep(&self, token: &str, key: [u8; 32]) -> Result<Arc<Identity>, AuthError> {
        let unavailable = |why: String| {
            tracing::warn!(target: "mcp_auth_steps::keycloak::introspection", reason = %why, "token introspection failed; answering 503");
            *self.last_error.lock().expect("error lock") = Some(why);
            self.keep(
                key,
                Answer {
                    result: Err(AuthError::ConfirmationUnavailable),
                    until: Instant::now() + UNAVAILABLE_FOR,
                },
            );
            AuthError::ConfirmationUnavailable
        };
        let (status, body) = self.ask(token).await.map_err(unavailable)?;
        let reason = match status {
            200 => None,
            401 | 403 => Some(format!(
                "the introspection client {} was refused (HTTP {status}): check INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET",
                self.settings.client_id
            )),
            _ => Some(format!("the introspection endpoint answered HTTP {status}")),
        };
        if let Some(why) = reason {
            return Err(unavailable(why));
        }
        *self.last_error.lock().expect("error lock") = None;
        let now = u64::try_from(crate::auth::token::now()).unwrap_or(0);
        let (result, lifetime) = match self.judge(&body, now) {
            Ok((identity, exp)) => (Ok(identity), Duration::from_secs(exp.saturating_sub(now))),
            Err(why) => (Err(AuthError::InvalidToken(why)), self.settings.ttl),
        };
        self.keep(
            key,
            Answer {
                result: result.clone(),
                until: Instant::now() + self.settings.ttl.min(lifetime),
            },
        );
        result
    }

    /// `/health` fields: the calls made to Keycloak, the answers served from the cache, the
    /// answers held, and the last failure (cleared by the next success).
    pub fn health(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert(
            "introspection".into(),
            json!({
                "calls": self.calls.load(Ordering::Relaxed),
                "cache_hits": self.hits.load(Ordering::Relaxed),
                "cached": self.answers.lock().expect("answers lock").len(),
                "cache_seconds": self.settings.ttl.as_secs(),
                "last_error": *self.last_error.lock().expect("error lock"),
            }),
        );
        fields
    }
}

/// Step 10's start: the introspector for `TOKEN_CHECK=introspection` (`None` for `jwt`). When
/// Keycloak answers, the client's credentials are tried at once, and refused credentials stop the
/// program with a message naming them (a server that would answer every request 503 is a
/// configuration error); when Keycloak does not answer yet, it starts and answers 503 until it
/// does, as for the keys.
pub async fn start(
    issuer: &str,
    audience: &str,
    roles_client: &str,
    settings: Option<IntrospectionSettings>,
) -> Result<Option<Arc<Introspector>>, crate::http::config::ConfigError> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let introspector = Introspector::new(issuer, audience, roles_client, settings);
    match introspector.check_credentials().await {
        CredentialCheck::Accepted => {
            tracing::info!(target: "mcp_auth_steps::keycloak::introspection", client = %introspector.settings.client_id, "introspection client accepted by the issuer");
        }
        CredentialCheck::Refused(why) => {
            return Err(crate::http::config::ConfigError::Invalid {
                name: "INTROSPECTION_CLIENT_SECRET",
                value: "(set)".into(),
                why: format!(
                    "Keycloak refused the client {} at its introspection endpoint ({why})",
                    introspector.settings.client_id
                ),
            });
        }
        CredentialCheck::Unreachable(why) => {
            tracing::warn!(target: "mcp_auth_steps::keycloak::introspection", reason = %why, "introspection endpoint not reachable at start; answering 503 until it is");
        }
    }
    Ok(Some(Arc::new(introspector)))
}

/// Removes a token's entry from [`Introspector`]'s map of calls under way when dropped.
struct Leave<'a>(
    &'a Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    [u8; 32],
);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.lock().expect("asking lock").remove(&self.1);
    }
}

impl TokenConfirmation for Introspector {
    fn confirm<'a>(&'a self, token: &'a str, _verified: Arc<Identity>) -> Confirming<'a> {
        Box::pin(self.confirm_token(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn introspector(ttl: u64, max_entries: usize) -> Introspector {
        Introspector::new(
            "http://kc/realms/r",
            "http://localhost:9000/mcp",
            "echo-mcp-server",
            IntrospectionSettings {
                client_id: "echo-mcp-server".into(),
                client_secret: "s3cret-value".into(),
                ttl: Duration::from_secs(ttl),
                max_entries,
            },
        )
    }

    fn active(overrides: Value) -> Value {
        let mut answer = json!({
            "active": true, "iss": "http://kc/realms/r",
            "aud": ["http://localhost:9000/mcp", "echo-mcp-server"], "exp": 2_000,
            "typ": "Bearer", "token_type": "Bearer", "scope": "openid mcp:read",
            "username": "mcp-user", "sub": "u-1",
            "resource_access": {"echo-mcp-server": {"roles": ["read-only"]}},
        });
        for (k, v) in overrides.as_object().unwrap() {
            answer[k] = v.clone();
        }
        answer
    }

    #[test]
    fn an_answer_is_judged_like_a_jwt() {
        let i = introspector(10, 10);
        let (identity, exp) = i.judge(&active(json!({})), 1_000).unwrap();
        assert_eq!(exp, 2_000);
        assert_eq!(identity.username.as_deref(), Some("mcp-user"));
        assert_eq!(identity.scopes, ["openid", "mcp:read"]);
        assert_eq!(identity.roles, ["read-only"]);
        for (answer, why) in [
            (
                json!({"active": false}),
                "token is not active (introspection)",
            ),
            (
                active(json!({"active": "true"})),
                "token is not active (introspection)",
            ),
            (
                active(json!({"iss": "http://kc/realms/other"})),
                "introspection: unexpected issuer",
            ),
            (
                active(json!({"aud": "echo-mcp-server"})),
                "introspection: unexpected audience",
            ),
            (
                active(json!({"aud": null})),
                "introspection: unexpected audience",
            ),
            (active(json!({"exp": 999})), "token expired (introspection)"),
            (
                active(json!({"typ": "Refresh", "token_type": "Refresh"})),
                "introspection: not an access token",
            ),
        ] {
            assert_eq!(i.judge(&answer, 1_000).unwrap_err(), why, "{answer}");
        }
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_no_token() {
        let i = introspector(10, 2);
        let keep = |n: u8, secs: u64| {
            i.keep(
                [n; 32],
                Answer {
                    result: Err(AuthError::InvalidToken("x".into())),
                    until: Instant::now() + Duration::from_secs(secs),
                },
            )
        };
        keep(1, 5);
        keep(2, 9);
        keep(3, 7);
        let answers = i.answers.lock().unwrap();
        assert_eq!(answers.len(), 2);
        assert!(
            !answers.contains_key(&[1; 32]),
            "the one closest to expiring went"
        );
        drop(answers);
        assert!(
            !format!("{i:?}").contains("s3cret-value"),
            "the secret is never shown"
        );
        let off = introspector(0, 10);
        off.keep(
            [1; 32],
            Answer {
                result: Err(AuthError::InvalidToken("x".into())),
                until: Instant::now(),
            },
        );
        assert!(
            off.answers.lock().unwrap().is_empty(),
            "ttl 0: nothing kept"
        );
    }

    /// A fake introspection endpoint (an imitation: Keycloak cannot be made to count or delay
    /// its answers) that answers `active` after 100 ms and counts its calls.
    async fn fake_endpoint(status: u16) -> (String, Arc<AtomicU64>) {
        use axum::routing::{get, post};
        let calls = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let issuer = format!("{base}/realms/r");
        let doc = json!({"introspection_endpoint": format!("{issuer}/introspect")});
        let counted = Arc::clone(&calls);
        let answer = active(json!({"iss": issuer, "exp": u64::MAX / 2}));
        let app = axum::Router::new()
            .route(
                "/realms/r/.well-known/openid-configuration",
                get(move || async move { axum::Json(doc) }),
            )
            .route(
                "/realms/r/introspect",
                post(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(answer),
                    )
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (issuer, calls)
    }

    fn settings(ttl: u64) -> IntrospectionSettings {
        IntrospectionSettings {
            client_id: "echo-mcp-server".into(),
            client_secret: "s".into(),
            ttl: Duration::from_secs(ttl),
            max_entries: 100,
        }
    }

    #[tokio::test]
    async fn concurrent_requests_with_one_token_make_one_call() {
        let (issuer, calls) = fake_endpoint(200).await;
        let i = Arc::new(Introspector::new(
            &issuer,
            "http://localhost:9000/mcp",
            "echo-mcp-server",
            settings(10),
        ));
        let all: Vec<_> = (0..16)
            .map(|_| {
                let i = Arc::clone(&i);
                tokio::spawn(async move { i.confirm_token("same-token").await })
            })
            .collect();
        for task in all {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one call for 16 concurrent requests"
        );
        assert_eq!(i.hits.load(Ordering::SeqCst), 15);
        assert!(i.asking.lock().unwrap().is_empty(), "no lock left behind");
    }

    #[tokio::test]
    async fn a_failing_issuer_is_asked_once_a_second_per_token_and_answers_503() {
        let (issuer, calls) = fake_endpoint(500).await;
        let i = Arc::new(Introspector::new(
            &issuer,
            "http://localhost:9000/mcp",
            "echo-mcp-server",
            settings(0),
        ));
        let all: Vec<_> = (0..8)
            .map(|_| {
                let i = Arc::clone(&i);
                tokio::spawn(async move { i.confirm_token("t").await })
            })
            .collect();
        for task in all {
            assert_eq!(
                task.await.unwrap().unwrap_err(),
                AuthError::ConfirmationUnavailable
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            i.health()["introspection"]["last_error"],
            json!("the introspection endpoint answered HTTP 500")
        );
    }

    #[test]
    fn token_check_names() {
        assert_eq!(TokenCheck::parse("jwt"), Some(TokenCheck::Jwt));
        assert_eq!(
            TokenCheck::parse(" introspection "),
            Some(TokenCheck::Introspection)
        );
        assert_eq!(TokenCheck::parse("opaque"), None);
        assert_eq!(TokenCheck::Introspection.name(), "introspection");
    }
}
