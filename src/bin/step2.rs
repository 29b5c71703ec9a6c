//! Step 2 — JSON-RPC over `POST /mcp`, and the lifecycle (`initialize`, `ping`).
//!
//! Adds: [`endpoint::router`] (the Streamable HTTP endpoint, JSON responses, no sessions) serving
//! an [`McpService`] that knows only the lifecycle.
//!
//! ```text
//! cargo run --bin step2
//! curl -s http://localhost:9000/mcp -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//! ```
use clap::Parser;
use mcp_auth_steps::http::config::Fatal;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::server::{self, ServerArgs};
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::endpoint;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Step 2: JSON-RPC over POST /mcp and the MCP lifecycle"
)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    // ANCHOR: step2_composition
    let _log = request_log::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step2", "Step 2: JSON-RPC"));
    let app = Health::new(2).router().merge(endpoint::router(mcp));

    server::run(&args.server, guard.protect(app)).await
    // ANCHOR_END: step2_composition
}
