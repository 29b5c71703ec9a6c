//! Step 10 — the server trusts Keycloak.
//!
//! Replaces the local key with the issuer's keys: OIDC discovery → `jwks_uri` → a [`JwksCache`]
//! (fetched at start, refreshed in the background, refetched on an unknown `kid`, 503 when no key
//! can be had). Configuration comes from flags, the environment and `--env FILE`, printed at start
//! with where each value came from. Same bearer auth, token cache, metadata, CORS and policy as
//! step 8.
//!
//! ```text
//! cargo run --bin step10 -- --env env/keycloak_direct.env
//! TOKEN=$(curl -s http://localhost:8080/realms/mcp-realm/protocol/openid-connect/token \
//!   -d grant_type=password -d client_id=mcp-test-client -d username=mcp-user -d password=user123 \
//!   -d 'scope=openid mcp:read mcp:tools' | jq -r .access_token)
//! ```
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser};
use mcp_auth_steps::auth::bearer_auth::{
    BearerAuth, Challenge, KeySource, TokenArgs, TokenValidator,
};
use mcp_auth_steps::auth::dpop::{self, DpopMode, ProofChecker};
use mcp_auth_steps::auth::identity;
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::auth::token_cache::{TokenCache, TokenCacheArgs};
use mcp_auth_steps::http::config::Fatal;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::http::server::{self, ServerArgs};
use mcp_auth_steps::keycloak::introspection;
use mcp_auth_steps::keycloak::jwks_cache::JwksCache;
use mcp_auth_steps::keycloak::settings::{
    self, JwksArgs, KeycloakArgs, RESOURCE_CLIENT, TokenCheckArgs,
};
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use mcp_auth_steps::{auth::keys, auth::metadata, http::cors, mcp::endpoint};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Step 10: an MCP server that trusts Keycloak's tokens"
)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    keycloak: KeycloakArgs,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    jwks: JwksArgs,
    #[command(flatten)]
    token_cache: TokenCacheArgs,
    #[command(flatten)]
    token_check: TokenCheckArgs,
}

#[tokio::main]
async fn main() -> Result<(), Fatal> {
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches)?;
    let _log = request_log::init_logging()?;
    keys::install_crypto_provider();
    let config = settings::resolve_server_config(&matches, args.keycloak.env_file.as_deref())?;
    eprint!("{}", config.report);
    let guard = OriginGuard::from_args(&config.guard)?;
    let (public_url, issuer, audience) = (
        &config.public_url,
        &config.keycloak.issuer,
        &config.keycloak.audience,
    );

    // ANCHOR: step10_keycloak
    let cache = JwksCache::new(issuer, config.cache);
    cache.start().await;
    let challenge = Challenge {
        resource_metadata: Some(metadata::prm_url(public_url)),
        scope: Some(metadata::default_scope()),
    };
    let validator = TokenValidator::new(KeySource::Remote(cache.clone()), issuer, audience)
        .with_client_roles(RESOURCE_CLIENT);
    let token_cache = Arc::new(TokenCache::new(config.token_cache_size));
    let auth = BearerAuth::new(validator)
        .with_challenge(challenge)
        .with_token_cache(Arc::clone(&token_cache));
    // ANCHOR_END: step10_keycloak
    // ANCHOR: step10_dpop
    let proofs =
        Arc::new(ProofChecker::new(&public_url.mcp_endpoint()).map_err(anyhow::Error::msg)?);
    let auth = auth.with_dpop(config.dpop, Arc::clone(&proofs));
    // ANCHOR_END: step10_dpop
    // ANCHOR: step10_introspection
    let introspector =
        introspection::start(issuer, audience, RESOURCE_CLIENT, config.introspection).await?;
    let auth = match &introspector {
        Some(introspector) => auth.with_confirmation(introspector.clone()),
        None => auth,
    };
    // ANCHOR_END: step10_introspection
    let mcp = McpService::new(ServerInfo::new(
        "mcp-auth-steps-step10",
        "Step 10: Keycloak",
    ))
    .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
    .with_dispatch()
    .per_caller()
    .with_policy(Policy::new(metadata::prm_url(public_url)));
    let mut prm = metadata::protected_resource(public_url, issuer);
    for (name, value) in dpop::metadata_members(config.dpop) {
        prm[name] = value;
    }
    let health_cache = Arc::clone(&cache);
    let dpop_on = config.dpop != DpopMode::Off;
    let app = Health::new(10)
        .field("auth_required", true)
        .field("token_check", config.token_check.name())
        .field("dpop", config.dpop.name())
        .dynamic(Arc::new(move || {
            let mut fields = health_cache.health();
            fields.extend(token_cache.health());
            if dpop_on {
                fields.insert("dpop_replay_entries".into(), proofs.remembered().into());
            }
            fields.extend(
                introspector
                    .as_ref()
                    .map(|i| i.health())
                    .unwrap_or_default(),
            );
            fields
        }))
        .router()
        .merge(auth.protect(endpoint::router(mcp)))
        .merge(metadata::protected_resource_router(prm));

    let serve = ServerArgs {
        mcp_server_url: public_url.base().to_string(),
        guard: config.guard.clone(),
        ..args.server
    };
    // CORS answers browser preflights before bearer auth; the guard comes first of all.
    let app = cors::wrap(&guard, app);
    server::run(&serve, guard.protect(app)).await
}
