//! Step 11 — the client side: from a bare `401` to tool calls, the way an MCP host does it.
//!
//! Adds: an MCP client ([`mcp_auth_steps::client::host`]; its flags in [`mcp_auth_steps::client::cli`]) that reads the `401` challenge, discovers
//! the protected resource and authorization server metadata ([`mcp_auth_steps::client::discovery`]),
//! gets a client identity in the specification's order — `--client-id`, a Client ID Metadata
//! Document (`--client-metadata-url`, or its own with `--publish-client-metadata`), an earlier
//! registration, RFC 7591 ([`mcp_auth_steps::client::registration`]) — uses the tokens it kept
//! ([`mcp_auth_steps::client::tokens`]: the access token, then the refresh token), and otherwise runs
//! the authorization code flow with PKCE S256, `state` and `resource` through a loopback redirect
//! ([`mcp_auth_steps::client::authorization`]). Then it speaks Streamable HTTP
//! ([`mcp_auth_steps::client::transport`]): `server/discover` (2026-07-28; `initialize` for a legacy
//! server), `tools/list`, `tools/call`, `prompts/list`, `prompts/get` — stepping up once per call on
//! `403 insufficient_scope`. Every protocol step is printed as a numbered line; tokens, secrets,
//! codes and verifiers only ever as their first characters.
//!
//! ```text
//! cargo run --bin step10 -- --env env/keycloak_direct.env      # the server, trusting Keycloak
//! cargo run --bin step11 -- --server http://localhost:9000/mcp # opens the browser to log in
//! cargo run --bin step11 -- --headless http://localhost:9000/mcp   # AS that approves without a page
//! ```
use std::process::ExitCode;

use clap::Parser;
use mcp_auth_steps::client::cli::Step11Args;
use mcp_auth_steps::client::host::McpHost;
use mcp_auth_steps::client::trace::{Trace, printable_line};

#[tokio::main]
async fn main() -> ExitCode {
    let mut trace = Trace::stdout();
    let result = match Step11Args::parse().options() {
        Ok(options) => match McpHost::new(options) {
            Ok(mut host) => host.run(&mut trace).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(summary) => {
            trace.step(format_args!("done: {summary}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("step11: {}", printable_line(&e));
            ExitCode::FAILURE
        }
    }
}
