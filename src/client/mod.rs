//! Part 4, step 11: the MCP host side — the `WWW-Authenticate` challenge, discovery, client registration, the authorization code
//! flow, the MCP transport, and the host that ties them together.

pub mod agent;
pub mod agent_grant;
pub mod authorization;
pub mod challenge;
pub mod cli;
pub mod client_identity;
pub mod discovery;
pub mod dpop;
pub mod host;
pub mod http_client;
pub mod login;
pub mod oauth_syntax;
pub mod registration;
pub mod session;
pub mod state_dir;
pub mod token_endpoint;
pub mod tokens;
pub mod trace;
pub mod transport;
