//! Step 4 — dispatch: `tools/call` and `prompts/get` run.
//!
//! Adds: [`McpService::with_dispatch`]: `echo` runs (bad arguments come back as `isError` results),
//! `echo_prompt` renders; unknown names are -32602. Official MCP clients can now use everything.
//!
//! ```text
//! cargo run --bin step4
//! curl -s http://localhost:9000/mcp -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","repeat_count":2}}}'
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
#[command(version, about = "Step 4: tools and prompts, dispatched")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    let _log = request_log::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    // ANCHOR: step4_composition
    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step4", "Step 4: dispatch"))
        .with_catalog(Catalog::echo())
        .with_dispatch();
    let app = Health::new(4).router().merge(endpoint::router(mcp));
    // ANCHOR_END: step4_composition

    server::run(&args.server, guard.protect(app)).await
}
