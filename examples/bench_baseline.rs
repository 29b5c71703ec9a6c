//! Benchmark baseline (not a tutorial step): the JSON-RPC work of `tools/call echo` with nothing
//! around it — no Origin guard, no CORS, no bearer auth, no policy, no request log.
//!
//! `scripts/bench.sh` runs it next to step 8 and step 10 and reports their throughput as a ratio
//! to this one, which holds on a noisy machine where absolute figures do not. The handler reads
//! the body as bytes, parses it with [`jsonrpc::parse`] and answers with the same
//! [`McpService`] (echo catalog, dispatch on) the steps use, so the result is byte-for-byte the
//! one step 8 returns.
//!
//! ```text
//! cargo run --release --example bench_baseline -- --port 0      # prints "listening on http://127.0.0.1:PORT"
//! curl -s http://127.0.0.1:PORT/mcp -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
//! ```
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use mcp_auth_steps::http::server;
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::{McpService, Outcome};
use mcp_auth_steps::mcp::jsonrpc::{self, Incoming};
use mcp_auth_steps::mcp::lifecycle::{Era, MODERN_VERSION, ServerInfo};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Benchmark baseline: JSON-RPC tools/call echo, no auth, no log")]
struct Args {
    /// Address to bind (loopback).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 9100)]
    port: u16,
}

/// The baseline's `POST /mcp` handler.
/// A modern request (`MCP-Protocol-Version: 2026-07-28`) gets the modern result shape, with none
/// of the era checks: the baseline is the bare work.
/// (The request is taken apart rather than extracted piecewise: a `HeaderMap` extractor would
/// clone the headers, work the servers do not do.)
pub async fn mcp(State(service): State<Arc<McpService>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let era = match parts.headers.get("mcp-protocol-version") {
        Some(v) if v == MODERN_VERSION => Era::Modern,
        _ => Era::Legacy,
    };
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match jsonrpc::parse(&body) {
        Ok(Incoming::Request { id, method, params }) => {
            match service.handle(era, &method, params.as_ref(), &Extensions::new()) {
                Outcome::Result(result) => Json(jsonrpc::success(&id, result)).into_response(),
                Outcome::Error(error) => Json(jsonrpc::failure(Some(&id), &error)).into_response(),
                Outcome::Forbidden(_) => StatusCode::FORBIDDEN.into_response(),
            }
        }
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(malformed) => (
            StatusCode::BAD_REQUEST,
            Json(jsonrpc::failure(malformed.id.as_ref(), &malformed.error)),
        )
            .into_response(),
    }
}

/// The baseline's routes: `GET /health` and `POST /mcp` (also measured in-process by
/// `examples/bench_layers.rs`, which includes this file).
pub fn router() -> Router {
    let service = McpService::new(ServerInfo::new("bench-baseline", "Benchmark baseline"))
        .with_catalog(Catalog::echo())
        .with_dispatch();
    Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .route("/mcp", post(mcp))
        .with_state(Arc::new(service))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = server::bind(&args.host, args.port).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router())
        .with_graceful_shutdown(server::shutdown_signal())
        .await?;
    Ok(())
}
