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
use mcp_auth_steps::catalog::Catalog;
use mcp_auth_steps::config::Fatal;
use mcp_auth_steps::dispatch::McpService;
use mcp_auth_steps::health::Health;
use mcp_auth_steps::lifecycle::ServerInfo;
use mcp_auth_steps::mcp_http;
use mcp_auth_steps::origin_guard::OriginGuard;
use mcp_auth_steps::server::{self, ServerArgs};

#[derive(Parser, Debug)]
#[command(version, about = "Step 4: tools and prompts, dispatched")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    let _log = server::init_logging()?;
    let guard = OriginGuard::from_args(&args.server.guard)?;

    let mcp = McpService::new(ServerInfo::new("mcp-auth-steps-step4", "Step 4: dispatch"))
        .with_catalog(Catalog::echo())
        .with_dispatch();
    let app = Health::new(4).router().merge(mcp_http::router(mcp));

    server::run(&args.server, guard.protect(app)).await
}
