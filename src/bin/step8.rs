//! Step 8 — scope and role checks.
//!
//! Adds: a [`Policy`] checked inside dispatch, before any method runs: `tools/call` needs
//! `mcp:tools`, `prompts/get` needs `mcp:prompts`, listing needs `mcp:read` (or the matching
//! scope); the `admin` role may do everything. A refusal is 403 with an `insufficient_scope`
//! challenge naming the scope to ask for. Verified tokens are remembered until their `exp`
//! ([`mcp_auth_steps::auth::token_cache`]; `--token-cache-size 0` switches that off).
//!
//! ```text
//! cargo run --bin step8
//! eval "$(cargo run -q --bin generate-token -- --demo)"    # ALICE_TOKEN, BOB_TOKEN, ...
//! curl -si http://localhost:9000/mcp -H "Authorization: Bearer $BOB_TOKEN" -H 'Content-Type: application/json' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
//! ```
use std::sync::Arc;

use clap::Parser;
use mcp_auth_steps::auth::bearer_auth::{
    BearerAuth, Challenge, KeyArgs, KeySource, TokenArgs, TokenValidator,
};
use mcp_auth_steps::auth::identity;
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::auth::token_cache::TokenCacheArgs;
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
#[command(version, about = "Step 8: scope and role checks")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    token_cache: TokenCacheArgs,
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
    let challenge = Challenge {
        resource_metadata: Some(metadata::prm_url(&public_url)),
        scope: Some(metadata::default_scope()),
    };
    let token_cache = args.token_cache.build()?;
    let auth = BearerAuth::new(TokenValidator::new(keys, &issuer, &audience))
        .with_challenge(challenge)
        .with_token_cache(Arc::clone(&token_cache));
    // ANCHOR: step8_policy
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step8",
        "Step 8: scopes and roles",
    ))
    .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
    .with_dispatch()
    .per_caller()
    .with_policy(Policy::new(metadata::prm_url(&public_url)).admin_allows_everything());
    // ANCHOR_END: step8_policy
    let prm = metadata::protected_resource(&public_url, &issuer);
    let app = Health::new(8)
        .field("auth_required", true)
        .dynamic(Arc::new(move || token_cache.health()))
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
