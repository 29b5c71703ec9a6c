//! What each layer of step 8 costs per request, measured in-process (no sockets, one thread): the
//! `POST /mcp` route alone, then the policy, bearer auth (with the verified-token cache, and
//! without it), CORS, the Origin guard and the request log, added one at a time in step 8's
//! order, after the bench baseline's bare handler (`examples/bench_baseline.rs`) as the first row.
//! Each figure is the best of 5 batches of 50,000 `tools/call echo` requests sent to one instance
//! of the stack, as on one connection (building the request and reading the answer included).
//!
//! ```text
//! cargo run --release --example bench_layers                        # log line: none (no subscriber)
//! cargo run --release --example bench_layers -- --log 2>/tmp/log    # with the INFO line per request
//! ```
//!
//! `scripts/bench.sh` measures the whole servers over real sockets; this example says which layer
//! the difference comes from. It uses the demo key in `keys/` (run it from the repository root).
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::http::Request;
use mcp_auth_steps::auth::bearer_auth::{BearerAuth, Challenge, KeySource, TokenValidator};
use mcp_auth_steps::auth::identity::{self, Identity};
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::auth::token::{self, TokenSpec};
use mcp_auth_steps::auth::token_cache::{DEFAULT_CAPACITY, TokenCache};
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::service::HttpService;
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use mcp_auth_steps::{auth::keys, http::cors, http::server, mcp::endpoint};
use tower::ServiceExt;

#[allow(dead_code)] // only its `router` is used here
#[path = "bench_baseline.rs"]
mod baseline;

const ISSUER: &str = "http://localhost:9000";
const AUDIENCE: &str = "http://localhost:9000/mcp";
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    /// The identity is put in place by an `Extension` layer (what auth would hand over).
    None,
    Cached,
    Plain,
}

struct Stack {
    label: &'static str,
    policy: bool,
    auth: Auth,
    cors: bool,
    guard: bool,
    log: bool,
}

/// Builds stack `s` (each with its concrete type: no extra boxing) and measures it.
async fn measure(s: &Stack, public: &keys::PublicKey, token: &str, requests: u32) -> f64 {
    let mut service = McpService::new(ServerInfo::new("bench", "Bench"))
        .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
        .with_dispatch();
    if s.policy {
        service = service.with_policy(Policy::new(format!("{ISSUER}/prm")));
    }
    let mut app = endpoint::router(service);
    if s.auth == Auth::None {
        app = app.layer(Extension(Arc::new(Identity {
            username: Some("alice".into()),
            scopes: vec!["mcp:read".into(), "mcp:tools".into()],
            roles: vec!["user".into()],
            ..Identity::default()
        })));
    } else {
        let keys = KeySource::Local(Arc::new(public.clone()));
        let mut auth = BearerAuth::new(TokenValidator::new(keys, ISSUER, AUDIENCE))
            .with_challenge(Challenge::default());
        if s.auth == Auth::Cached {
            auth = auth.with_token_cache(Arc::new(TokenCache::new(DEFAULT_CAPACITY)));
        }
        app = auth.protect(app);
    }
    // The same order as step 8: request log, Origin guard, CORS, router.
    let guard = OriginGuard::default();
    match (s.cors, s.guard, s.log) {
        (false, false, false) => best_of_5(app, token, requests).await,
        (true, false, false) => best_of_5(cors::wrap(&guard, app), token, requests).await,
        (true, true, false) => {
            let app = cors::wrap(&guard, app);
            best_of_5(guard.protect(app), token, requests).await
        }
        (true, true, true) => {
            let app = cors::wrap(&guard, app);
            best_of_5(server::finish(guard.protect(app)), token, requests).await
        }
        _ => unreachable!("the stacks add layers in step 8's order"),
    }
}

/// Best of 5 batches; requests go to one instance of the stack, as on one connection.
async fn best_of_5(mut app: impl HttpService, token: &str, requests: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..requests {
            let request = Request::post("/mcp")
                .header("host", "127.0.0.1:9000")
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(BODY))
                .expect("a valid request");
            let Ok(response) = app.ready().await.expect("ready").call(request).await;
            assert_eq!(response.status(), 200);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            std::hint::black_box(body.expect("a body"));
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(requests));
    }
    best
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let log_lines = std::env::args().any(|a| a == "--log");
    let _log = if log_lines {
        Some(request_log::init_logging()?)
    } else {
        None
    };
    keys::install_crypto_provider();
    let key = keys::load_private_key(std::path::Path::new(keys::DEFAULT_PRIVATE_KEY))?;
    let spec = TokenSpec::demo("alice", ISSUER, AUDIENCE).expect("alice is a demo user");
    let (token, _) = token::mint(&key, &spec).map_err(anyhow::Error::msg)?;
    let stack = |label, policy, auth, cors, guard, log| Stack {
        label,
        policy,
        auth,
        cors,
        guard,
        log,
    };
    let stacks = [
        stack("POST /mcp route", false, Auth::None, false, false, false),
        stack("+ policy", true, Auth::None, false, false, false),
        stack(
            "+ bearer auth, cache hit",
            true,
            Auth::Cached,
            false,
            false,
            false,
        ),
        stack("+ CORS", true, Auth::Cached, true, false, false),
        stack("+ Origin guard", true, Auth::Cached, true, true, false),
        stack(
            "+ request log (step 8)",
            true,
            Auth::Cached,
            true,
            true,
            true,
        ),
        stack(
            "step 8, token cache off",
            true,
            Auth::Plain,
            true,
            true,
            true,
        ),
    ];
    println!(
        "| stack ({}) | µs/request | added |",
        if log_lines {
            "INFO line per request on stderr"
        } else {
            "no log subscriber"
        }
    );
    println!("|---|---:|---:|");
    let bare = best_of_5(baseline::router(), &token, 50_000).await;
    println!("| bare handler (`examples/bench_baseline.rs`) | {bare:.2} |  |");
    let mut previous: Option<f64> = None;
    for s in &stacks {
        let requests = if s.auth == Auth::Plain { 5_000 } else { 50_000 };
        let cost = measure(s, &key.public, &token, requests).await;
        let added = match (previous, s.label.starts_with('+')) {
            (Some(p), true) => format!("{:+.2}", cost - p),
            _ => String::new(),
        };
        println!("| {} | {cost:.2} | {added} |", s.label);
        if s.label.starts_with('+') || previous.is_none() {
            previous = Some(cost);
        }
    }
    Ok(())
}
