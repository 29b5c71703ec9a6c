//! Step 11's command line: the flags and environment variables of `step11`, read into the
//! host's options ([`HostOptions`]). The binary parses, builds the host, runs it and prints.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::client::agent_grant::AgentGrant;
use crate::client::dpop::DpopChoice;
use crate::client::host::{HostOptions, resolve_server};
use crate::client::trace::redact;

// A hand-written `Debug` (below): the struct may hold a client secret.
#[derive(Parser)]
#[command(
    version,
    about = "Step 11: an MCP client that registers itself and runs the OAuth flow",
    after_help = "Environment: STEP11_CLIENT_SECRET holds the secret of a --client-id client, \
                  STEP11_WORKLOAD_TOKEN a workload's platform token, STEP11_ID_TOKEN the ID token \
                  of --enterprise-idp (never flags, so that they do not show in process lists)."
)]
pub struct Step11Args {
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
fn agent_grant(args: &Step11Args) -> Result<Option<AgentGrant>, String> {
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

impl fmt::Debug for Step11Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step11Args")
            .field("server", &self.server.as_ref().or(self.server_url.as_ref()))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_deref().map(redact))
            .finish_non_exhaustive()
    }
}

impl Step11Args {
    /// The host's options: the MCP endpoint (the flag, the last argument, `MCP_SERVER_URL`, the
    /// `--env` file, the default), the agent grant when one is asked for, everything else as
    /// given. `Err` names what is missing or unreadable.
    pub fn options(self) -> Result<HostOptions, String> {
        let given = self.server_url.as_deref().or(self.server.as_deref());
        let server = resolve_server(given, self.env_file.as_deref())?;
        let agent = agent_grant(&self)?;
        Ok(HostOptions {
            server,
            scope: self.scope,
            headless: self.headless,
            callback_port: self.callback_port,
            state_dir: self.state_dir,
            client_name: self.client_name,
            client_id: self.client_id,
            client_secret: self.client_secret.filter(|s| !s.is_empty()),
            client_metadata_url: self.client_metadata_url,
            publish_client_metadata: self.publish_client_metadata,
            callback_timeout: Duration::from_secs(self.callback_timeout),
            dpop: self.dpop,
            agent,
            private_key: self.private_key,
        })
    }
}
