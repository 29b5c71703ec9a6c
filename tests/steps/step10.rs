//! Step 10: the JWKS cache behind a real server, measured against a fake issuer that counts its
//! JWKS fetches and can rotate keys or go down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use mcp_auth_steps::auth::bearer_auth::{BearerAuth, Challenge, KeySource, TokenValidator};
use mcp_auth_steps::auth::identity;
use mcp_auth_steps::auth::keys::{self, SigningKey};
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::auth::token_cache::{DEFAULT_CAPACITY, TokenCache};
use mcp_auth_steps::keycloak::jwks_cache::{CacheSettings, JwksCache};
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use mcp_auth_steps::{auth::token, http::server, mcp::endpoint};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const AUDIENCE: &str = "echo-mcp-server";

struct FakeIssuer {
    url: String,
    jwks: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct IssuerState {
    url: String,
    jwks: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicU64>,
}

async fn discovery(State(s): State<IssuerState>) -> axum::Json<Value> {
    axum::Json(
        json!({"issuer": s.url, "jwks_uri": format!("{}/protocol/openid-connect/certs", s.url)}),
    )
}

async fn certs(State(s): State<IssuerState>) -> axum::Json<Value> {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(s.jwks.lock().unwrap().clone())
}

impl FakeIssuer {
    /// Serves discovery and a JWKS on `listener` (so that it can come back on the same port).
    fn serve(
        listener: TcpListener,
        url: String,
        jwks: Arc<std::sync::Mutex<Value>>,
        fetches: Arc<AtomicU64>,
    ) -> Self {
        let state = IssuerState {
            url: url.clone(),
            jwks: jwks.clone(),
            fetches: fetches.clone(),
        };
        let app = Router::new()
            .route(
                "/realms/test/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/realms/test/protocol/openid-connect/certs", get(certs))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            jwks,
            fetches,
            task,
        }
    }

    async fn start(keys: &[&SigningKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/realms/test", listener.local_addr().unwrap());
        let jwks = Arc::new(std::sync::Mutex::new(jwk_set(keys)));
        Self::serve(listener, url, jwks, Arc::new(AtomicU64::new(0)))
    }

    fn rotate_to(&self, keys: &[&SigningKey]) {
        *self.jwks.lock().unwrap() = jwk_set(keys);
    }

    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    fn stop(&self) {
        self.task.abort();
    }
}

fn jwk_set(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public.jwk()).collect::<Vec<_>>()})
}

fn new_key() -> SigningKey {
    keys::signing_key(&keys::generate().unwrap()).unwrap()
}

/// A Keycloak-shaped token; `extra` overrides or removes (null) claims.
fn keycloak_token(key: &SigningKey, issuer: &str, scope: &str, extra: Value) -> String {
    let now = token::now();
    let mut claims = json!({
        "iss": issuer, "aud": [AUDIENCE, "account"], "azp": "mcp-test-client",
        "sub": "9d8c7b6a", "preferred_username": "mcp-user", "typ": "Bearer",
        "iat": now, "exp": now + 300, "scope": scope,
        "resource_access": {AUDIENCE: {"roles": ["tools", "read-only"]}},
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    token::sign(key, &claims).unwrap()
}

struct Step10 {
    base: String,
    cache: Arc<JwksCache>,
    tokens: Arc<TokenCache>,
    client: reqwest::Client,
}

async fn step10(issuer: &str, min_refetch: Duration) -> Step10 {
    keys::install_crypto_provider();
    let settings = CacheSettings {
        min_refetch,
        refresh_every: Duration::from_secs(3600),
        ..CacheSettings::default()
    };
    let cache = JwksCache::new(issuer, settings);
    cache.start().await;
    let validator = TokenValidator::new(KeySource::Remote(cache.clone()), issuer, AUDIENCE)
        .with_client_roles(AUDIENCE);
    // As the step 10 binary: with the verified-token cache.
    let tokens = Arc::new(TokenCache::new(DEFAULT_CAPACITY));
    let auth = BearerAuth::new(validator)
        .with_challenge(Challenge::default())
        .with_token_cache(Arc::clone(&tokens));
    let mcp = McpService::new(ServerInfo::new("t", "T"))
        .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
        .with_dispatch()
        .with_policy(Policy::new("http://localhost/prm".into()));
    let app = auth.protect(endpoint::router(mcp));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(listener, app, std::future::pending()));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    Step10 {
        base,
        cache,
        tokens,
        client,
    }
}

impl Step10 {
    async fn call(&self, token: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/mcp", self.base))
            .bearer_auth(token)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}}))
            .send()
            .await
            .unwrap()
    }

    async fn status(&self, token: &str) -> u16 {
        self.call(token).await.status().as_u16()
    }
}

#[tokio::test]
async fn steady_state_makes_no_jwks_fetches() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let server = step10(&issuer.url, Duration::from_secs(10)).await;
    let token = keycloak_token(&key, &issuer.url, "openid mcp:tools", json!({}));
    assert_eq!(server.status(&token).await, 200, "warm-up request");
    let after_warm_up = issuer.fetches();
    assert_eq!(after_warm_up, 1);
    for _ in 0..1_000 {
        assert_eq!(server.status(&token).await, 200);
    }
    assert_eq!(
        issuer.fetches(),
        after_warm_up,
        "1,000 authenticated requests made JWKS fetches"
    );
    assert_eq!(server.cache.fetch_count(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let (old, new) = (new_key(), new_key());
    let issuer = FakeIssuer::start(&[&old]).await;
    let server = step10(&issuer.url, Duration::from_millis(0)).await;
    assert_eq!(
        server
            .status(&keycloak_token(&old, &issuer.url, "mcp:tools", json!({})))
            .await,
        200
    );
    issuer.rotate_to(&[&new]);
    let before = issuer.fetches();
    assert_eq!(
        server
            .status(&keycloak_token(&new, &issuer.url, "mcp:tools", json!({})))
            .await,
        200
    );
    assert_eq!(
        issuer.fetches(),
        before + 1,
        "exactly one refetch for the new kid"
    );
    assert_eq!(server.cache.kids(), vec![new.kid.clone()]);
}

#[tokio::test]
async fn unknown_kids_cannot_trigger_more_than_one_fetch_per_window() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let server = step10(&issuer.url, Duration::from_secs(30)).await;
    let before = issuer.fetches();
    let mut forged = key.clone();
    for i in 0..50 {
        forged.kid = format!("junk-{i}");
        let response = server
            .call(&keycloak_token(
                &forged,
                &issuer.url,
                "mcp:tools",
                json!({}),
            ))
            .await;
        assert_eq!(response.status().as_u16(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains("unknown signing key"), "{challenge}");
    }
    assert!(
        issuer.fetches() - before <= 1,
        "50 unknown kids caused {} fetches",
        issuer.fetches() - before
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_issuer_is_down() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let server = step10(&issuer.url, Duration::from_millis(0)).await;
    let token = keycloak_token(&key, &issuer.url, "mcp:tools", json!({}));
    assert_eq!(server.status(&token).await, 200);
    issuer.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..20 {
        assert_eq!(server.status(&token).await, 200);
    }
    server
        .cache
        .refresh()
        .await
        .expect_err("the issuer is down");
    assert_eq!(
        server.status(&token).await,
        200,
        "a failed refresh keeps the last good keys"
    );
    let health = server.cache.health();
    assert_eq!(health["issuer_keys"]["state"], "ok");
    assert!(health["issuer_keys"]["last_error"].as_str().is_some());
    // A token naming a kid we have never seen, while the issuer cannot be asked: it may be a
    // key the issuer rotated in, so 503 + Retry-After, not a misleading invalid_token.
    let rotated_in = keycloak_token(&new_key(), &issuer.url, "mcp:tools", json!({}));
    let response = server.call(&rotated_in).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(
        server.status(&token).await,
        200,
        "the cached key still serves"
    );
}

#[tokio::test]
async fn no_keys_at_all_is_503_with_retry_after_and_recovers() {
    let key = new_key();
    // Reserve a port, then keep the issuer down at first.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/realms/test");
    let server = step10(&url, Duration::from_millis(0)).await;
    let token = keycloak_token(&key, &url, "mcp:tools", json!({}));
    let response = server.call(&token).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(server.cache.health()["issuer_keys"]["state"], "unavailable");

    let listener = TcpListener::bind(addr).await.unwrap();
    let jwks = Arc::new(std::sync::Mutex::new(jwk_set(&[&key])));
    let issuer = FakeIssuer::serve(listener, url.clone(), jwks, Arc::new(AtomicU64::new(0)));
    assert_eq!(
        server.status(&token).await,
        200,
        "keys fetched on demand once the issuer is back"
    );
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn encryption_keys_are_not_used_for_signatures() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let mut enc = key.public.jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc-key");
    *issuer.jwks.lock().unwrap() = json!({"keys": [key.public.jwk(), enc]});
    let server = step10(&issuer.url, Duration::from_secs(30)).await;
    let mut as_enc = key.clone();
    as_enc.kid = "enc-key".into();
    assert_eq!(
        server
            .status(&keycloak_token(
                &as_enc,
                &issuer.url,
                "mcp:tools",
                json!({})
            ))
            .await,
        401
    );
    assert_eq!(server.cache.kids(), vec![key.kid.clone()]);
}

#[tokio::test]
async fn tokens_without_sub_or_username_are_valid_when_scopes_allow() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let server = step10(&issuer.url, Duration::from_secs(30)).await;
    let dcr_token = keycloak_token(
        &key,
        &issuer.url,
        "mcp:tools",
        json!({"sub": null, "preferred_username": null, "azp": "dcr-client-1"}),
    );
    let response = server
        .client
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&dcr_token)
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "whoami"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["result"]["structuredContent"]["client_id"],
        "dcr-client-1"
    );
    assert!(body["result"]["structuredContent"].get("subject").is_none());
    let read_only = keycloak_token(
        &key,
        &issuer.url,
        "mcp:read",
        json!({"sub": null, "resource_access": null}),
    );
    assert_eq!(server.status(&read_only).await, 403, "scopes still decide");
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_refused_even_with_a_good_key() {
    let key = new_key();
    let issuer = FakeIssuer::start(&[&key]).await;
    let server = step10(&issuer.url, Duration::from_secs(30)).await;
    let wrong_iss = keycloak_token(
        &key,
        &issuer.url,
        "mcp:tools",
        json!({"iss": "http://evil/realms/test"}),
    );
    let wrong_aud = keycloak_token(&key, &issuer.url, "mcp:tools", json!({"aud": "account"}));
    for (token, reason) in [
        (wrong_iss, "unexpected issuer"),
        (wrong_aud, "unexpected audience"),
    ] {
        let response = server.call(&token).await;
        assert_eq!(response.status().as_u16(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": reason})
        );
    }
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_leaves_the_jwks() {
    let (old, new) = (new_key(), new_key());
    let issuer = FakeIssuer::start(&[&old]).await;
    let server = step10(&issuer.url, Duration::from_millis(0)).await;
    let old_token = keycloak_token(&old, &issuer.url, "mcp:tools", json!({}));
    assert_eq!(server.status(&old_token).await, 200);
    assert_eq!(server.status(&old_token).await, 200);
    let stats = server.tokens.stats();
    assert_eq!((stats.entries, stats.hits, stats.misses), (1, 1, 1));

    issuer.rotate_to(&[&new]);
    let new_token = keycloak_token(&new, &issuer.url, "mcp:tools", json!({}));
    assert_eq!(
        server.status(&new_token).await,
        200,
        "new key after one refetch"
    );
    assert_eq!(server.cache.kids(), vec![new.kid.clone()]);

    let response = server.call(&old_token).await;
    assert_eq!(
        response.status().as_u16(),
        401,
        "the cache must not outlive the key"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_description"], "unknown signing key (kid)");
    assert_eq!(
        server.tokens.stats().entries,
        1,
        "only the new token is left"
    );
}
