//! Step 2 — JSON-RPC over `POST /mcp`, and the lifecycle (`initialize`, `ping`).
//!
//! Adds: [`mcp_http::router`] (the Streamable HTTP endpoint, JSON responses, no sessions) serving
//! an [`McpService`] that knows only the lifecycle.
//!
//! ```text
//! cargo run --bin step2
//! curl -s http://localhost:9000/mcp -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//! ```
use clap::Parser;
use mcp_auth_steps::config::Fatal;
use mcp_auth_steps::dispatch::McpService;
use mcp_auth_steps::health::Health;
use mcp_auth_steps::lifecycle::ServerInfo;
use mcp_auth_steps::mcp_http;
use mcp_auth_steps::origin_guard::OriginGuard;
use mcp_auth_steps::server::{self, ServerArgs};

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
    let _log = server::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step2", "Step 2: JSON-RPC"));
    let app = Health::new(2).router().merge(mcp_http::router(mcp));

    server::run(&args.server, guard.protect(app)).await
}
