//! Step 11 — the client side: from a bare `401` to tool calls, the way an MCP host does it.
//!
//! Adds: an MCP client ([`mcp_auth_steps::client::host`]) that reads the `401` challenge, discovers
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
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcp_auth_steps::client::agent_grant::AgentGrant;
use mcp_auth_steps::client::dpop::DpopChoice;
use mcp_auth_steps::client::host::{self, HostOptions, McpHost};
use mcp_auth_steps::client::trace::{Trace, printable_line};

// No `Debug`: the struct may hold a client secret.
#[derive(Parser)]
#[command(
    version,
    about = "Step 11: an MCP client that registers itself and runs the OAuth flow",
    after_help = "Environment: STEP11_CLIENT_SECRET holds the secret of a --client-id client, \
                  STEP11_WORKLOAD_TOKEN a workload's platform token, STEP11_ID_TOKEN the ID token \
                  of --enterprise-idp (never flags, so that they do not show in process lists)."
)]
struct Args {
    /// The MCP endpoint (default: MCP_SERVER_URL + /mcp from the environment or --env, else
    /// http://localhost:9000/mcp).
    #[arg(long)]
    server: Option<String>,
    /// Env file to read MCP_SERVER_URL from (e.g. env/keycloak_direct.env).
    #[arg(long = "env", value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// The MCP endpoint, as a last argument (how the MCP conformance suite passes it).
    #[arg(value_name = "SERVER_URL", conflicts_with = "server")]
    server_url: Option<String>,
    /// Scopes to ask for (space-separated), instead of the challenge's or the PRM's.
    #[arg(long)]
    scope: Option<String>,
    /// Follow the authorization URL over HTTP instead of opening a browser (for authorization
    /// servers that approve without a login page).
    #[arg(long)]
    headless: bool,
    /// Loopback port for the redirect URI (0 = any free port).
    #[arg(long, default_value_t = 0)]
    callback_port: u16,
    /// Where registered client credentials are kept (0700 directory, 0600 files).
    #[arg(long, default_value = ".state/step11")]
    state_dir: PathBuf,
    /// `client_name` sent at registration.
    #[arg(long, default_value = "mcp-auth-steps step11")]
    client_name: String,
    /// A client registered by hand: skip registration and use this client_id.
    #[arg(long, env = "STEP11_CLIENT_ID")]
    client_id: Option<String>,
    /// Its secret (environment only, so it never shows in a process list).
    #[arg(skip = std::env::var("STEP11_CLIENT_SECRET").ok())]
    client_secret: Option<String>,
    /// The https URL of this client's Client ID Metadata Document, used as client_id when the
    /// authorization server accepts such URLs.
    #[arg(long)]
    client_metadata_url: Option<String>,
    /// Serve this client's own Client ID Metadata Document on its loopback listener
    /// (http://127.0.0.1:8976/client-metadata.json, or on --callback-port) and use that URL as
    /// client_id when the authorization server accepts such documents. For an authorization
    /// server on this machine that allows http loopback documents (the tutorial's Keycloak realm).
    #[arg(long, conflicts_with = "client_metadata_url")]
    publish_client_metadata: bool,
    /// Seconds to wait for the browser to come back to the redirect URI.
    #[arg(long, default_value_t = 300)]
    callback_timeout: u64,
    /// Bind tokens to a key (DPoP, RFC 9449): `auto` when the authorization server lists ES256
    /// in dpop_signing_alg_values_supported and the MCP server takes DPoP; `on` always (an
    /// authorization server without ES256 DPoP stops the run); `off` never.
    #[arg(long, default_value = "auto", value_parser = DpopChoice::parse)]
    dpop: DpopChoice,
    /// An agent, no person: the client_credentials grant for --client-id, authenticated with
    /// --private-key (private_key_jwt) or STEP11_CLIENT_SECRET (client_secret_basic).
    #[arg(long, conflicts_with_all = ["workload_token_file", "enterprise_idp"])]
    client_credentials: bool,
    /// The PEM private key (P-256 or RSA) of private_key_jwt client authentication (RFC 7523).
    #[arg(long, value_name = "FILE")]
    private_key: Option<PathBuf>,
    /// A workload, no secret: present the platform's JWT in FILE with the JWT-bearer grant
    /// (workload identity federation). STEP11_WORKLOAD_TOKEN holds the token instead of a file.
    #[arg(long, value_name = "FILE", conflicts_with = "enterprise_idp")]
    workload_token_file: Option<PathBuf>,
    /// Enterprise-managed authorization: exchange the person's ID token (STEP11_ID_TOKEN) for an
    /// ID-JAG at this IdP token endpoint, then present it to the MCP server's authorization server.
    #[arg(long, value_name = "URL", requires = "idp_client_id")]
    enterprise_idp: Option<String>,
    /// This client's id at the enterprise IdP (with --enterprise-idp).
    #[arg(long, value_name = "ID")]
    idp_client_id: Option<String>,
}

/// The agent grant the flags ask for, if any; `Err` names what is missing or unreadable.
fn agent_grant(args: &Args) -> Result<Option<AgentGrant>, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if args.client_credentials {
        return Ok(Some(AgentGrant::ClientCredentials));
    }
    if let Some(path) = &args.workload_token_file {
        let token = std::fs::read_to_string(path)
            .map_err(|e| format!("--workload-token-file {}: {e}", path.display()))?;
        return Ok(Some(AgentGrant::Workload {
            assertion: token.trim().to_string(),
        }));
    }
    if let Some(assertion) = env("STEP11_WORKLOAD_TOKEN") {
        return Ok(Some(AgentGrant::Workload {
            assertion: assertion.trim().to_string(),
        }));
    }
    if let Some(raw) = &args.enterprise_idp {
        let idp_token_endpoint =
            url::Url::parse(raw).map_err(|e| format!("--enterprise-idp {raw}: not a URL ({e})"))?;
        let id_token = env("STEP11_ID_TOKEN")
            .ok_or("--enterprise-idp needs the person's ID token in STEP11_ID_TOKEN")?;
        return Ok(Some(AgentGrant::Enterprise {
            idp_token_endpoint,
            idp_client_id: args.idp_client_id.clone().unwrap_or_default(),
            id_token: id_token.trim().to_string(),
        }));
    }
    Ok(None)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let given = args.server_url.as_deref().or(args.server.as_deref());
    let server = match host::resolve_server(given, args.env_file.as_deref()) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("step11: {}", printable_line(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let agent = match agent_grant(&args) {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("step11: {}", printable_line(&e));
            return ExitCode::FAILURE;
        }
    };
    let options = HostOptions {
        server,
        scope: args.scope,
        headless: args.headless,
        callback_port: args.callback_port,
        state_dir: args.state_dir,
        client_name: args.client_name,
        client_id: args.client_id,
        client_secret: args.client_secret.filter(|s| !s.is_empty()),
        client_metadata_url: args.client_metadata_url,
        publish_client_metadata: args.publish_client_metadata,
        callback_timeout: Duration::from_secs(args.callback_timeout),
        dpop: args.dpop,
        agent,
        private_key: args.private_key,
    };
    let mut trace = Trace::stdout();
    let result = match McpHost::new(options) {
        Ok(mut host) => host.run(&mut trace).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(summary) => {
            trace.step(format_args!("done: {summary}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("step11: {}", printable_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
