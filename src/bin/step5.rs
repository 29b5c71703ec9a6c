//! Step 5 — keys and the JWKS.
//!
//! Adds: the demo public key, loaded at start (a missing key stops the server), and
//! [`jwks::router`] serving it at `/.well-known/jwks.json` with `kid` = its RFC 7638 thumbprint.
//! Tokens are minted with `generate-token`; they are not enforced until step 6.
//!
//! ```text
//! cargo run --bin step5
//! curl -s http://localhost:9000/.well-known/jwks.json
//! cargo run --bin generate-token -- --username alice
//! ```
use clap::Parser;
use mcp_auth_steps::auth::bearer_auth::KeyArgs;
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
#[command(version, about = "Step 5: the signing key's public half as a JWK Set")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    key: KeyArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let args = Args::parse();
    let _log = request_log::init_logging()?;
    keys::install_crypto_provider();
    let guard = OriginGuard::from_args(&args.server.guard)?;
    // ANCHOR: step5_composition
    let public_key = keys::load_public_key(&args.key.public_key)?;

    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step5",
        "Step 5: keys and the JWKS",
    ))
    .with_catalog(Catalog::echo())
    .with_dispatch();
    let app = Health::new(5)
        .router()
        .merge(endpoint::router(mcp))
        .merge(jwks::router(&[public_key]));
    // ANCHOR_END: step5_composition

    server::run(&args.server, guard.protect(app)).await
}
