//! Step 9 — Keycloak: check (and optionally create) the realm the server will trust.
//!
//! Waits for Keycloak, creates `mcp-realm` from `env/keycloak/mcp-realm.json` through the Admin
//! REST API when asked (`--apply`) and missing, then verifies it end to end and prints a table:
//! discovery, JWKS, anonymous dynamic client registration, and for each demo user the MCP scopes,
//! `aud`, `azp` and roles in a password-grant token. Exit status 1 on any mismatch.
//!
//! ```text
//! scripts/keycloak.sh start      # Keycloak 26.7.3 on :8080, realm imported (or: docker compose -f env/keycloak/docker-compose.yml up -d)
//! cargo run --bin step9 -- --env env/keycloak_direct.env
//! ```
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use mcp_auth_steps::auth::bearer_auth::TokenArgs;
use mcp_auth_steps::auth::keys;
use mcp_auth_steps::http::config::{ConfigError, Fatal};
use mcp_auth_steps::http::request_log;
use mcp_auth_steps::keycloak::env_config::{EnvFile, Resolver};
use mcp_auth_steps::keycloak::realm::{self, AdminCredentials, Applied};
use mcp_auth_steps::keycloak::settings::{
    self, IntrospectionClientArgs, KeycloakArgs, KeycloakConfig,
};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Step 9: verify (and optionally create) the Keycloak realm"
)]
struct Args {
    #[command(flatten)]
    keycloak: KeycloakArgs,
    #[command(flatten)]
    token: TokenArgs,
    /// Public base URL of the MCP server; tokens must name `<MCP_SERVER_URL>/mcp` in `aud`.
    #[arg(long = "mcp-server-url", env = "MCP_SERVER_URL")]
    mcp_server_url: Option<String>,
    /// Create the realm from --realm-file when it is missing (needs admin credentials).
    #[arg(long)]
    apply: bool,
    /// The realm representation to import.
    #[arg(long = "realm-file", default_value = "env/keycloak/mcp-realm.json")]
    realm_file: PathBuf,
    /// How long to wait for Keycloak to answer, in seconds.
    #[arg(long = "wait", default_value_t = 60)]
    wait_seconds: u64,
    /// Master-realm admin for --apply.
    #[arg(long = "admin-user", env = "KEYCLOAK_ADMIN_USER")]
    admin_user: Option<String>,
    /// Its password (never printed).
    #[arg(
        long = "admin-password",
        env = "KEYCLOAK_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    admin_password: Option<String>,
    /// The introspecting client step 10 uses (step 9 checks that Keycloak accepts it).
    #[command(flatten)]
    introspection: IntrospectionClientArgs,
}

#[tokio::main]
async fn main() -> Result<ExitCode, Fatal> {
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches)?;
    let _log = request_log::init_logging()?;
    keys::install_crypto_provider();
    let file = EnvFile::load_optional(args.keycloak.env_file.as_deref())?;
    let mut resolver = Resolver::new(&matches, &file);
    let config = KeycloakConfig::resolve(&mut resolver)?;
    let admin_user = resolver.value("admin_user", "KEYCLOAK_ADMIN_USER", None);
    let admin_password = resolver.secret("admin_password", "KEYCLOAK_ADMIN_PASSWORD");
    let (introspection_client, introspection_secret) =
        settings::introspection_client(&mut resolver);
    eprint!("{}", resolver.report());

    let client = settings::http_client();
    // Progress lines are numbered as they are printed: [2] is the realm creation with --apply,
    // else the verification.
    let mut step = 1;
    println!(
        "[{step}] waiting for Keycloak at {} (up to {}s)",
        config.keycloak_url, args.wait_seconds
    );
    settings::wait_for(
        &client,
        &config.keycloak_url,
        Duration::from_secs(args.wait_seconds),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let admin = match (admin_user, admin_password) {
        (Some(username), Some(password)) => Some(AdminCredentials { username, password }),
        _ => None,
    };
    if args.apply {
        let Some(admin) = &admin else {
            return Err(ConfigError::Missing(
                "KEYCLOAK_ADMIN_USER and KEYCLOAK_ADMIN_PASSWORD (for --apply)",
            )
            .into());
        };
        let applied = realm::apply_realm(&client, &config, admin, &args.realm_file)
            .await
            .map_err(anyhow::Error::msg)?;
        step += 1;
        match applied {
            Applied::Created => println!(
                "[{step}] created realm {} from {}",
                config.realm,
                args.realm_file.display()
            ),
            Applied::AlreadyPresent => {
                println!(
                    "[{step}] realm {} already exists; left unchanged",
                    config.realm
                )
            }
        }
    }
    step += 1;
    println!(
        "[{step}] verifying realm {} at {}",
        config.realm,
        config.realm_url()
    );
    let introspection = (
        introspection_client.as_str(),
        introspection_secret.as_deref(),
    );
    let checks = realm::verify_realm(&client, &config, admin.as_ref(), introspection).await;
    print!("{}", realm::render_table(&checks));
    let failed = checks.iter().filter(|c| !c.ok).count();
    println!("{} passed, {failed} failed", checks.len() - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
