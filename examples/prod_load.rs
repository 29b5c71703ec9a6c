//! Steady load for the production checks (`scripts/test_production.sh`): N workers send
//! authenticated `tools/call echo` requests (the 2026-07-28 shape, so any replica can answer any
//! request) one after another over kept-alive HTTPS connections, until a stop file appears or a
//! deadline passes, and count every request that did not get its answer.
//!
//! ```text
//! SSL_CERT_FILE=.production/ca/ca.crt cargo run --example prod_load -- \
//!     --url https://localhost:9443/mcp --token-file TOKEN --workers 8 --stop-file STOP
//! ```
//!
//! The server's certificate is checked like any client of this project checks it (reqwest with
//! rustls and the platform verifier): trust the demo CA with `SSL_CERT_FILE`, never by turning
//! verification off. The token is read from a file and never printed.
//!
//! Prints one JSON object: `sent`, `ok`, `failed`, `failures` (reason → count: an HTTP status,
//! an unexpected body, or the transport error's kind), `first_failure_ms` and `last_failure_ms`
//! (since the start; null when none failed), `seconds` and `per_second`. Exit 0 when the run
//! happened (whatever failed), 2 on bad usage.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use mcp_auth_steps::auth::keys;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "Steady tools/call load; counts the requests that failed")]
struct Args {
    /// The MCP endpoint.
    #[arg(long)]
    url: String,
    /// A file whose first line is the access token (never printed).
    #[arg(long)]
    token_file: PathBuf,
    /// Requests in flight at once (one per worker).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Stop when this file exists.
    #[arg(long)]
    stop_file: Option<PathBuf>,
    /// Stop after this many seconds in any case.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    failures: BTreeMap<String, u64>,
    first_failure_ms: Option<u128>,
    last_failure_ms: Option<u128>,
}

fn request_body(n: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": n, "method": "tools/call",
        "params": {
            "name": "echo", "arguments": {"message": format!("load {n}")},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "prod_load", "version": "1"}
            }
        }
    })
}

/// `None` when the answer is the echo of request `n`, else why not.
async fn judge(n: u64, answer: Result<reqwest::Response, reqwest::Error>) -> Option<String> {
    let response = match answer {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Some("transport: timeout".into()),
        Err(e) if e.is_connect() => return Some("transport: connect".into()),
        Err(e) if e.is_request() => return Some("transport: request".into()),
        Err(_) => return Some("transport: other".into()),
    };
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Some(format!("HTTP {}", status.as_u16()));
    }
    let Ok(body) = response.json::<Value>().await else {
        return Some("body: not JSON".into());
    };
    let text = body
        .pointer("/result/content/0/text")
        .and_then(Value::as_str);
    if body["id"] == json!(n) && text == Some(format!("load {n}").as_str()) {
        None
    } else {
        Some("body: not the echo".into())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    keys::install_crypto_provider();
    let args = Args::parse();
    let token = match std::fs::read_to_string(&args.token_file) {
        Ok(text) => text.lines().next().unwrap_or_default().trim().to_string(),
        Err(e) => {
            eprintln!(
                "prod_load: cannot read --token-file {}: {e}",
                args.token_file.display()
            );
            std::process::exit(2);
        }
    };
    if token.is_empty() || args.workers == 0 {
        eprintln!("prod_load: the token file is empty or --workers is 0");
        std::process::exit(2);
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.max_seconds);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let (client, tally, next) = (client.clone(), tally.clone(), next.clone());
        let (url, token, stop) = (args.url.clone(), token.clone(), args.stop_file.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline && !stop.as_ref().is_some_and(|f| f.exists()) {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let answer = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Accept", "application/json, text/event-stream")
                    .header("MCP-Protocol-Version", "2026-07-28")
                    .header("Mcp-Method", "tools/call")
                    .header("Mcp-Name", "echo")
                    .json(&request_body(n))
                    .send()
                    .await;
                let verdict = judge(n, answer).await;
                let at = started.elapsed().as_millis();
                let mut t = tally.lock().expect("tally");
                t.sent += 1;
                match verdict {
                    None => t.ok += 1,
                    Some(reason) => {
                        *t.failures.entry(reason).or_default() += 1;
                        t.first_failure_ms.get_or_insert(at);
                        t.last_failure_ms = Some(at);
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a worker");
    }
    let seconds = started.elapsed().as_secs_f64();
    let t = tally.lock().expect("tally");
    let summary = json!({
        "sent": t.sent,
        "ok": t.ok,
        "failed": t.sent - t.ok,
        "failures": t.failures,
        "first_failure_ms": t.first_failure_ms,
        "last_failure_ms": t.last_failure_ms,
        "seconds": (seconds * 10.0).round() / 10.0,
        "per_second": (t.sent as f64 / seconds).round(),
    });
    println!("{summary}");
}
