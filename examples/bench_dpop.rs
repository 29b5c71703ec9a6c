//! What DPoP (RFC 9449) costs per request, in-process on one thread (no sockets): step 10's
//! middleware with the verified-token cache, a bound token presented as `Bearer`-style (cache hit,
//! the DPoP mode off: what a bearer client costs) against `Authorization: DPoP` with a fresh proof
//! per request (`DPOP=accepted`: the same cache hit plus the proof's checks and the replay store).
//! The proofs are signed before each timed batch (a client's cost, reported on its own line). Then
//! the replay store under a flood of distinct proofs: 3 × its bound inserted, its size and the
//! process's peak RSS (VmHWM) before and after.
//!
//! ```text
//! cargo run --release --example bench_dpop          # from the repository root (demo key in keys/)
//! ```
//! `scripts/bench.sh` runs it and puts its table in docs/benchmarks.md.
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use axum::routing::post;
use axum::{Extension, Router};
use mcp_auth_steps::auth::bearer_auth::{BearerAuth, Challenge, KeySource, TokenValidator};
use mcp_auth_steps::auth::dpop::{DpopMode, ProofChecker, ProofKey, REPLAY_STORE_ENTRIES};
use mcp_auth_steps::auth::identity::Identity;
use mcp_auth_steps::auth::keys;
use mcp_auth_steps::auth::token::{self, TokenSpec};
use mcp_auth_steps::auth::token_cache::{DEFAULT_CAPACITY, TokenCache};
use serde_json::{Value, json};
use tower::{Service, ServiceExt};

const ISSUER: &str = "http://localhost:9000";
const AUDIENCE: &str = "http://localhost:9000/mcp";
const BATCH: usize = 20_000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Best of 3 batches of `BATCH` requests, µs per request; `proofs` gives each request's DPoP
/// header (none: `Authorization: Bearer`).
async fn measure(
    app: &mut Router,
    token: &str,
    mut proofs: impl FnMut() -> Option<Vec<String>>,
) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let batch = proofs();
        let started = Instant::now();
        for i in 0..BATCH {
            let mut request = Request::post("/mcp");
            request = match &batch {
                Some(p) => request
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", p[i].as_str()),
                None => request.header("authorization", format!("Bearer {token}")),
            };
            let request = request.body(Body::empty()).expect("a request");
            let response = ServiceExt::<Request<Body>>::ready(app)
                .await
                .expect("ready")
                .call(request)
                .await
                .expect("infallible");
            assert_eq!(
                response.status(),
                200,
                "{:?}",
                response.headers().get("www-authenticate")
            );
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    best
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    keys::install_crypto_provider();
    let key = keys::load_private_key(std::path::Path::new(keys::DEFAULT_PRIVATE_KEY))?;
    let spec = TokenSpec::demo("alice", ISSUER, AUDIENCE).expect("alice is a demo user");
    let (plain, claims) = token::mint(&key, &spec).map_err(anyhow::Error::msg)?;
    let client = ProofKey::generate();
    let mut bound: Value = serde_json::to_value(&claims)?;
    bound["cnf"] = json!({"jkt": client.thumbprint()});
    let bound = token::sign(&key, &bound).map_err(anyhow::Error::msg)?;
    let route = Router::new().route(
        "/mcp",
        post(|Extension(who): Extension<Arc<Identity>>| async move { who.log_name() }),
    );
    let stack = |mode: DpopMode| {
        let keys = KeySource::Local(Arc::new(key.public.clone()));
        let checker = Arc::new(ProofChecker::new(AUDIENCE).expect("a URL"));
        BearerAuth::new(TokenValidator::new(keys, ISSUER, AUDIENCE))
            .with_challenge(Challenge::default())
            .with_token_cache(Arc::new(TokenCache::new(DEFAULT_CAPACITY)))
            .with_dpop(mode, checker)
            .protect(route.clone())
    };

    let mut bearer = stack(DpopMode::Accepted);
    let bearer_us = measure(&mut bearer, &plain, || None).await;
    let mut sign_us = 0.0;
    let mut dpop = stack(DpopMode::Accepted);
    let dpop_us = measure(&mut dpop, &bound, || {
        let started = Instant::now();
        let now = token::now();
        let proofs = (0..BATCH)
            .map(|_| client.proof("POST", AUDIENCE, Some(&bound), None, now))
            .collect();
        sign_us = started.elapsed().as_secs_f64() * 1e6 / BATCH as f64;
        Some(proofs)
    })
    .await;
    println!(
        "| per request, one thread, verified-token cache hit | µs/request | requests/s | vs Bearer |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| `Authorization: Bearer` (an unbound token) | {bearer_us:.2} | {:.0} | 100% |",
        1e6 / bearer_us
    );
    println!(
        "| `Authorization: DPoP` + a fresh ES256 proof (`DPOP=accepted`) | {dpop_us:.2} | {:.0} | {:.0}% |",
        1e6 / dpop_us,
        100.0 * bearer_us / dpop_us
    );
    println!("| (the client's side: signing one proof) | {sign_us:.2} | | |");

    let checker = ProofChecker::new(AUDIENCE).expect("a URL");
    let before = peak_rss_kib();
    let now = token::now();
    let flood = 3 * REPLAY_STORE_ENTRIES;
    let started = Instant::now();
    for _ in 0..flood {
        let proof = client.proof("POST", AUDIENCE, Some(&bound), None, now);
        let request = mcp_auth_steps::auth::dpop::ProofRequest {
            method: "POST",
            proof: &proof,
            token: &bound,
            jkt: &client.thumbprint(),
        };
        checker.check(request, now).map_err(anyhow::Error::msg)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!();
    println!(
        "replay store flood: {flood} distinct valid proofs in {elapsed:.1} s (signing included); store holds {} (bound {REPLAY_STORE_ENTRIES}); peak RSS {} MiB before, {} MiB after",
        checker.remembered(),
        before / 1024,
        peak_rss_kib() / 1024
    );
    Ok(())
}
