//! Steps 8 and 10: the verified-token cache — verify a bearer token once, then recognise it.
//!
//! MCP clients send the same access token on every request until it expires. Verifying it again
//! each time costs one RS256 signature check (about 40 µs with aws-lc-rs on this project's 2-core
//! machine) plus parsing its header and claims. The cache remembers *the outcome* of a successful
//! verification — the [`Identity`], the token's `exp` and the key that verified it — so that the
//! next request with the very same token costs one SHA-256 and one map lookup. It is switched on
//! with `BearerAuth::with_token_cache` in steps 8 and 10 only; steps 6–7
//! keep the plain path so the tutorial shows verification first.
//!
//! # Security reasoning
//!
//! - **Keyed by SHA-256 of the token, never the token.** The process memory holds no usable bearer
//!   credential (a heap dump, a core file or a careless `Debug` print reveals digests, not
//!   tokens), and every key is 32 bytes whatever the token's size, so the bound below is a bound
//!   on memory. SHA-256 is collision resistant: two different tokens never share an entry, so a
//!   hit means "this exact string was verified before". A hit is only ever served for a token that
//!   passed the full check (signature, `alg`, `iss`, `aud`, `exp`, `nbf`, `iat`); failures are not
//!   cached.
//! - **Never past `exp`.** Every hit compares the token's own `exp` with the clock; at `exp` the
//!   entry is dropped and the token goes through full verification again (which still grants the
//!   stated leeway, exactly as without the cache, and then refuses it). The cache can therefore
//!   never make a token live longer than the issuer said.
//! - **`nbf` and `iat`** need no check on a hit: only tokens that were already valid are stored,
//!   and time only moves forward past `nbf`. (A wall clock stepped backwards by more than the
//!   leeway could make a cached token look "not yet valid" to a fresh check; the cache would still
//!   serve it until `exp`. That is the one difference, and it needs an operator moving the clock.)
//! - **Keys that leave the JWKS.** Each entry remembers the key that verified it. On every hit the
//!   caller checks that this key is still published (same `kid`, same modulus and exponent — the
//!   step 10 JWKS cache refreshes in the background and on unknown `kid`s); if it is not, every
//!   entry of that key is dropped and the token is verified again, which now fails. Rotating a key
//!   out is the one revocation signal a JWT resource server gets without calling the issuer, and
//!   the cache honours it at the same moment the plain path would.
//! - **Revocation in general.** A JWT is self-contained: without token introspection (RFC 7662)
//!   a resource server cannot learn that a token was revoked before `exp` — with or without this
//!   cache. Keep access tokens short-lived (Keycloak's default is 5 minutes); the cache adds no
//!   window of its own.
//! - **Bounded.** At most `capacity` entries ([`DEFAULT_CAPACITY`] = 10,000, a few MiB). When a
//!   new token does not fit, expired entries are swept first; if that frees nothing, the oldest
//!   eighth of the entries (by insertion order) is evicted in one pass, so the cost of eviction is
//!   amortised to a few operations per insert. An attacker holding many *valid* tokens can only
//!   push other tokens out, which costs them one extra verification — never a wrong answer.
//! - **One validator per cache.** An entry means "valid for *this* issuer and audience"; the cache
//!   is owned by one `BearerAuth` and must not be shared between validators
//!   with different settings.
//!
//! Only `std` is used (`Mutex<HashMap>`): the critical section is one lookup or insert, far
//! shorter than the RSA check it replaces, and this server has two worker threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::auth::identity::Identity;
use crate::auth::keys::{self, PublicKey};
use crate::http::config::ConfigError;

/// The capacity steps 8 and 10 use.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The `--token-cache-size` flag of steps 8 and 10.
#[derive(clap::Args, Debug, Clone)]
pub struct TokenCacheArgs {
    /// Verified tokens remembered until their `exp` (0 switches the cache off; default 10000).
    #[arg(long = "token-cache-size", env = "TOKEN_CACHE_SIZE")]
    pub token_cache_size: Option<String>,
}

impl TokenCacheArgs {
    /// The cache these flags describe (step 8; step 10 resolves the size with its env file).
    pub fn build(&self) -> Result<Arc<TokenCache>, ConfigError> {
        let size = parse_size(self.token_cache_size.as_deref().unwrap_or(""))?;
        Ok(Arc::new(TokenCache::new(size)))
    }
}

/// `TOKEN_CACHE_SIZE`: a whole number of entries; empty means the default.
pub fn parse_size(raw: &str) -> Result<usize, ConfigError> {
    if raw.trim().is_empty() {
        return Ok(DEFAULT_CAPACITY);
    }
    raw.trim().parse().map_err(|_| ConfigError::Invalid {
        name: "TOKEN_CACHE_SIZE",
        value: raw.to_string(),
        why: "a whole number of entries is expected (0 switches the cache off)".into(),
    })
}

type Digest = [u8; 32];

/// What a successful verification produced: what the cache keeps.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The caller (shared: a cache hit hands out the same identity, not a copy).
    pub identity: Arc<Identity>,
    /// The token's `exp` (seconds since the epoch).
    pub exp: i64,
    /// The key whose signature check passed.
    pub key: Arc<PublicKey>,
}

struct Entry {
    identity: Arc<Identity>,
    exp: i64,
    key: Arc<PublicKey>,
    seq: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Digest, Entry>,
    next_seq: u64,
}

/// Counters, for `/health` and the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// The bound.
    pub capacity: usize,
    /// Entries held now.
    pub entries: usize,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that needed a full verification.
    pub misses: u64,
    /// Entries removed to make room (expired sweeps not counted).
    pub evictions: u64,
}

/// The cache. Cheap to share behind an `Arc`.
pub struct TokenCache {
    capacity: usize,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    // Counts only: digests are not secrets, but nothing about tokens belongs in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stats = self.stats();
        f.debug_struct("TokenCache")
            .field("capacity", &stats.capacity)
            .field("entries", &stats.entries)
            .finish_non_exhaustive()
    }
}

/// Are `a` and `b` the same key (same `kid`, same RSA modulus and exponent)?
pub fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    std::ptr::eq(a, b) || (a.kid == b.kid && a.n == b.n && a.e == b.e)
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0 stores nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written entry: recover the map.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The identity for `token` if it was verified before, `now < exp`, and
    /// `key_is_current(key that verified it)` still holds. Otherwise `None`: verify it in full.
    ///
    /// A hit whose key is no longer current drops every entry of that key.
    pub fn get(
        &self,
        token: &str,
        now: i64,
        key_is_current: impl FnOnce(&PublicKey) -> bool,
    ) -> Option<Arc<Identity>> {
        let digest = keys::sha256(token.as_bytes());
        let found = {
            let mut state = self.lock();
            match state.entries.get(&digest) {
                Some(entry) if now < entry.exp => {
                    Some((Arc::clone(&entry.identity), Arc::clone(&entry.key)))
                }
                Some(_) => {
                    state.entries.remove(&digest);
                    None
                }
                None => None,
            }
        };
        match found {
            Some((identity, key)) if key_is_current(&key) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(identity)
            }
            Some((_, key)) => {
                self.forget_key(&key);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Remembers that `token` verified. Tokens already expired at `now` are not stored.
    pub fn insert(&self, token: &str, verified: Verified, now: i64) {
        if self.capacity == 0 || verified.exp <= now {
            return;
        }
        let digest = keys::sha256(token.as_bytes());
        let mut state = self.lock();
        if !state.entries.contains_key(&digest) && state.entries.len() >= self.capacity {
            let evicted = make_room(&mut state, self.capacity, now);
            self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.entries.insert(
            digest,
            Entry {
                identity: verified.identity,
                exp: verified.exp,
                key: verified.key,
                seq,
            },
        );
    }

    /// Drops every entry verified by `key` (it left the issuer's key set). Returns how many.
    pub fn forget_key(&self, key: &PublicKey) -> usize {
        let mut state = self.lock();
        let before = state.entries.len();
        state.entries.retain(|_, e| !same_key(&e.key, key));
        before - state.entries.len()
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        Stats {
            capacity: self.capacity,
            entries: self.lock().entries.len(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// What `/health` shows: `{"token_cache": {capacity, entries, hits, misses, evictions}}`.
    pub fn health(&self) -> Map<String, Value> {
        let s = self.stats();
        let mut report = Map::new();
        report.insert("capacity".into(), s.capacity.into());
        report.insert("entries".into(), s.entries.into());
        report.insert("hits".into(), s.hits.into());
        report.insert("misses".into(), s.misses.into());
        report.insert("evictions".into(), s.evictions.into());
        let mut out = Map::new();
        out.insert("token_cache".into(), Value::Object(report));
        out
    }
}

/// Frees at least one slot: expired entries first, then the oldest eighth. Returns the number of
/// live entries evicted.
fn make_room(state: &mut State, capacity: usize, now: i64) -> usize {
    state.entries.retain(|_, e| now < e.exp);
    if state.entries.len() < capacity {
        return 0;
    }
    let excess = state.entries.len() + 1 - capacity;
    let batch = excess.max(capacity / 8).max(1).min(state.entries.len());
    let mut seqs: Vec<u64> = state.entries.values().map(|e| e.seq).collect();
    let (_, cutoff, _) = seqs.select_nth_unstable(batch - 1);
    let cutoff = *cutoff;
    let before = state.entries.len();
    state.entries.retain(|_, e| e.seq > cutoff);
    before - state.entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key(label: &str) -> Arc<PublicKey> {
        // Two real keys, generated once (RSA generation is slow in debug builds).
        static KEYS: OnceLock<(PublicKey, PublicKey)> = OnceLock::new();
        let (a, b) = KEYS.get_or_init(|| {
            let make = || {
                crate::auth::keys::signing_key(&crate::auth::keys::generate().unwrap())
                    .unwrap()
                    .public
            };
            (make(), make())
        });
        Arc::new(if label == "a" { a.clone() } else { b.clone() })
    }

    fn verified(user: &str, exp: i64, key: &Arc<PublicKey>) -> Verified {
        Verified {
            identity: Arc::new(Identity {
                username: Some(user.into()),
                ..Identity::default()
            }),
            exp,
            key: Arc::clone(key),
        }
    }

    const NOW: i64 = 1_000_000;

    #[test]
    fn a_hit_returns_the_identity_of_that_exact_token() {
        let cache = TokenCache::new(10);
        let k = key("a");
        cache.insert("token-1", verified("alice", NOW + 60, &k), NOW);
        cache.insert("token-2", verified("bob", NOW + 60, &k), NOW);
        let name = |t: &str| cache.get(t, NOW, |_| true).and_then(|i| i.username.clone());
        assert_eq!(name("token-1").as_deref(), Some("alice"));
        assert_eq!(name("token-2").as_deref(), Some("bob"));
        assert_eq!(name("token-3"), None);
        assert_eq!(name("token-1 "), None);
        assert_eq!(name("Token-1"), None);
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.entries), (2, 3, 2));
    }

    #[test]
    fn never_served_at_or_after_exp() {
        let cache = TokenCache::new(10);
        let k = key("a");
        cache.insert("t", verified("alice", NOW + 10, &k), NOW);
        assert!(cache.get("t", NOW + 9, |_| true).is_some());
        assert!(cache.get("t", NOW + 10, |_| true).is_none());
        assert_eq!(cache.stats().entries, 0, "the expired entry is dropped");
        assert!(
            cache.get("t", NOW + 9, |_| true).is_none(),
            "and stays gone"
        );
        cache.insert("old", verified("alice", NOW, &k), NOW);
        assert_eq!(cache.stats().entries, 0, "an expired token is not stored");
    }

    #[test]
    fn a_key_that_left_the_key_set_drops_its_tokens() {
        let cache = TokenCache::new(10);
        let (a, b) = (key("a"), key("b"));
        cache.insert("ta1", verified("u1", NOW + 60, &a), NOW);
        cache.insert("ta2", verified("u2", NOW + 60, &a), NOW);
        cache.insert("tb", verified("u3", NOW + 60, &b), NOW);
        // The key set now holds only b (the caller checks the key that verified the token).
        let current = |k: &PublicKey| same_key(k, &b);
        assert!(cache.get("ta1", NOW, current).is_none());
        assert_eq!(cache.stats().entries, 1, "both tokens of key a are gone");
        assert!(cache.get("ta2", NOW, |_| true).is_none());
        assert!(cache.get("tb", NOW, current).is_some());
    }

    #[test]
    fn same_key_compares_material_not_just_kid() {
        let (a, b) = (key("a"), key("b"));
        let mut b_with_a_kid = (*b).clone();
        b_with_a_kid.kid = a.kid.clone();
        assert!(same_key(&a, &key("a")));
        assert!(!same_key(&a, &b));
        assert!(!same_key(&a, &b_with_a_kid));
    }

    #[test]
    fn size_is_bounded_expired_first_then_oldest() {
        let cache = TokenCache::new(16);
        let k = key("a");
        for i in 0..8 {
            cache.insert(&format!("short-{i}"), verified("s", NOW + 5, &k), NOW);
        }
        for i in 0..8 {
            cache.insert(&format!("long-{i}"), verified("l", NOW + 600, &k), NOW);
        }
        assert_eq!(cache.stats().entries, 16);
        // Later, the short-lived ones have expired: room is made from them, nothing live evicted.
        cache.insert("new", verified("n", NOW + 600, &k), NOW + 10);
        let s = cache.stats();
        assert_eq!((s.entries, s.evictions), (9, 0));
        // Fill up with live tokens: the oldest live ones go first.
        for i in 0..1000 {
            cache.insert(&format!("x-{i}"), verified("x", NOW + 600, &k), NOW + 10);
            assert!(cache.stats().entries <= 16);
        }
        assert!(cache.get("long-0", NOW + 10, |_| true).is_none());
        assert!(cache.get("x-999", NOW + 10, |_| true).is_some());
        assert!(cache.stats().evictions > 0);
    }

    #[test]
    fn capacity_zero_stores_nothing() {
        let cache = TokenCache::new(0);
        cache.insert("t", verified("a", NOW + 60, &key("a")), NOW);
        assert!(cache.get("t", NOW, |_| true).is_none());
    }

    #[test]
    fn debug_output_shows_no_digests() {
        let cache = TokenCache::new(4);
        cache.insert("secret-token", verified("a", NOW + 60, &key("a")), NOW);
        let shown = format!("{cache:?}");
        assert_eq!(shown, "TokenCache { capacity: 4, entries: 1, .. }");
    }
}
