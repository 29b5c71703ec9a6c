//! What a caller without a person costs (step 11's `--client-credentials`), against a running
//! Keycloak with the tutorial's realm: signing one `private_key_jwt` client assertion (ES256,
//! in-process, 10,000 times), then 100 client credentials token requests each way — with a
//! signed assertion (`mcp-agent`, the demo key in keys/agent_private_key.pem) and with the demo
//! secret (`mcp-agent-basic`) — both with `resource`, as step 11 sends them. One request at a time,
//! a kept-alive connection: the time an agent spends on its token before its first MCP call.
//!
//! ```text
//! cargo run --release --example bench_agent    # Keycloak on KEYCLOAK_URL (default :8080)
//! ```
//! `scripts/bench/agent.sh` runs it and puts its table in docs/benchmarks.md.
use std::time::{Duration, Instant};

use mcp_auth_steps::client::token_endpoint::{ASSERTION_TYPE_JWT, AssertionKey};

const REQUESTS: usize = 100;
const SIGNATURES: u32 = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let base = std::env::var("KEYCLOAK_URL").unwrap_or_else(|_| "http://localhost:8080".into());
    let issuer = format!("{base}/realms/mcp-realm");
    let token_endpoint = format!("{issuer}/protocol/openid-connect/token");
    let pem = std::fs::read("keys/agent_private_key.pem").expect("keys/agent_private_key.pem");
    let key = AssertionKey::from_pem(&pem).expect("a P-256 key");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let started = Instant::now();
    for _ in 0..SIGNATURES {
        std::hint::black_box(key.assertion("mcp-agent", &issuer, now()).unwrap());
    }
    let per_signature = started.elapsed().as_secs_f64() * 1e6 / f64::from(SIGNATURES);

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let resource = "http://localhost:9000/mcp";
    println!("| client authentication | token requests | p50 | p95 | max |");
    println!("|---|---|---|---|---|");
    for way in [
        "private_key_jwt (mcp-agent)",
        "client_secret_basic (mcp-agent-basic)",
    ] {
        let mut times = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let mut form = vec![
                ("grant_type", "client_credentials".to_string()),
                ("resource", resource.to_string()),
                ("scope", "mcp:read mcp:tools".to_string()),
            ];
            let mut request = http.post(&token_endpoint);
            if way.starts_with("private_key_jwt") {
                form.push(("client_assertion_type", ASSERTION_TYPE_JWT.to_string()));
                form.push((
                    "client_assertion",
                    key.assertion("mcp-agent", &issuer, now()).unwrap(),
                ));
            } else {
                request =
                    request.basic_auth("mcp-agent-basic", Some("mcp-agent-demo-secret-change-me"));
            }
            let t = Instant::now();
            let response = request.form(&form).send().await.expect("Keycloak answers");
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            times.push(t.elapsed());
            assert!(
                status.is_success(),
                "{way}: HTTP {status} {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
        times.sort();
        println!(
            "| {way} | {REQUESTS} | {:.1} ms | {:.1} ms | {:.1} ms |",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 1.0)
        );
    }
    println!();
    println!("client assertion signed (ES256, in-process): {per_signature:.1} µs each");
}
