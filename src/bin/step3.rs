//! Step 3 — tools and prompts, described (`tools/list`, `prompts/list`).
//!
//! Adds: a [`Catalog`] (the `echo` tool and `echo_prompt`, with schemas and annotations), declared
//! in `initialize` and listed; calling them is still -32601 until step 4.
//!
//! ```text
//! cargo run --bin step3
//! curl -s http://localhost:9000/mcp -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
//! ```
use clap::Parser;
use mcp_auth_steps::http::config::Fatal;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::server::{self, ServerArgs};
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::endpoint;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;

#[derive(Parser, Debug)]
#[command(version, about = "Step 3: tools and prompts, described")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    let _log = request_log::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    // ANCHOR: step3_composition
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step3",
        "Step 3: tools and prompts",
    ))
    .with_catalog(Catalog::echo());
    let app = Health::new(3).router().merge(endpoint::router(mcp));
    // ANCHOR_END: step3_composition

    server::run(&args.server, guard.protect(app)).await
}
