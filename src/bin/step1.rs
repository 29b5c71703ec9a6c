//! Step 1 — `/health` and the DNS-rebinding guard.
//!
//! Adds: [`Health`] (public liveness) and [`OriginGuard`] (Origin/Host checks on every other path).
//!
//! ```text
//! cargo run --bin step1
//! curl -i http://localhost:9000/health
//! curl -i -H 'Origin: http://localhost.evil.com' http://localhost:9000/anything   # 403
//! ```
use clap::Parser;
use mcp_auth_steps::http::config::Fatal;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::server::{self, ServerArgs};

#[derive(Parser, Debug)]
#[command(version, about = "Step 1: /health behind a DNS-rebinding guard")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    // ANCHOR: step1_composition
    let _log = request_log::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    let app = Health::new(1).router();

    server::run(&args.server, guard.protect(app)).await
    // ANCHOR_END: step1_composition
}
