//! Step 7 — OAuth metadata, so clients can discover how to get a token.
//!
//! Adds: Protected Resource Metadata (RFC 9728) at both well-known paths, Authorization Server
//! Metadata (RFC 8414) for the local issuer, `resource_metadata` and `scope` in every 401
//! challenge, and [`cors::wrap`] so browser clients can read the challenge.
//!
//! ```text
//! cargo run --bin step7
//! curl -si -X POST http://localhost:9000/mcp | grep -i www-authenticate
//! curl -s http://localhost:9000/.well-known/oauth-protected-resource/mcp
//! ```
use std::sync::Arc;

use clap::Parser;
use mcp_auth_steps::auth::bearer_auth::{
    BearerAuth, Challenge, KeyArgs, KeySource, TokenArgs, TokenValidator,
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
use mcp_auth_steps::{auth::jwks, auth::keys, auth::metadata, http::cors, mcp::endpoint};

#[derive(Parser, Debug)]
#[command(version, about = "Step 7: OAuth discovery metadata and CORS")]
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

    let keys = KeySource::Local(Arc::new(public_key.clone()));
    // ANCHOR: step7_challenge
    let challenge = Challenge {
        resource_metadata: Some(metadata::prm_url(&public_url)),
        scope: Some(metadata::default_scope()),
    };
    let auth =
        BearerAuth::new(TokenValidator::new(keys, &issuer, &audience)).with_challenge(challenge);
    // ANCHOR_END: step7_challenge
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step7",
        "Step 7: OAuth metadata",
    ))
    .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
    .with_dispatch()
    .per_caller();
    let prm = metadata::protected_resource(&public_url, &issuer);
    let app = Health::new(7)
        .field("auth_required", true)
        .router()
        .merge(auth.protect(endpoint::router(mcp)))
        .merge(jwks::router(&[public_key]))
        .merge(metadata::protected_resource_router(prm))
        .merge(metadata::local_authorization_server_router(
            &public_url,
            &issuer,
        ));

    // CORS answers browser preflights before bearer auth; the guard comes first of all.
    let app = cors::wrap(&guard, app);
    server::run(&args.server, guard.protect(app)).await
}
