//! Step 11: what an MCP host does, end to end — call the server, and when it says `401`, run
//! discovery ([`crate::client::discovery`]), get a client identity ([`crate::client::registration`]),
//! authorize ([`crate::client::authorization`]) and retry; when it says `403 insufficient_scope`, step up
//! once. The calls: `server/discover` in the 2026-07-28 shape (for a legacy server, which does not
//! answer it as a modern one, `initialize` → `notifications/initialized` instead) → `tools/list` →
//! `tools/call` → `prompts/list` → `prompts/get`, every step on the numbered [`Trace`].
//!
//! Bounds: one authorization per `401` and one step-up per `403` for any one call, and at most
//! [`MAX_AUTHORIZATIONS`] authorization rounds in a run (the MCP conformance suite's
//! `auth/scope-retry-limit` fails a client that keeps asking).
//!
//! This module holds the host (its options, its state, its errors) and what each answer leads to
//! (`request`: 401 → kept token, refresh or authorization; 403 → step-up). Where each flow reads
//! in one place, as `impl McpHost` blocks of their own:
//! - `client::session`: the calls of a run, in the era the server speaks;
//! - `client::login`: one browser authorization round, and the renewal of a kept token;
//! - `client::agent`: the token of a caller without a person (no browser);
//! - `client::client_identity`: the client identity and its callback listener.
//!
//! All grants end in one token-endpoint call (`client::token_endpoint`), and the three stores
//! (credentials, tokens, DPoP key) share the per-issuer private files of `client::state_dir`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::client::agent_grant::{self, AgentGrant};
use crate::client::authorization::AuthorizationError;
use crate::client::challenge::BearerChallenge;
use crate::client::discovery::{Discovery, DiscoveryError};
use crate::client::dpop::{DpopChoice, DpopSigner};
use crate::client::http_client;
use crate::client::registration::{ClientCredentials, CredentialStore, RegistrationError};
use crate::client::token_endpoint::AssertionKey;
use crate::client::tokens::{StoredTokens, TokenStore};
use crate::client::trace::{Trace, redact, untrusted};
use crate::client::transport::{Denial, McpClient, McpError, Reply};

/// At most this many authorization rounds per run.
pub const MAX_AUTHORIZATIONS: u32 = 3;
/// How long `--headless` waits for its own callback delivery.
pub const HEADLESS_CALLBACK_TIMEOUT: Duration = Duration::from_secs(20);
/// The loopback port of `--publish-client-metadata` when `--callback-port` is not given. It is
/// fixed because the document's URL is the client id: another port is another client to the
/// authorization server (a new consent), and a cached document would name the old redirect URI.
pub const PUBLISHED_METADATA_PORT: u16 = 8976;
/// The scope that asks an OpenID-style authorization server for a refresh token (MCP SEP-2207).
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The tool argument used when the server has `echo`.
pub const ECHO_MESSAGE: &str = "hello from step11";

/// What the host is told to do.
#[derive(Clone)]
pub struct HostOptions {
    /// The MCP endpoint, e.g. `http://localhost:9000/mcp`.
    pub server: Url,
    /// `--scope`: overrides MCP scope selection.
    pub scope: Option<String>,
    /// `--headless`: follow the authorization URL over HTTP instead of a browser.
    pub headless: bool,
    /// `--callback-port` (0 = any free port).
    pub callback_port: u16,
    /// `--state-dir`: where registered credentials are kept.
    pub state_dir: PathBuf,
    /// `client_name` for registration, `clientInfo.name` for initialize.
    pub client_name: String,
    /// A client registered by hand (`--client-id`).
    pub client_id: Option<String>,
    /// Its secret (`STEP11_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// `--client-metadata-url`: a Client ID Metadata Document URL, used as the client id when
    /// the authorization server accepts them.
    pub client_metadata_url: Option<String>,
    /// `--publish-client-metadata`: serve this client's own Client ID Metadata Document on the
    /// loopback listener and use its URL as the client id (authorization servers on this machine
    /// that accept http loopback documents, such as the tutorial's Keycloak realm).
    pub publish_client_metadata: bool,
    /// How long to wait for the browser to come back.
    pub callback_timeout: Duration,
    /// `--dpop`: bind tokens to a key (RFC 9449) when both servers take DPoP, always, or never.
    pub dpop: DpopChoice,
    /// A caller without a person (`client::agent`): the grant that replaces the browser login.
    pub agent: Option<AgentGrant>,
    /// `--private-key`: the PEM key of `private_key_jwt` client authentication.
    pub private_key: Option<PathBuf>,
}

impl fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostOptions")
            .field("server", &self.server.as_str())
            .field("scope", &self.scope)
            .field("headless", &self.headless)
            .field("callback_port", &self.callback_port)
            .field("state_dir", &self.state_dir)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_deref().map(redact))
            .field("client_metadata_url", &self.client_metadata_url)
            .field("publish_client_metadata", &self.publish_client_metadata)
            .field("dpop", &self.dpop)
            .field("agent", &self.agent)
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// Why the run failed. Every variant's text is the one line the binary prints.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Discovery.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// Registration / the credential store.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// The authorization code flow.
    #[error(transparent)]
    Authorization(#[from] AuthorizationError),
    /// The MCP exchange.
    #[error(transparent)]
    Mcp(#[from] McpError),
    /// A bad option.
    #[error("{0}")]
    Options(String),
    /// 401 right after a fresh token.
    #[error("{method}: the server answers 401 even with the token just obtained ({detail})")]
    TokenRejected {
        /// The JSON-RPC method.
        method: String,
        /// The challenge.
        detail: String,
    },
    /// Still 403 after the one step-up.
    #[error(
        "{method}: still 403 insufficient_scope after stepping up to scope {scope:?}; giving up"
    )]
    StillInsufficient {
        /// The JSON-RPC method.
        method: String,
        /// What was asked for.
        scope: String,
    },
    /// A 403 that is not about scope, or a 401/403 with no Bearer challenge.
    #[error("{method}: HTTP {status} ({detail})")]
    Refused {
        /// The JSON-RPC method.
        method: String,
        /// 401 or 403.
        status: u16,
        /// The challenge.
        detail: String,
    },
    /// A failure that stale stored credentials would explain.
    #[error(
        "{reason} — the client_id comes from {path}, registered in an earlier run; if the authorization server no longer knows it, delete that file and run again"
    )]
    StaleClient {
        /// The underlying failure.
        reason: String,
        /// The credentials file.
        path: String,
    },
    /// The round limit.
    #[error(
        "giving up: {MAX_AUTHORIZATIONS} authorization rounds used and the server still refuses {method}"
    )]
    TooManyAuthorizations {
        /// The JSON-RPC method.
        method: String,
    },
    /// SEP-2352: the server moved to another authorization server, and `--client-id` names a
    /// client of the old one. A pre-registered client belongs to one authorization server.
    #[error(
        "the server's protected resource metadata now names the authorization server {to}, not {from}; --client-id names a client registered with {from}, and credentials are never carried to another authorization server: register a client with {to} and give its id"
    )]
    PreRegisteredElsewhere {
        /// The issuer the client was used with.
        from: String,
        /// The issuer the metadata names now.
        to: String,
    },
    /// A JSON-RPC error answer.
    #[error("{method} → JSON-RPC error {code}: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// `error.code`.
        code: i64,
        /// `error.message`.
        message: String,
    },
}

/// What a successful run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Authorization rounds used (browser logins).
    pub authorizations: u32,
    /// Access tokens renewed with the refresh token (no login).
    pub refreshes: u32,
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// Tool names.
    pub tools: Vec<String>,
    /// The tool called, if any.
    pub called: Option<String>,
    /// Prompt names, when the server has prompts.
    pub prompts: Option<Vec<String>>,
}

impl fmt::Display for Summary {
    /// `protocol 2025-11-25, 1 authorization round(s), 2 tool(s), called echo, 1 prompt(s)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol {}, {} authorization round(s), {} tool(s)",
            self.protocol_version,
            self.authorizations,
            self.tools.len()
        )?;
        if self.refreshes > 0 {
            write!(f, ", {} refresh(es) without a login", self.refreshes)?;
        }
        if let Some(tool) = &self.called {
            write!(f, ", called {tool}")?;
        }
        if let Some(prompts) = &self.prompts {
            write!(f, ", {} prompt(s)", prompts.len())?;
        }
        Ok(())
    }
}

/// The MCP endpoint to talk to: `given` (the flag or last argument), else `MCP_SERVER_URL` + `/mcp`
/// from the process environment, then from the `--env` file, else `http://localhost:9000/mcp`.
pub fn resolve_server(
    given: Option<&str>,
    env_file: Option<&std::path::Path>,
) -> Result<Url, String> {
    let from_env = |value: &str| format!("{}/mcp", value.trim().trim_end_matches('/'));
    // A named env file must be readable even when a higher layer wins: never a silent fallback.
    let file =
        crate::keycloak::env_config::EnvFile::load_optional(env_file).map_err(|e| e.to_string())?;
    let chosen = match given {
        Some(url) => url.to_string(),
        None => match std::env::var("MCP_SERVER_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(base) => from_env(&base),
            None => file
                .get("MCP_SERVER_URL")
                .map(from_env)
                .unwrap_or_else(|| "http://localhost:9000/mcp".to_string()),
        },
    };
    Url::parse(&chosen).map_err(|e| format!("the MCP server URL {chosen} is not a URL ({e})"))
}

/// The host: one MCP server, one run.
#[derive(Debug)]
pub struct McpHost {
    pub(super) opts: HostOptions,
    pub(super) http: reqwest::Client,
    pub(super) mcp: McpClient,
    pub(super) store: CredentialStore,
    pub(super) discovery: Option<Discovery>,
    pub(super) client: Option<ClientCredentials>,
    pub(super) scope: Option<String>,
    pub(super) authorizations: u32,
    pub(super) refreshes: u32,
    pub(super) stored_from: Option<PathBuf>,
    pub(super) token_store: TokenStore,
    pub(super) tokens: Option<StoredTokens>,
    pub(super) access_rejected: bool,
    /// The server refused a token it had been sent: read its metadata again before the next
    /// token, since it may name another authorization server now (SEP-2352).
    pub(super) rediscover: bool,
    /// The MCP server sent a `DPoP` challenge (RFC 9449 §7.1).
    pub(super) rs_offers_dpop: bool,
    /// The stored registration does not fit this run (DPoP-bound or not): register anew.
    pub(super) skip_stored_client: bool,
    /// The DPoP decision for an issuer, with its key when tokens are bound (`client::dpop`).
    pub(super) dpop: Option<(String, Option<Arc<DpopSigner>>)>,
    /// The `private_key_jwt` key (`--private-key`).
    pub(super) assertion_key: Option<Arc<AssertionKey>>,
}

impl McpHost {
    /// Checks the options and builds the HTTP client.
    pub fn new(opts: HostOptions) -> Result<Self, HostError> {
        http_client::check_transport(&opts.server, "MCP server").map_err(HostError::Options)?;
        if opts.client_secret.is_some() && opts.client_id.is_none() {
            return Err(HostError::Options(
                "STEP11_CLIENT_SECRET is set but --client-id is not".into(),
            ));
        }
        if opts.publish_client_metadata && opts.client_metadata_url.is_some() {
            return Err(HostError::Options(
                "--publish-client-metadata and --client-metadata-url name two different documents: give one".into(),
            ));
        }
        if let Some(raw) = &opts.client_metadata_url {
            let ok = Url::parse(raw).is_ok_and(|u| u.scheme() == "https" && u.path() != "/");
            if !ok {
                return Err(HostError::Options(format!(
                    "--client-metadata-url {raw}: a client id metadata document URL is https with a path"
                )));
            }
        }
        if let Some(grant) = &opts.agent {
            agent_grant::check_agent_options(
                grant,
                opts.client_id.as_deref(),
                opts.client_secret.is_some(),
                opts.private_key.is_some(),
            )
            .map_err(HostError::Options)?;
            if opts.publish_client_metadata || opts.client_metadata_url.is_some() {
                return Err(HostError::Options(
                    "a client metadata document is for a browser login; an agent is registered beforehand (--client-id)".into(),
                ));
            }
        } else if opts.private_key.is_some() {
            return Err(HostError::Options(
                "--private-key is the client authentication of an agent: give --client-credentials, --workload-token-file or --enterprise-idp".into(),
            ));
        }
        let assertion_key = match &opts.private_key {
            Some(path) => Some(Arc::new(
                AssertionKey::from_pem_file(path)
                    .map_err(|e| HostError::Options(format!("--private-key {e}")))?,
            )),
            None => None,
        };
        let http = http_client::build()
            .map_err(|e| HostError::Options(format!("cannot build the HTTP client: {e}")))?;
        let mut mcp = McpClient::new(http.clone(), opts.server.clone());
        if let Some(extension) = opts.agent.as_ref().and_then(AgentGrant::extension) {
            mcp.declare_extension(extension);
        }
        Ok(Self {
            mcp,
            store: CredentialStore::new(&opts.state_dir),
            token_store: TokenStore::new(&opts.state_dir),
            http,
            opts,
            discovery: None,
            client: None,
            scope: None,
            authorizations: 0,
            refreshes: 0,
            stored_from: None,
            tokens: None,
            access_rejected: false,
            rediscover: false,
            rs_offers_dpop: false,
            skip_stored_client: false,
            dpop: None,
            assertion_key,
        })
    }

    /// `POST /mcp <method> (Bearer eyJhbG…)`: a request as the trace names it.
    pub(super) fn label(&self, method: &str) -> String {
        let path = self.mcp.url().path();
        match (self.mcp.token(), self.mcp.dpop_jkt()) {
            (Some(token), None) => format!("POST {path} {method} (Bearer {})", redact(token)),
            (Some(token), Some(_)) => format!(
                "POST {path} {method} (DPoP {} + proof{})",
                redact(token),
                if self.mcp.retried_with_nonce() {
                    ", sent again with the DPoP-Nonce of a 401 use_dpop_nonce"
                } else {
                    ""
                }
            ),
            (None, _) => format!("POST {path} {method} without a token"),
        }
    }

    pub(super) async fn request(
        &mut self,
        trace: &mut Trace,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, HostError> {
        let response = self.exchange(trace, method, params, false).await?;
        if let Some(error) = response.get("error") {
            let code = error["code"].as_i64().unwrap_or_default();
            let message = untrusted(error["message"].as_str().unwrap_or_default());
            trace.step(format_args!(
                "{} → JSON-RPC error {code}: {message}",
                self.label(method)
            ));
            return Err(HostError::Rpc {
                method: method.into(),
                code,
                message,
            });
        }
        Ok(response.get("result").cloned().unwrap_or(Value::Null))
    }

    pub(super) async fn notify(
        &mut self,
        trace: &mut Trace,
        method: &str,
    ) -> Result<(), HostError> {
        self.exchange(trace, method, None, true).await.map(|_| ())
    }

    /// Sends one message; on 401 authorizes once, on 403 `insufficient_scope` steps up once, and
    /// retries.
    async fn exchange(
        &mut self,
        trace: &mut Trace,
        method: &str,
        params: Option<Value>,
        notification: bool,
    ) -> Result<Value, HostError> {
        let mut authorized = false;
        let mut stepped_up = false;
        let mut renewals = 0;
        loop {
            let reply = if notification {
                self.mcp.notify(method, params.clone()).await?
            } else {
                self.mcp.request(method, params.clone()).await?
            };
            let label = self.label(method);
            let denial = match reply {
                Reply::Response(value) => return Ok(value),
                Reply::Accepted => return Ok(Value::Null),
                Reply::Denied(denial) => denial,
            };
            trace.step(format_args!(
                "{label} → {}, WWW-Authenticate: {}",
                denial.status,
                if denial.www_authenticate.is_empty() {
                    "(none)".to_string()
                } else {
                    untrusted(&denial.www_authenticate)
                }
            ));
            let Denial {
                status, challenge, ..
            } = denial;
            self.rs_offers_dpop |= challenge.as_ref().is_some_and(|c| c.dpop);
            let detail = || BearerChallenge::describe(challenge.as_ref());
            match status {
                401 if authorized => {
                    let mut detail = detail();
                    if self.mcp.dpop_jkt().is_some() && !challenge.as_ref().is_some_and(|c| c.dpop)
                    {
                        detail.push_str(
                            "; the token is DPoP-bound and this server sent no DPoP challenge, so it does not take DPoP (RFC 9449 §7.1): run with --dpop auto or off",
                        );
                    }
                    return Err(HostError::TokenRejected {
                        method: method.into(),
                        detail,
                    });
                }
                401 => {
                    // Before a login: the kept access token, then the refresh token — at most
                    // twice for one call, so a server that refuses every token ends in a login.
                    self.access_rejected = self.mcp.token().is_some();
                    self.rediscover = self.access_rejected;
                    if renewals < 2 && self.renew(trace, challenge.as_ref()).await? {
                        renewals += 1;
                        continue;
                    }
                    self.authorize(trace, method, challenge.as_ref(), false)
                        .await?;
                    authorized = true;
                }
                403 if challenge
                    .as_ref()
                    .is_some_and(BearerChallenge::is_insufficient_scope) =>
                {
                    if stepped_up {
                        return Err(HostError::StillInsufficient {
                            method: method.into(),
                            scope: self.scope.clone().unwrap_or_default(),
                        });
                    }
                    self.authorize(trace, method, challenge.as_ref(), true)
                        .await?;
                    stepped_up = true;
                }
                _ => {
                    return Err(HostError::Refused {
                        method: method.into(),
                        status,
                        detail: detail(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The whole host against an in-process fake: MCP server + authorization server on one
    //! loopback port, headless.
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{RawQuery, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use serde_json::{Value, json};

    use super::*;
    use crate::client::registration::now;

    const CODE: &str = "the-authorization-code-0123456789";

    #[derive(Default)]
    struct Fake {
        base: String,
        /// What `server/discover` answers (status, body); `None`: 404 without a body (legacy).
        discover: Option<(u16, Value)>,
        /// The `Mcp-Method` header of each request.
        mcp_methods: Vec<Option<String>>,
        /// tools/call needs this scope (besides "read").
        call_needs: String,
        tamper_state: bool,
        registrations: u32,
        authorizations: Vec<Option<String>>,
        challenge: String,
        scope: Option<String>,
        token_forms: Vec<String>,
        /// After the first tools/call the PRM names a second authorization server, `{base}/as2`
        /// (its endpoints under `/as2/`), and only its tokens are accepted (SEP-2352).
        move_after_call: bool,
        moved: bool,
        /// Registrations at the second authorization server.
        as2_registrations: u32,
    }

    /// The part of the fake authorization server a request reached: the first (`/…`) or the
    /// second (`/as2/…`), and the client id each registers.
    fn fake_as(uri: &axum::http::Uri) -> (bool, &'static str) {
        if uri.path().starts_with("/as2/") {
            (true, "fake-client-2")
        } else {
            (false, "fake-client")
        }
    }

    type Shared = Arc<Mutex<Fake>>;

    fn rpc_result(id: &Value, result: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": result})
    }

    async fn mcp(State(fake): State<Shared>, headers: HeaderMap, body: String) -> Response {
        let msg: Value = serde_json::from_str(&body).unwrap();
        let (base, call_needs, moved) = {
            let f = fake.lock().unwrap();
            (f.base.clone(), f.call_needs.clone(), f.moved)
        };
        let prm = format!("{base}/.well-known/oauth-protected-resource/mcp");
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let Some(token) = token else {
            let challenge = format!(r#"Bearer resource_metadata="{prm}", scope="read""#);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        };
        let Some(granted) = token.strip_prefix("token-for-") else {
            let challenge = format!(r#"Bearer error="invalid_token", resource_metadata="{prm}""#);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        };
        let scopes: Vec<String> = granted.split('+').map(str::to_string).collect();
        if moved && !scopes.iter().any(|s| s == "as2") {
            let challenge = format!(r#"Bearer error="invalid_token", resource_metadata="{prm}""#);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
        let method = msg["method"].as_str().unwrap_or_default();
        if method == "tools/call" && !scopes.contains(&call_needs) {
            let challenge = format!(
                r#"Bearer error="insufficient_scope", scope="read {call_needs}", resource_metadata="{prm}""#
            );
            return (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
        let id = msg["id"].clone();
        let discover = {
            let mut f = fake.lock().unwrap();
            let sent = headers
                .get("mcp-method")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            f.mcp_methods.push(sent);
            f.discover.clone()
        };
        match method {
            "server/discover" if discover.is_some() => {
                let (status, mut body) = discover.unwrap();
                if body.get("result").is_some() || body.get("error").is_some() {
                    body["id"] = id;
                }
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
            }
            "notifications/initialized" => StatusCode::ACCEPTED.into_response(),
            "initialize" => axum::Json(rpc_result(
                &id,
                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}, "prompts": {}},
                       "serverInfo": {"name": "fake", "version": "1"}}),
            ))
            .into_response(),
            "tools/list" => {
                // As an event stream, with a notification before the response.
                let body = format!(
                    "event: message\ndata: {}\n\nevent: message\ndata: {}\n\n",
                    json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}}),
                    rpc_result(&id, json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}))
                );
                ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
            }
            "tools/call" => {
                let mut f = fake.lock().unwrap();
                f.moved |= f.move_after_call;
                axum::Json(rpc_result(
                    &id,
                    json!({"content": [{"type": "text", "text": msg["params"]["arguments"]["message"]}]}),
                ))
                .into_response()
            }
            "prompts/list" => axum::Json(rpc_result(
                &id,
                json!({"prompts": [{"name": "echo_prompt",
                    "arguments": [{"name": "message", "required": true}, {"name": "style"}]}]}),
            ))
            .into_response(),
            "prompts/get" => {
                // Only the required argument is filled in.
                assert_eq!(msg["params"], json!({"name": "echo_prompt",
                    "arguments": {"message": ECHO_MESSAGE}}));
                axum::Json(rpc_result(&id, json!({"messages": [{"role": "user",
                    "content": {"type": "text", "text": "Please echo: hello from step11"}}]})))
                .into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    async fn prm(State(fake): State<Shared>) -> axum::Json<Value> {
        let f = fake.lock().unwrap();
        let (base, issuer) = (&f.base, f.base.clone() + if f.moved { "/as2" } else { "" });
        axum::Json(
            json!({"resource": format!("{base}/mcp"), "authorization_servers": [issuer],
                          "scopes_supported": ["read", "write"]}),
        )
    }

    /// RFC 8414 metadata of the first authorization server (`/.well-known/…`) or the second
    /// (`/.well-known/…/as2`).
    async fn as_metadata(State(fake): State<Shared>, uri: axum::http::Uri) -> axum::Json<Value> {
        let suffix = if uri.path().ends_with("/as2") {
            "/as2"
        } else {
            ""
        };
        let base = fake.lock().unwrap().base.clone() + suffix;
        axum::Json(json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "registration_endpoint": format!("{base}/register"),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }))
    }

    async fn register(State(fake): State<Shared>, uri: axum::http::Uri, body: String) -> Response {
        let request: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(request["token_endpoint_auth_method"], "none");
        let (as2, client_id) = fake_as(&uri);
        let mut f = fake.lock().unwrap();
        if as2 {
            f.as2_registrations += 1;
        } else {
            f.registrations += 1;
        }
        (
            StatusCode::CREATED,
            axum::Json(
                json!({"client_id": client_id, "redirect_uris": request["redirect_uris"],
                              "token_endpoint_auth_method": "none"}),
            ),
        )
            .into_response()
    }

    async fn authorize(
        State(fake): State<Shared>,
        uri: axum::http::Uri,
        RawQuery(q): RawQuery,
    ) -> Response {
        let q: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let mut f = fake.lock().unwrap();
        assert_eq!(q["client_id"], fake_as(&uri).1, "a client of another AS");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["resource"], format!("{}/mcp", f.base));
        f.authorizations.push(q.get("scope").cloned());
        f.challenge = q["code_challenge"].clone();
        f.scope = q.get("scope").cloned();
        let state = if f.tamper_state {
            "forged".to_string()
        } else {
            q["state"].clone()
        };
        let location = format!("{}?code={CODE}&state={state}", q["redirect_uri"]);
        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
    }

    async fn token(State(fake): State<Shared>, uri: axum::http::Uri, body: String) -> Response {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        let mut f = fake.lock().unwrap();
        f.token_forms.push(body.clone());
        let (as2, client_id) = fake_as(&uri);
        assert_eq!(form["client_id"], client_id, "a client of another AS");
        if form["grant_type"] == "refresh_token" {
            // A refresh token names its scope; "refresh-" + anything else is refused, and so is
            // one from the other authorization server.
            return match form["refresh_token"].strip_prefix("refresh-for-") {
                Some(scope)
                    if form.contains_key("resource")
                        && scope.ends_with("+as2") == as2 => axum::Json(json!({
                    "access_token": format!("token-for-{scope}"), "token_type": "Bearer",
                    "expires_in": 60, "scope": scope.replace('+', " ")}))
                .into_response(),
                _ => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant", "error_description": "Invalid refresh token"})),
                )
                    .into_response(),
            };
        }
        assert_eq!(form["code"], CODE);
        if crate::auth::keys::sha256_b64url(form["code_verifier"].as_bytes()) != f.challenge {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_grant"})),
            )
                .into_response();
        }
        // This authorization server never grants "admin". The second one marks its tokens.
        let scope = f
            .scope
            .clone()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| *s != "admin")
            .collect::<Vec<_>>()
            .join(" ");
        let granted = scope.replace(' ', "+") + if as2 { "+as2" } else { "" };
        axum::Json(json!({"access_token": format!("token-for-{granted}"),
            "refresh_token": format!("refresh-for-{granted}"),
            "token_type": "Bearer", "expires_in": 60, "scope": scope}))
        .into_response()
    }

    async fn start(call_needs: &str, tamper_state: bool) -> (Shared, Url) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let fake: Shared = Arc::new(Mutex::new(Fake {
            base: base.clone(),
            call_needs: call_needs.into(),
            tamper_state,
            ..Fake::default()
        }));
        let app = Router::new()
            .route("/mcp", post(mcp))
            .route("/.well-known/oauth-protected-resource/mcp", get(prm))
            .route("/.well-known/oauth-authorization-server", get(as_metadata))
            .route(
                "/.well-known/oauth-authorization-server/as2",
                get(as_metadata),
            )
            .route("/register", post(register))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/as2/register", post(register))
            .route("/as2/authorize", get(authorize))
            .route("/as2/token", post(token))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, Url::parse(&format!("{base}/mcp")).unwrap())
    }

    /// One run of the host against `server`, with its state in `dir`: the outcome and the trace.
    async fn run_once(server: &Url, dir: &std::path::Path) -> (Result<Summary, HostError>, Trace) {
        let mut trace = Trace::memory();
        let outcome = match McpHost::new(options(server.clone(), dir)) {
            Ok(mut host) => host.run(&mut trace).await,
            Err(e) => Err(e),
        };
        (outcome, trace)
    }

    fn options(server: Url, state_dir: &std::path::Path) -> HostOptions {
        HostOptions {
            server,
            scope: None,
            headless: true,
            callback_port: 0,
            state_dir: state_dir.to_path_buf(),
            client_name: "test".into(),
            client_id: None,
            client_secret: None,
            client_metadata_url: None,
            publish_client_metadata: false,
            callback_timeout: Duration::from_secs(5),
            dpop: DpopChoice::Auto,
            agent: None,
            private_key: None,
        }
    }

    fn temp_dir() -> PathBuf {
        crate::client::state_dir::test_dir("host-test")
    }

    #[tokio::test]
    async fn from_401_to_tool_call_with_one_step_up_and_no_secret_in_the_trace() {
        let (fake, server) = start("write", false).await;
        let dir = temp_dir();
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!(summary.authorizations, 2);
        assert_eq!(summary.called.as_deref(), Some("echo"));
        assert_eq!(summary.prompts, Some(vec!["echo_prompt".to_string()]));
        // The fake is a legacy server: its 404 without a body is no modern answer.
        assert_eq!(summary.protocol_version, "2025-11-25");
        {
            let f = fake.lock().unwrap();
            assert_eq!(f.registrations, 1);
            // First the challenge's scope, then the step-up union.
            assert_eq!(
                f.authorizations,
                [Some("read".into()), Some("read write".into())]
            );
            for form in &f.token_forms {
                assert!(form.contains("resource=http%3A%2F%2F127.0.0.1"), "{form}");
                assert!(form.contains("redirect_uri="), "{form}");
            }
        }
        let text = trace.lines().join("\n");
        assert!(text.contains("→ 401"), "{text}");
        assert!(
            text.contains("server/discover (Bearer token-…): not a 2026-07-28 server (HTTP 404 without a modern error); falling back to initialize"),
            "{text}"
        );
        assert!(text.contains("hello from step11"), "{text}");
        assert!(
            text.contains(r#"prompts/get (Bearer token-…) echo_prompt {"message":"hello from step11"} → 200: 1 message(s), first: "Please echo: hello from step11""#),
            "{text}"
        );
        assert!(!text.contains(CODE), "the code leaked: {text}");
        assert!(!text.contains("token-for-read"), "a token leaked: {text}");

        // A second run reuses the registration kept in the state directory.
        let (outcome, trace) = run_once(&server, &dir).await;
        outcome.unwrap();
        assert_eq!(fake.lock().unwrap().registrations, 1);
        assert!(
            trace
                .lines()
                .iter()
                .any(|l| l.contains("reusing client_id fake-client"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// SEP-2352: the server's metadata names another authorization server after the first tool
    /// call and refuses the old tokens. The host reads the metadata again, registers with the
    /// new server, and sends it nothing of the old one (the fake asserts the client ids).
    #[tokio::test]
    async fn a_new_authorization_server_gets_its_own_registration() {
        let (fake, server) = start("read", false).await;
        fake.lock().unwrap().move_after_call = true;
        let dir = temp_dir();
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!(summary.authorizations, 2);
        {
            let f = fake.lock().unwrap();
            assert_eq!((f.registrations, f.as2_registrations), (1, 1));
            // The first AS's refresh token was never sent: the tokens went with its identity.
            assert!(
                !f.token_forms
                    .iter()
                    .any(|f| f.contains("grant_type=refresh_token")),
                "{:?}",
                f.token_forms
            );
        }
        let base = server.origin().ascii_serialization();
        let text = trace.lines().join("\n");
        assert!(
            text.contains("the server refused the token it was sent: reading its metadata again"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "the authorization server changed from {base} to {base}/as2 (SEP-2352): its client identity and tokens are not used with {base}/as2"
            )),
            "{text}"
        );
        // Two credential files now, one per issuer.
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("client-")
            })
            .count();
        assert_eq!(files, 2);
        std::fs::remove_dir_all(&dir).unwrap();

        // A pre-registered client id belongs to the first server: the run stops.
        let (fake, server) = start("read", false).await;
        fake.lock().unwrap().move_after_call = true;
        let dir = temp_dir();
        let mut opts = options(server.clone(), &dir);
        opts.client_id = Some("fake-client".into());
        let mut trace = Trace::memory();
        let err = McpHost::new(opts)
            .unwrap()
            .run(&mut trace)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the server's protected resource metadata now names the authorization server {base2}/as2, not {base2}; --client-id names a client registered with {base2}, and credentials are never carried to another authorization server: register a client with {base2}/as2 and give its id",
                base2 = server.origin().ascii_serialization()
            )
        );
        assert_eq!(fake.lock().unwrap().as2_registrations, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Rewrites the kept token file of `dir` with `edit`.
    fn edit_tokens(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) {
        let file = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("tokens-")
            })
            .expect("a tokens file");
        let mut value: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        edit(&mut value);
        std::fs::write(&file, value.to_string()).unwrap();
    }

    /// A kept token file that fails the checks of a fresh response (here: a newline in the access
    /// token, which would break the Authorization header) is discarded, deleted, and replaced by a
    /// login's tokens, never sent.
    #[tokio::test]
    async fn a_malformed_kept_token_is_discarded_not_sent() {
        let (fake, server) = start("read", false).await;
        let dir = temp_dir();
        let (outcome, _) = run_once(&server, &dir).await;
        assert_eq!(outcome.unwrap().authorizations, 1);
        edit_tokens(&dir, |t| {
            t["access_token"] = json!("token-for-read\r\nX-Evil: 1")
        });
        let (outcome, trace) = run_once(&server, &dir).await;
        assert_eq!(outcome.unwrap().authorizations, 1);
        let text = trace.lines().join("\n");
        assert!(
            text.contains("discarded: access_token is not an RFC 6750 b64token (character 15 is U+000D), so it cannot be sent as a Bearer credential; deleted, a new login follows"),
            "{text}"
        );
        assert_eq!(fake.lock().unwrap().authorizations.len(), 2);
        // The file now holds the new login's tokens.
        edit_tokens(&dir, |t| assert_eq!(t["access_token"], "token-for-read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn kept_tokens_first_then_the_refresh_token_then_a_login() {
        let (fake, server) = start("read", false).await;
        let dir = temp_dir();
        let (outcome, _) = run_once(&server, &dir).await;
        assert_eq!(outcome.unwrap().authorizations, 1);

        // A valid access token kept from the first run: no token request at all.
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!((summary.authorizations, summary.refreshes), (0, 0));
        assert_eq!(fake.lock().unwrap().token_forms.len(), 1);
        let text = trace.lines().join("\n");
        assert!(text.contains("access token valid for another"), "{text}");
        assert!(
            text.contains("the access token is still valid: sending it, no login"),
            "{text}"
        );

        // Expired: the refresh token, with the same resource, and no new authorization.
        edit_tokens(&dir, |t| t["expires_at"] = json!(now() - 30));
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!((summary.authorizations, summary.refreshes), (0, 1));
        {
            let f = fake.lock().unwrap();
            assert_eq!(f.authorizations.len(), 1);
            let form = f.token_forms.last().unwrap();
            assert!(form.starts_with("grant_type=refresh_token&refresh_token=refresh-for-read&resource=http%3A%2F%2F127.0.0.1"), "{form}");
        }
        // A second may tick between the edit and the run.
        let text = trace.lines().join("\n").replace("31 s ago", "30 s ago");
        assert!(text.contains("access token expired 30 s ago"), "{text}");
        assert!(text.contains("(refresh_token grant, the access token expired 30 s ago; refresh_token refres…, resource, client auth none) → 200: token_type Bearer, access_token token-…, expires_in 60 s, scope \"read\""), "{text}");
        assert!(
            summary
                .to_string()
                .contains("1 refresh(es) without a login")
        );
        assert!(
            !text.contains("refresh-for-read"),
            "a refresh token leaked: {text}"
        );

        // A refresh token the AS refuses: deleted, then a login.
        edit_tokens(&dir, |t| {
            t["expires_at"] = json!(1);
            t["refresh_token"] = json!("refresh-revoked");
        });
        let (outcome, trace) = run_once(&server, &dir).await;
        assert_eq!(outcome.unwrap().authorizations, 1);
        let text = trace.lines().join("\n");
        assert!(
            text.contains("→ token request to")
                && text.contains("refused (HTTP 400): invalid_grant: Invalid refresh token"),
            "{text}"
        );
        assert!(
            text.contains("the refresh token is no longer good: deleted"),
            "{text}"
        );
        assert_eq!(fake.lock().unwrap().authorizations.len(), 2);

        // A token refused by the server: the refresh token before a login.
        edit_tokens(&dir, |t| t["access_token"] = json!("revoked-token"));
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!((summary.authorizations, summary.refreshes), (0, 1));
        let text = trace.lines().join("\n");
        assert!(
            text.contains("(refresh_token grant, the access token refused by the server;"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_modern_server_is_spoken_to_in_2026_07_28_and_its_refusals_stop_the_run() {
        let (fake, server) = start("write", false).await;
        let modern = json!({"jsonrpc": "2.0", "result": {
            "supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}},
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fake", "version": "2"}}}});
        fake.lock().unwrap().discover = Some((200, modern));
        let dir = temp_dir();
        let (outcome, trace) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!(summary.protocol_version, "2026-07-28");
        let text = trace.lines().join("\n");
        assert!(!text.contains("initialize"), "{text}");
        assert!(
            text.contains("supportedVersions [2026-07-28], server fake 2"),
            "{text}"
        );
        // Every request carried Mcp-Method: server/discover, tools/list, tools/call (prompts are
        // not in the capabilities).
        assert!(
            fake.lock().unwrap().mcp_methods.iter().all(Option::is_some),
            "{:?}",
            fake.lock().unwrap().mcp_methods
        );

        // A -32020 is a modern server refusing this request: no fallback to initialize.
        let mismatch =
            json!({"jsonrpc": "2.0", "error": {"code": -32020, "message": "Header mismatch: x"}});
        fake.lock().unwrap().discover = Some((400, mismatch));
        let (outcome, trace) = run_once(&server, &dir).await;
        let error = outcome.unwrap_err();
        assert!(
            error.to_string().contains("speaks 2026-07-28 but refused"),
            "{error}"
        );
        assert!(!trace.lines().join("\n").contains("initialize"));

        // A -32022 that lists 2026-07-28: one more try, then the refusal stops the run.
        let refused = json!({"jsonrpc": "2.0", "error": {"code": -32022, "message": "Unsupported",
            "data": {"supported": ["2026-07-28"], "requested": "2026-07-28"}}});
        fake.lock().unwrap().discover = Some((400, refused));
        let discovers = |f: &Shared| {
            f.lock()
                .unwrap()
                .mcp_methods
                .iter()
                .filter(|m| m.as_deref() == Some("server/discover"))
                .count()
        };
        let before = discovers(&fake);
        let (outcome, trace) = run_once(&server, &dir).await;
        assert!(
            outcome
                .unwrap_err()
                .to_string()
                .contains("speaks 2026-07-28 but refused"),
        );
        assert_eq!(discovers(&fake) - before, 2);
        let text = trace.lines().join("\n");
        assert_eq!(
            text.matches("its supported versions include 2026-07-28: trying once more")
                .count(),
            1,
            "{text}"
        );

        // A -32022 that lists only legacy versions: a legacy server after all.
        let legacy = json!({"jsonrpc": "2.0", "error": {"code": -32022, "message": "Unsupported",
            "data": {"supported": ["2025-11-25"], "requested": "2026-07-28"}}});
        fake.lock().unwrap().discover = Some((400, legacy));
        let (outcome, _) = run_once(&server, &dir).await;
        let summary = outcome.unwrap();
        assert_eq!(summary.protocol_version, "2025-11-25");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_forged_state_aborts_before_the_token_request() {
        let (fake, server) = start("write", true).await;
        let dir = temp_dir();
        let (outcome, _) = run_once(&server, &dir).await;
        let err = outcome.unwrap_err();
        assert!(
            matches!(
                err,
                HostError::Authorization(AuthorizationError::StateMismatch)
            ),
            "{err}"
        );
        assert!(fake.lock().unwrap().token_forms.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_scope_that_is_never_granted_gives_up_within_the_limit() {
        // tools/call needs "admin", which the fake AS never grants: the step-up cannot help.
        let (fake, server) = start("admin", false).await;
        let dir = temp_dir();
        let (outcome, _) = run_once(&server, &dir).await;
        let err = outcome.unwrap_err();
        assert!(matches!(err, HostError::StillInsufficient { .. }), "{err}");
        let n = fake.lock().unwrap().authorizations.len() as u32;
        assert!(
            (1..=MAX_AUTHORIZATIONS).contains(&n),
            "{n} authorization requests"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn options_refuse_plain_http_off_loopback() {
        let opts = options(
            Url::parse("http://mcp.example.com/mcp").unwrap(),
            std::path::Path::new("x"),
        );
        assert!(matches!(McpHost::new(opts), Err(HostError::Options(_))));
    }
}
