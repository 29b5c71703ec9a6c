//! Step 10: the issuer's signing keys, fetched and cached.
//!
//! - OIDC discovery (`<issuer>/.well-known/openid-configuration`) gives `jwks_uri`; the document's
//!   `issuer` must equal the configured one.
//! - Keys are fetched at start (the server starts even when the issuer is down), refreshed in the
//!   background, and refetched at once when a token names an unknown `kid` — at most once per
//!   [`CacheSettings::min_refetch`] so that junk tokens cannot turn into a flood of fetches.
//! - A failed fetch keeps the last good keys. Keys with `use: enc`, a non-RSA `kty`, an `alg`
//!   other than RS256 or no `kid` are ignored.
//! - With no keys at all, verification reports [`KeyError::Unavailable`] (→ 503 + `Retry-After`),
//!   never a misleading `invalid_token`.
//! - In steady state a request costs one map lookup: zero fetches.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::auth::bearer_auth::{KeyError, KeyFuture, RemoteKeys};
use crate::auth::keys::PublicKey;

/// Timing knobs.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Background refresh period.
    pub refresh_every: Duration,
    /// Least time between two fetches triggered by unknown `kid`s.
    pub min_refetch: Duration,
    /// Per-request HTTP timeout.
    pub http_timeout: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            refresh_every: Duration::from_secs(300),
            min_refetch: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Fetched {
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    last_success: Option<Instant>,
}

/// The cache.
#[derive(Debug)]
pub struct JwksCache {
    issuer: String,
    client: reqwest::Client,
    settings: CacheSettings,
    keys: std::sync::RwLock<Arc<HashMap<String, Arc<PublicKey>>>>,
    fetch: Mutex<Fetched>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

impl JwksCache {
    /// A cache for `issuer`'s keys (nothing is fetched yet).
    pub fn new(issuer: &str, settings: CacheSettings) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(settings.http_timeout)
            .build()
            .expect("an HTTP client with default TLS settings can be built");
        Arc::new(Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            client,
            settings,
            keys: std::sync::RwLock::new(Arc::new(HashMap::new())),
            fetch: Mutex::new(Fetched::default()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// Fetches once now, then keeps refreshing every `refresh_every` in a background task.
    pub async fn start(self: &Arc<Self>) {
        if let Err(e) = self.refresh().await {
            tracing::warn!(target: "mcp_auth_steps::keycloak::jwks_cache", error = %e, "initial key fetch failed; serving 503 until keys arrive");
        }
        let cache = Arc::downgrade(self);
        let period = self.settings.refresh_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(cache) = cache.upgrade() else { break };
                if let Err(e) = cache.refresh().await {
                    tracing::warn!(target: "mcp_auth_steps::keycloak::jwks_cache", error = %e, "background key refresh failed; keeping the last good keys");
                }
            }
        });
    }

    /// The key for `kid`; an unknown `kid` triggers at most one rate-limited refetch. Still
    /// unknown after that: [`KeyError::UnknownKid`] when the last fetch succeeded, else
    /// [`KeyError::Unavailable`].
    // ANCHOR: unknown_kid_refetch
    pub async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, KeyError> {
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        let allowed = {
            let fetch = self.fetch.lock().await;
            fetch
                .last_attempt
                .is_none_or(|at| at.elapsed() >= self.settings.min_refetch)
        };
        if allowed {
            if let Err(e) = self.refresh_if_due(kid).await {
                tracing::warn!(target: "mcp_auth_steps::keycloak::jwks_cache", error = %e, "refetch for an unknown kid failed");
            }
            if let Some(key) = self.lookup(kid) {
                return Ok(key);
            }
        }
        // ANCHOR_END: unknown_kid_refetch
        // An unknown kid is a bad token only when the issuer's current keys are known: while the
        // last fetch failed (Keycloak down), it may be a key the issuer rotated in, so say
        // "unavailable" (503 + Retry-After) rather than "invalid".
        let issuer_unreachable = self.fetch.lock().await.last_error.is_some();
        if issuer_unreachable || self.keys.read().expect("key map lock").is_empty() {
            Err(KeyError::Unavailable)
        } else {
            Err(KeyError::UnknownKid)
        }
    }

    /// The key held for `kid`, without fetching.
    pub fn lookup(&self, kid: &str) -> Option<Arc<PublicKey>> {
        self.keys.read().expect("key map lock").get(kid).cloned()
    }

    /// Refetches unless another task did so within the window while we waited for the lock.
    async fn refresh_if_due(&self, kid: &str) -> Result<(), String> {
        let mut fetch = self.fetch.lock().await;
        if self.lookup(kid).is_some() {
            return Ok(());
        }
        if fetch
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.settings.min_refetch)
        {
            return Ok(());
        }
        self.refresh_locked(&mut fetch).await
    }

    /// Fetches discovery (once) and the JWKS now.
    pub async fn refresh(&self) -> Result<(), String> {
        let mut fetch = self.fetch.lock().await;
        self.refresh_locked(&mut fetch).await
    }

    async fn refresh_locked(&self, fetch: &mut Fetched) -> Result<(), String> {
        fetch.last_attempt = Some(Instant::now());
        let result = self.fetch_keys(fetch).await;
        match &result {
            Ok(count) => {
                fetch.last_success = Some(Instant::now());
                fetch.last_error = None;
                tracing::info!(target: "mcp_auth_steps::keycloak::jwks_cache", keys = count, "signing keys refreshed");
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                fetch.last_error = Some(e.clone());
            }
        }
        result.map(|_| ())
    }

    async fn fetch_keys(&self, fetch: &mut Fetched) -> Result<usize, String> {
        let jwks_uri = match &fetch.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                fetch.jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let jwks: Value = self.get_json(&jwks_uri).await?;
        let keys = usable_keys(&jwks);
        if keys.is_empty() {
            return Err(format!("{jwks_uri} holds no usable RS256 signing key"));
        }
        let count = keys.len();
        *self.keys.write().expect("key map lock") = Arc::new(keys);
        Ok(count)
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let doc: Value = self.get_json(&url).await?;
        let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
        if issuer != self.issuer {
            return Err(format!(
                "{url} names issuer {issuer:?}, expected {:?}",
                self.issuer
            ));
        }
        doc.get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{url} has no jwks_uri"))
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        get_json(&self.client, url).await
    }

    /// JWKS fetches so far (discovery not counted).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The `kid`s currently held.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self
            .keys
            .read()
            .expect("key map lock")
            .keys()
            .cloned()
            .collect();
        kids.sort();
        kids
    }

    /// What `/health` shows about the keys.
    pub fn health(&self) -> Map<String, Value> {
        let keys = self.keys.read().expect("key map lock").len();
        let (last_error, jwks_uri, age) = match self.fetch.try_lock() {
            Ok(f) => (
                f.last_error.clone(),
                f.jwks_uri.clone(),
                f.last_success.map(|t| t.elapsed().as_secs()),
            ),
            Err(_) => (None, None, None),
        };
        let mut keys_report = Map::new();
        keys_report.insert(
            "state".into(),
            if keys > 0 { "ok" } else { "unavailable" }.into(),
        );
        keys_report.insert("keys".into(), keys.into());
        keys_report.insert("fetches".into(), self.fetch_count().into());
        let optional = [
            ("jwks_uri", jwks_uri.map(Value::from)),
            ("seconds_since_refresh", age.map(Value::from)),
            ("last_error", last_error.map(Value::from)),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                keys_report.insert(key.into(), value);
            }
        }
        let mut out = Map::new();
        out.insert("issuer_keys".into(), Value::Object(keys_report));
        out
    }
}

impl RemoteKeys for JwksCache {
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
        Box::pin(JwksCache::key(self, kid))
    }

    fn lookup(&self, kid: &str) -> Option<Arc<PublicKey>> {
        JwksCache::lookup(self, kid)
    }
}

/// `GET url` → JSON, with errors that name the URL and the status.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// The RS256 signature keys of a JWKS document, by `kid`.
pub fn usable_keys(jwks: &Value) -> HashMap<String, Arc<PublicKey>> {
    let mut out = HashMap::new();
    let Some(list) = jwks.get("keys").and_then(Value::as_array) else {
        return out;
    };
    for jwk in list {
        let field = |k: &str| jwk.get(k).and_then(Value::as_str);
        if field("kty") != Some("RSA") || field("use").is_some_and(|u| u != "sig") {
            continue;
        }
        if field("alg").is_some_and(|a| a != "RS256") {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (field("kid"), field("n"), field("e")) else {
            continue;
        };
        if let Ok(mut key) = PublicKey::from_components(n, e) {
            key.kid = kid.to_string();
            out.insert(kid.to_string(), Arc::new(key));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_rs256_signature_keys_are_kept() {
        let key = crate::auth::keys::signing_key(&crate::auth::keys::generate().unwrap())
            .unwrap()
            .public;
        let jwk = key.jwk();
        let with = |k: &str, v: Value| {
            let mut j = jwk.clone();
            j[k] = v;
            j
        };
        let mut no_kid = jwk.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut no_use = with("kid", json!("no-use"));
        no_use.as_object_mut().unwrap().remove("use");
        let doc = json!({"keys": [
            with("kid", json!("good")),
            no_use,
            with("use", json!("enc")),
            with("kty", json!("EC")),
            with("alg", json!("RS512")),
            no_kid,
        ]});
        let kept = usable_keys(&doc);
        let mut kids: Vec<_> = kept.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, vec!["good", "no-use"]);
        assert!(usable_keys(&json!({})).is_empty());
    }
}
