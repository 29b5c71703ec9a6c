//! Step 11 for callers without a person (`client::agent` runs the flow): which grant replaces
//! the browser login, what each needs from the command line, and the enterprise IdP's answer.
//!
//! - **Client credentials** (MCP extension `io.modelcontextprotocol/oauth-client-credentials`,
//!   SEP-1046; RFC 6749 §4.4): the client authenticates itself, with a signed assertion
//!   (`private_key_jwt`, RFC 7523 §2.2: the recommended way) or a secret
//!   (`client_secret_basic`), and still sends `resource` and `scope`.
//! - **Workload identity federation** (SEP-1933): the agent holds no secret of its own. Its
//!   platform (a CI runner, a Kubernetes service account) gave it a JWT, which it presents with the
//!   RFC 7523 §2.1 JWT-bearer grant. A refused assertion is reported, never retried with another
//!   grant.
//! - **Enterprise-managed authorization** (`io.modelcontextprotocol/enterprise-managed-authorization`,
//!   SEP-990): the person's enterprise identity provider exchanges their ID token for an ID-JAG
//!   (RFC 8693 token exchange, `requested_token_type` `…:id-jag`, audience the MCP server's
//!   authorization server, `resource` the MCP server), and the client presents that with the
//!   JWT-bearer grant. The person logged in once, at the IdP; no browser opens here.

use std::fmt;

use serde_json::Value;
use url::Url;

use crate::client::oauth_syntax::check_access_token;
use crate::client::trace::{redact, untrusted};

/// RFC 7523 §2.1: an assertion as the authorization grant.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 8693 §2.1.
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3: an OpenID Connect ID token.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// SEP-990: an Identity Assertion JWT Authorization Grant.
pub const TOKEN_TYPE_ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The client credentials extension's identifier, declared in the client's capabilities.
pub const EXTENSION_CLIENT_CREDENTIALS: &str = "io.modelcontextprotocol/oauth-client-credentials";
/// The enterprise-managed authorization extension's identifier.
pub const EXTENSION_ENTERPRISE: &str = "io.modelcontextprotocol/enterprise-managed-authorization";

/// How an agent gets its token.
#[derive(Clone)]
pub enum AgentGrant {
    /// `grant_type=client_credentials`, the client authenticated as registered.
    ClientCredentials,
    /// The JWT-bearer grant with the workload's platform token (SEP-1933).
    Workload {
        /// The platform's JWT.
        assertion: String,
    },
    /// SEP-990: an ID token exchanged for an ID-JAG at the enterprise IdP, then the JWT-bearer
    /// grant.
    Enterprise {
        /// The IdP's token endpoint (RFC 8693 exchange).
        idp_token_endpoint: Url,
        /// This client's id at the IdP.
        idp_client_id: String,
        /// The person's ID token from the IdP.
        id_token: String,
    },
}

impl fmt::Debug for AgentGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCredentials => f.write_str("ClientCredentials"),
            Self::Workload { assertion } => f
                .debug_struct("Workload")
                .field("assertion", &redact(assertion))
                .finish(),
            Self::Enterprise {
                idp_token_endpoint,
                idp_client_id,
                id_token,
            } => f
                .debug_struct("Enterprise")
                .field("idp_token_endpoint", &idp_token_endpoint.as_str())
                .field("idp_client_id", idp_client_id)
                .field("id_token", &redact(id_token))
                .finish(),
        }
    }
}

impl AgentGrant {
    /// The trace's name for the grant.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Workload { .. } => "jwt-bearer (workload identity)",
            Self::Enterprise { .. } => "jwt-bearer (ID-JAG from the enterprise IdP)",
        }
    }

    /// The MCP extension the client declares in its capabilities for this grant, if any.
    pub fn extension(&self) -> Option<&'static str> {
        match self {
            Self::ClientCredentials => Some(EXTENSION_CLIENT_CREDENTIALS),
            Self::Enterprise { .. } => Some(EXTENSION_ENTERPRISE),
            Self::Workload { .. } => None,
        }
    }
}

/// The ID-JAG in the IdP's answer to the token exchange (RFC 8693 §2.2.1): `issued_token_type`
/// must say id-jag, and the token must have the syntax of an access token.
pub fn id_jag_from(body: &[u8]) -> Result<String, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("not a token exchange response ({e})"))?;
    let issued = v["issued_token_type"].as_str().unwrap_or("(none)");
    if issued != TOKEN_TYPE_ID_JAG {
        return Err(format!(
            "issued_token_type {} is not {TOKEN_TYPE_ID_JAG}",
            untrusted(issued)
        ));
    }
    let token = v["access_token"]
        .as_str()
        .ok_or("access_token (the ID-JAG) is missing")?;
    check_access_token(token)?;
    Ok(token.to_string())
}

/// Checks the agent options: what each grant needs, and nothing that belongs to a browser login.
pub fn check_agent_options(
    grant: &AgentGrant,
    client_id: Option<&str>,
    has_secret: bool,
    has_key: bool,
) -> Result<(), String> {
    if has_secret && has_key {
        return Err(
            "STEP11_CLIENT_SECRET and --private-key are two client authentications: give one"
                .into(),
        );
    }
    match grant {
        AgentGrant::ClientCredentials if client_id.is_none() => Err(
            "--client-credentials needs --client-id (a client registered for the grant, with a service account)".into(),
        ),
        AgentGrant::ClientCredentials if !has_secret && !has_key => Err(
            "--client-credentials needs a client authentication: --private-key FILE (private_key_jwt, recommended) or STEP11_CLIENT_SECRET (client_secret_basic)".into(),
        ),
        AgentGrant::Enterprise { .. } if client_id.is_none() => {
            Err("--enterprise-idp needs --client-id (this client at the MCP server's authorization server)".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_jag_answer_is_checked() {
        let ok = json!({"access_token": "eyJ.a.b", "issued_token_type": TOKEN_TYPE_ID_JAG, "token_type": "N_A"});
        assert_eq!(id_jag_from(ok.to_string().as_bytes()).unwrap(), "eyJ.a.b");
        let wrong = json!({"access_token": "x", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"});
        assert_eq!(
            id_jag_from(wrong.to_string().as_bytes()).unwrap_err(),
            "issued_token_type urn:ietf:params:oauth:token-type:access_token is not urn:ietf:params:oauth:token-type:id-jag"
        );
        let none = json!({"issued_token_type": TOKEN_TYPE_ID_JAG});
        assert_eq!(
            id_jag_from(none.to_string().as_bytes()).unwrap_err(),
            "access_token (the ID-JAG) is missing"
        );
    }

    #[test]
    fn options_each_grant_needs() {
        let cc = AgentGrant::ClientCredentials;
        assert!(
            check_agent_options(&cc, None, true, false)
                .unwrap_err()
                .contains("needs --client-id")
        );
        assert!(
            check_agent_options(&cc, Some("a"), false, false)
                .unwrap_err()
                .contains("--private-key FILE")
        );
        assert!(
            check_agent_options(&cc, Some("a"), true, true)
                .unwrap_err()
                .contains("give one")
        );
        assert!(check_agent_options(&cc, Some("a"), false, true).is_ok());
        let wif = AgentGrant::Workload {
            assertion: "j".into(),
        };
        assert!(
            check_agent_options(&wif, None, false, false).is_ok(),
            "a workload may have no client id"
        );
    }
}
