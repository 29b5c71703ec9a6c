//! Step 6 — the JWT middleware.
//!
//! Adds: [`BearerAuth`] on `/mcp` only (`/health` and the JWKS stay public). Every request needs
//! `Authorization: Bearer <JWT>` signed by the demo key, with the right `iss` and `aud`, not
//! expired. Failures are RFC 6750 challenges. The verified identity reaches the new `whoami` tool.
//!
//! ```text
//! cargo run --bin step6
//! TOKEN=$(cargo run -q --bin generate-token -- --username alice)
//! curl -s http://localhost:9000/mcp -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}'
//! ```
use std::sync::Arc;

use clap::Parser;
use mcp_auth_steps::auth::bearer_auth::{
    BearerAuth, KeyArgs, KeySource, TokenArgs, TokenValidator,
};
use mcp_auth_steps::auth::identity;
use mcp_auth_steps::http::config::Fatal;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::server::{self, ServerArgs};
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use mcp_auth_steps::{auth::jwks, auth::keys, mcp::endpoint};

#[derive(Parser, Debug)]
#[command(version, about = "Step 6: bearer tokens required on /mcp")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    token: TokenArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    let _log = request_log::init_logging()?;
    keys::install_crypto_provider();
    let guard = OriginGuard::from_args(&args.server.guard)?;
    let public_url = args.server.public_url()?;
    let (issuer, audience) = args.token.resolve(&public_url)?;
    let public_key = keys::load_public_key(&args.key.public_key)?;
    tracing::info!(issuer, audience, kid = public_key.kid, "accepting tokens");

    // ANCHOR: step6_composition
    let keys = KeySource::Local(Arc::new(public_key.clone()));
    let auth = BearerAuth::new(TokenValidator::new(keys, &issuer, &audience));
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step6",
        "Step 6: JWT middleware",
    ))
    .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
    .with_dispatch()
    .per_caller();
    let app = Health::new(6)
        .field("auth_required", true)
        .router()
        .merge(auth.protect(endpoint::router(mcp)))
        .merge(jwks::router(&[public_key]));
    // ANCHOR_END: step6_composition

    server::run(&args.server, guard.protect(app)).await
}
