//! Step 11: from a bare `401` to the authorization server's endpoints — the discovery half of
//! what an MCP host does (MCP 2025-11-25, Authorization, "Authorization Server Discovery").
//!
//! 1. [`crate::client::challenge`] reads the challenge (RFC 9110 §11.6.1 syntax; RFC 6750 §3 for
//!    Bearer's `error`, `scope`; RFC 9728 §5.1 for `resource_metadata`).
//! 2. The Protected Resource Metadata (RFC 9728) comes from `resource_metadata` when the challenge
//!    names it, else from the well-known locations, path-inserted first ([`prm_well_known_urls`]).
//! 3. Its `resource` must name the server we are talking to ([`resource_matches`]).
//! 4. The authorization server metadata comes from the first of [`as_metadata_urls`] that answers
//!    (RFC 8414 §3.1, OpenID Connect Discovery 1.0 §4, in the order MCP 2025-11-25 gives), its
//!    `issuer` must be the one the PRM named (RFC 8414 §3.3), and it must offer PKCE `S256`.
//! 5. A server without any PRM is a 2025-03-26 server: its origin is the authorization server, and
//!    without metadata the default endpoints `/authorize`, `/token`, `/register` apply there.

use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::client::challenge::BearerChallenge;
use crate::client::http_client;
use crate::client::trace::{Trace, untrusted};

// ---------------------------------------------------------------- well-known URLs

const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
const OIDC_WELL_KNOWN: &str = "/.well-known/openid-configuration";

fn origin_with_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Where to look for the Protected Resource Metadata when the challenge does not say (RFC 9728
/// §3.1; MCP 2025-11-25): the path-inserted form first, then the root.
/// `http://h/mcp` → `http://h/.well-known/oauth-protected-resource/mcp`, then
/// `http://h/.well-known/oauth-protected-resource`.
pub fn prm_well_known_urls(server: &Url) -> Vec<Url> {
    let path = server.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.push(origin_with_path(server, &format!("{PRM_WELL_KNOWN}{path}")));
    }
    urls.push(origin_with_path(server, PRM_WELL_KNOWN));
    urls
}

/// Where to look for the authorization server metadata, in MCP 2025-11-25's order.
///
/// Issuer with a path (`https://h/tenant1`): RFC 8414 path-inserted
/// `/.well-known/oauth-authorization-server/tenant1`, OIDC path-inserted
/// `/.well-known/openid-configuration/tenant1`, OIDC path-appended
/// `/tenant1/.well-known/openid-configuration` — never the root documents, which describe another
/// issuer. Issuer without a path: `/.well-known/oauth-authorization-server`, then
/// `/.well-known/openid-configuration`.
pub fn as_metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            origin_with_path(issuer, OAUTH_WELL_KNOWN),
            origin_with_path(issuer, OIDC_WELL_KNOWN),
        ]
    } else {
        vec![
            origin_with_path(issuer, &format!("{OAUTH_WELL_KNOWN}{path}")),
            origin_with_path(issuer, &format!("{OIDC_WELL_KNOWN}{path}")),
            origin_with_path(issuer, &format!("{path}{OIDC_WELL_KNOWN}")),
        ]
    }
}

/// Does the PRM's `resource` name the MCP server at `server`?
///
/// RFC 9728 §3.3 asks for the exact URL the client used; §7.3 explains why (a resource must not
/// send clients to metadata that describes another resource). This client applies the rule the
/// MCP SDKs and the MCP conformance suite apply, which is also what
/// draft-mcguinness-oauth-rfc9728bis proposes for RFC 9728 §3.3: **same origin** (scheme, host,
/// port) and the `resource` path is a prefix of the server's path on a `/` boundary. So
/// `http://h/mcp` and `http://h` both match `http://h/mcp`; `http://h/mcp-admin`,
/// `http://h:8080/mcp` and `https://evil.example/mcp` do not.
pub fn resource_matches(resource: &str, server: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    if r.fragment().is_some()
        || r.scheme() != server.scheme()
        || r.host() != server.host()
        || r.port_or_known_default() != server.port_or_known_default()
        || (r.query().is_some() && r.query() != server.query())
    {
        return false;
    }
    let rp = r.path().trim_end_matches('/');
    let sp = server.path().trim_end_matches('/');
    rp.is_empty()
        || rp == sp
        || sp
            .strip_prefix(rp)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// RFC 8414 §3.3: the metadata's `issuer` is the issuer we looked up. One trailing `/` is
/// ignored (`http://h` and `http://h/` are the same URL once parsed).
pub fn same_issuer(a: &str, b: &str) -> bool {
    a.strip_suffix('/').unwrap_or(a) == b.strip_suffix('/').unwrap_or(b)
}

// ---------------------------------------------------------------- documents

/// The Protected Resource Metadata fields this client uses (RFC 9728 §2).
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectedResource {
    /// The resource identifier.
    pub resource: String,
    /// Issuers that can grant tokens for it.
    #[serde(default)]
    pub authorization_servers: Option<Vec<String>>,
    /// Scopes a client may ask for.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// DPoP proof algorithms the resource accepts (RFC 9728 §2).
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// The resource takes DPoP-bound tokens only (RFC 9728 §2).
    #[serde(default)]
    pub dpop_bound_access_tokens_required: bool,
}

#[derive(Debug, Deserialize)]
struct MetadataDocument {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    registration_endpoint: Option<String>,
    scopes_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    client_id_metadata_document_supported: bool,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// The authorization server, as far as this client needs it.
#[derive(Debug, Clone)]
pub struct AuthServer {
    /// The issuer identifier (from the metadata; the origin for default endpoints).
    pub issuer: String,
    /// Where the browser goes.
    pub authorization_endpoint: Url,
    /// Where codes become tokens.
    pub token_endpoint: Url,
    /// RFC 7591 registration, when offered.
    pub registration_endpoint: Option<Url>,
    /// Client authentication methods the token endpoint accepts (`None` = not published).
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Client ID Metadata Documents (URL client ids) are accepted.
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// The AS's own scope list (informational: MCP scope selection never uses it).
    pub scopes_supported: Vec<String>,
    /// The metadata document's URL; `None` when the 2025-03-26 default endpoints are in use.
    pub metadata_url: Option<Url>,
    /// DPoP proof algorithms the token endpoint accepts (RFC 9449 §5.1); empty: no DPoP.
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// Everything discovery found out.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The RFC 8707 `resource` to ask a token for: the PRM's `resource`, verbatim (or the MCP
    /// server URL when the server publishes no PRM).
    pub resource: String,
    /// The PRM's `scopes_supported` (MCP scope selection, step 2).
    pub scopes_supported: Vec<String>,
    /// The authorization server.
    pub auth_server: AuthServer,
    /// True when the server publishes no PRM (a 2025-03-26 server).
    pub legacy: bool,
    /// The PRM lists `dpop_signing_alg_values_supported`: the resource takes DPoP.
    pub resource_dpop: bool,
    /// The PRM says `dpop_bound_access_tokens_required`.
    pub resource_dpop_required: bool,
}

/// Why discovery stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A request failed (network, status, body).
    #[error("GET {url} failed: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The PRM is not usable.
    #[error("protected resource metadata at {url} is unusable: {reason}")]
    BadPrm {
        /// Where it came from.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// RFC 9728 §3.3 / §7.3.
    #[error(
        "protected resource metadata at {url} is for resource {found}, not for {server} (RFC 9728 §3.3): refusing to continue"
    )]
    ResourceMismatch {
        /// Where it came from.
        url: String,
        /// Its `resource`.
        found: String,
        /// The server we talk to.
        server: String,
    },
    /// No metadata document answered.
    #[error("no authorization server metadata for {issuer} (tried: {tried})")]
    NoAsMetadata {
        /// The issuer.
        issuer: String,
        /// Every URL tried, with its outcome.
        tried: String,
    },
    /// The AS metadata is not usable.
    #[error("authorization server metadata at {url} is unusable: {reason}")]
    BadAsMetadata {
        /// Where it came from.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// RFC 8414 §3.3.
    #[error(
        "authorization server metadata at {url} has issuer {found}, expected {expected} (RFC 8414 §3.3): refusing to continue"
    )]
    IssuerMismatch {
        /// Where it came from.
        url: String,
        /// Its `issuer`.
        found: String,
        /// The issuer we looked up.
        expected: String,
    },
    /// MCP 2025-11-25: PKCE is mandatory and `S256` is the method.
    #[error(
        "authorization server {issuer} does not offer PKCE S256 (code_challenge_methods_supported: {methods}): refusing to continue"
    )]
    NoS256 {
        /// The issuer.
        issuer: String,
        /// What it offers.
        methods: String,
    },
    /// An http URL on a non-loopback host, or an unusable URL.
    #[error("{0}")]
    Insecure(String),
}

enum Fetched {
    Json(Value),
    /// A 4xx: the document is not there.
    Missing(u16),
}

async fn fetch_json(http: &reqwest::Client, url: &Url) -> Result<Fetched, String> {
    let (status, body) =
        http_client::exchange(http.get(url.clone()).header(ACCEPT, "application/json")).await?;
    if status.is_client_error() {
        return Ok(Fetched::Missing(status.as_u16()));
    }
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    serde_json::from_slice(&body)
        .map(Fetched::Json)
        .map_err(|e| format!("the body is not JSON ({e})"))
}

fn list(items: &[String]) -> String {
    format!("[{}]", untrusted(&items.join(", ")))
}

/// Finds the PRM. `Ok(None)` = the server publishes none (every well-known location is a 4xx and
/// the challenge named none).
async fn fetch_prm(
    http: &reqwest::Client,
    server: &Url,
    challenge: Option<&BearerChallenge>,
    trace: &mut Trace,
) -> Result<Option<(ProtectedResource, Url)>, DiscoveryError> {
    let from_header = challenge.and_then(|c| c.resource_metadata.as_deref());
    let candidates = match from_header {
        Some(raw) => {
            let url = Url::parse(raw).map_err(|e| DiscoveryError::BadPrm {
                url: raw.to_string(),
                reason: format!("resource_metadata is not a URL ({e})"),
            })?;
            vec![url]
        }
        None => prm_well_known_urls(server),
    };
    for url in candidates {
        http_client::check_transport(&url, "protected resource metadata URL")
            .map_err(DiscoveryError::Insecure)?;
        let fetched = fetch_json(http, &url)
            .await
            .map_err(|reason| DiscoveryError::Fetch {
                url: url.to_string(),
                reason,
            })?;
        match fetched {
            Fetched::Missing(status) => {
                trace.step(format_args!("GET {url} → {status}"));
                if from_header.is_some() {
                    return Err(DiscoveryError::BadPrm {
                        url: url.to_string(),
                        reason: format!("the URL named by resource_metadata answers {status}"),
                    });
                }
            }
            Fetched::Json(value) => {
                let prm: ProtectedResource =
                    serde_json::from_value(value).map_err(|e| DiscoveryError::BadPrm {
                        url: url.to_string(),
                        reason: e.to_string(),
                    })?;
                return Ok(Some((prm, url)));
            }
        }
    }
    Ok(None)
}

/// Tries the metadata URLs in order. `Ok(Some)` = found; `Ok(None)` = every URL answered 4xx.
async fn fetch_as_metadata(
    http: &reqwest::Client,
    issuer: &Url,
    trace: &mut Trace,
) -> Result<Option<(MetadataDocument, Url)>, DiscoveryError> {
    let mut tried = Vec::new();
    let mut all_missing = true;
    for url in as_metadata_urls(issuer) {
        match fetch_json(http, &url).await {
            Ok(Fetched::Json(value)) => {
                trace.step(format_args!("GET {url} → 200"));
                let doc: MetadataDocument =
                    serde_json::from_value(value).map_err(|e| DiscoveryError::BadAsMetadata {
                        url: url.to_string(),
                        reason: e.to_string(),
                    })?;
                return Ok(Some((doc, url)));
            }
            Ok(Fetched::Missing(status)) => {
                trace.step(format_args!("GET {url} → {status}"));
                tried.push(format!("{url} → {status}"));
            }
            Err(reason) => {
                trace.step(format_args!("GET {url} → {reason}"));
                tried.push(format!("{url} → {reason}"));
                all_missing = false;
            }
        }
    }
    if all_missing {
        Ok(None)
    } else {
        Err(DiscoveryError::NoAsMetadata {
            issuer: issuer.to_string(),
            tried: tried.join("; "),
        })
    }
}

fn endpoint(doc_url: &Url, name: &str, value: Option<&str>) -> Result<Url, DiscoveryError> {
    let bad = |reason: String| DiscoveryError::BadAsMetadata {
        url: doc_url.to_string(),
        reason,
    };
    let raw = value.ok_or_else(|| bad(format!("{name} is missing")))?;
    let url = Url::parse(raw).map_err(|e| bad(format!("{name} {raw:?} is not a URL ({e})")))?;
    http_client::check_transport(&url, name).map_err(bad)?;
    Ok(url)
}

fn auth_server_from(
    doc: MetadataDocument,
    doc_url: &Url,
    trace: &mut Trace,
) -> Result<AuthServer, DiscoveryError> {
    let issuer = doc
        .issuer
        .clone()
        .ok_or_else(|| DiscoveryError::BadAsMetadata {
            url: doc_url.to_string(),
            reason: "issuer is missing".into(),
        })?;
    let methods = doc.code_challenge_methods_supported.unwrap_or_default();
    if !methods.iter().any(|m| m == "S256") {
        trace.detail(format_args!(
            "code_challenge_methods_supported {} ✗ (PKCE S256 is required)",
            if methods.is_empty() {
                "absent".into()
            } else {
                list(&methods)
            }
        ));
        return Err(DiscoveryError::NoS256 {
            issuer,
            methods: if methods.is_empty() {
                "absent".into()
            } else {
                list(&methods)
            },
        });
    }
    let registration_endpoint = match doc.registration_endpoint.as_deref() {
        Some(raw) => Some(endpoint(doc_url, "registration_endpoint", Some(raw))?),
        None => None,
    };
    Ok(AuthServer {
        authorization_endpoint: endpoint(
            doc_url,
            "authorization_endpoint",
            doc.authorization_endpoint.as_deref(),
        )?,
        token_endpoint: endpoint(doc_url, "token_endpoint", doc.token_endpoint.as_deref())?,
        registration_endpoint,
        token_endpoint_auth_methods_supported: doc.token_endpoint_auth_methods_supported,
        client_id_metadata_document_supported: doc.client_id_metadata_document_supported,
        authorization_response_iss_parameter_supported: doc
            .authorization_response_iss_parameter_supported,
        scopes_supported: doc.scopes_supported.unwrap_or_default(),
        metadata_url: Some(doc_url.clone()),
        dpop_signing_alg_values_supported: doc
            .dpop_signing_alg_values_supported
            .unwrap_or_default(),
        issuer,
    })
}

fn describe_auth_server(trace: &mut Trace, auth: &AuthServer, issuer_note: &str) {
    trace.detail(format_args!(
        "issuer {} {issuer_note}, code_challenge_methods_supported has S256 ✓",
        auth.issuer
    ));
    trace.detail(format_args!(
        "authorization_endpoint {}, token_endpoint {}, registration_endpoint {}",
        auth.authorization_endpoint,
        auth.token_endpoint,
        auth.registration_endpoint
            .as_ref()
            .map_or("(none)".to_string(), Url::to_string)
    ));
}

/// Runs discovery for the MCP server at `server`, starting from the 401's challenge.
pub async fn discover(
    http: &reqwest::Client,
    server: &Url,
    challenge: Option<&BearerChallenge>,
    trace: &mut Trace,
) -> Result<Discovery, DiscoveryError> {
    match fetch_prm(http, server, challenge, trace).await? {
        Some((prm, prm_url)) => discover_with_prm(http, server, prm, prm_url, trace).await,
        None => discover_legacy(http, server, trace).await,
    }
}

async fn discover_with_prm(
    http: &reqwest::Client,
    server: &Url,
    prm: ProtectedResource,
    prm_url: Url,
    trace: &mut Trace,
) -> Result<Discovery, DiscoveryError> {
    if !resource_matches(&prm.resource, server) {
        trace.step(format_args!(
            "GET {prm_url} → 200: resource {} ✗",
            prm.resource
        ));
        return Err(DiscoveryError::ResourceMismatch {
            url: prm_url.to_string(),
            found: prm.resource,
            server: server.to_string(),
        });
    }
    let servers = prm.authorization_servers.unwrap_or_default();
    let scopes = prm.scopes_supported.unwrap_or_default();
    trace.step(format_args!(
        "GET {prm_url} → 200: resource {} ✓ (names {server}), authorization_servers {}, scopes_supported {}",
        prm.resource,
        list(&servers),
        if scopes.is_empty() {
            "(none)".into()
        } else {
            list(&scopes)
        }
    ));
    let issuer_raw = servers.first().ok_or_else(|| DiscoveryError::BadPrm {
        url: prm_url.to_string(),
        reason: "authorization_servers is missing or empty".into(),
    })?;
    let issuer = Url::parse(issuer_raw).map_err(|e| DiscoveryError::BadPrm {
        url: prm_url.to_string(),
        reason: format!("authorization server {issuer_raw:?} is not a URL ({e})"),
    })?;
    http_client::check_transport(&issuer, "authorization server")
        .map_err(DiscoveryError::Insecure)?;
    let Some((doc, doc_url)) = fetch_as_metadata(http, &issuer, trace).await? else {
        return Err(DiscoveryError::NoAsMetadata {
            issuer: issuer_raw.clone(),
            tried: as_metadata_urls(&issuer)
                .iter()
                .map(|u| format!("{u} → 4xx"))
                .collect::<Vec<_>>()
                .join("; "),
        });
    };
    if let Some(found) = doc.issuer.as_deref()
        && !same_issuer(found, issuer_raw)
    {
        trace.detail(format_args!("issuer {found} ✗ (expected {issuer_raw})"));
        return Err(DiscoveryError::IssuerMismatch {
            url: doc_url.to_string(),
            found: found.to_string(),
            expected: issuer_raw.clone(),
        });
    }
    let auth_server = auth_server_from(doc, &doc_url, trace)?;
    describe_auth_server(trace, &auth_server, "✓ (the PRM's authorization server)");
    Ok(Discovery {
        resource: prm.resource,
        scopes_supported: scopes,
        auth_server,
        legacy: false,
        resource_dpop: prm
            .dpop_signing_alg_values_supported
            .is_some_and(|algs| !algs.is_empty()),
        resource_dpop_required: prm.dpop_bound_access_tokens_required,
    })
}

/// MCP 2025-03-26: no PRM; the authorization base URL is the MCP server's origin.
async fn discover_legacy(
    http: &reqwest::Client,
    server: &Url,
    trace: &mut Trace,
) -> Result<Discovery, DiscoveryError> {
    let origin = origin_with_path(server, "/");
    trace.detail(format_args!(
        "no protected resource metadata: a 2025-03-26 server, its origin {} is the authorization server",
        origin.as_str().trim_end_matches('/')
    ));
    let auth_server = match fetch_as_metadata(http, &origin, trace).await? {
        Some((doc, doc_url)) => {
            // 2025-03-26 has no issuer to compare with (no PRM named one). Require the same
            // origin as the MCP server instead of equality with it: the 2025-03-26 conformance
            // scenario serves `issuer: <origin>/oauth` from the origin's metadata.
            let found = doc.issuer.clone().unwrap_or_default();
            let same_origin = Url::parse(&found).is_ok_and(|u| u.origin() == server.origin());
            if !same_origin {
                trace.detail(format_args!(
                    "issuer {found:?} ✗ (expected an issuer on the server's origin)"
                ));
                return Err(DiscoveryError::IssuerMismatch {
                    url: doc_url.to_string(),
                    found,
                    expected: format!("an issuer on {}", origin.as_str().trim_end_matches('/')),
                });
            }
            let auth_server = auth_server_from(doc, &doc_url, trace)?;
            describe_auth_server(trace, &auth_server, "✓ (same origin as the server)");
            auth_server
        }
        None => {
            let at = |path: &str| origin_with_path(server, path);
            trace.detail(format_args!(
                "no authorization server metadata either: using the 2025-03-26 default endpoints {}, {}, {}",
                at("/authorize"),
                at("/token"),
                at("/register")
            ));
            AuthServer {
                issuer: origin.as_str().trim_end_matches('/').to_string(),
                authorization_endpoint: at("/authorize"),
                token_endpoint: at("/token"),
                registration_endpoint: Some(at("/register")),
                token_endpoint_auth_methods_supported: None,
                client_id_metadata_document_supported: false,
                authorization_response_iss_parameter_supported: false,
                scopes_supported: Vec::new(),
                metadata_url: None,
                dpop_signing_alg_values_supported: Vec::new(),
            }
        }
    };
    let mut resource = server.clone();
    resource.set_fragment(None);
    Ok(Discovery {
        resource: resource.to_string(),
        scopes_supported: Vec::new(),
        auth_server,
        legacy: true,
        resource_dpop: false,
        resource_dpop_required: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn prm_urls_path_inserted_first_then_root() {
        let got: Vec<String> = prm_well_known_urls(&url("http://localhost:9000/mcp"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "http://localhost:9000/.well-known/oauth-protected-resource/mcp",
                "http://localhost:9000/.well-known/oauth-protected-resource",
            ]
        );
        let got: Vec<String> = prm_well_known_urls(&url("https://h/a/b/?q=1"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "https://h/.well-known/oauth-protected-resource/a/b",
                "https://h/.well-known/oauth-protected-resource",
            ]
        );
        let got: Vec<String> = prm_well_known_urls(&url("https://h/"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(got, ["https://h/.well-known/oauth-protected-resource"]);
    }

    #[test]
    fn as_metadata_urls_for_an_issuer_without_path() {
        for issuer in ["http://localhost:8080", "http://localhost:8080/"] {
            let got: Vec<String> = as_metadata_urls(&url(issuer))
                .iter()
                .map(Url::to_string)
                .collect();
            assert_eq!(
                got,
                [
                    "http://localhost:8080/.well-known/oauth-authorization-server",
                    "http://localhost:8080/.well-known/openid-configuration",
                ]
            );
        }
    }

    #[test]
    fn as_metadata_urls_for_an_issuer_with_path() {
        let got: Vec<String> = as_metadata_urls(&url("http://localhost:8080/realms/mcp-realm"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "http://localhost:8080/.well-known/oauth-authorization-server/realms/mcp-realm",
                "http://localhost:8080/.well-known/openid-configuration/realms/mcp-realm",
                "http://localhost:8080/realms/mcp-realm/.well-known/openid-configuration",
            ]
        );
        // Never the root documents for an issuer with a path.
        assert!(
            !got.iter()
                .any(|u| u.ends_with("/.well-known/oauth-authorization-server"))
        );
        let got: Vec<String> = as_metadata_urls(&url("https://as.example/tenant1/"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got[0],
            "https://as.example/.well-known/oauth-authorization-server/tenant1"
        );
        assert_eq!(
            got[2],
            "https://as.example/tenant1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn resource_match_rule() {
        let server = url("http://localhost:9000/mcp");
        assert!(resource_matches("http://localhost:9000/mcp", &server));
        assert!(resource_matches("http://localhost:9000/mcp/", &server));
        assert!(resource_matches("http://localhost:9000", &server)); // metadata-var2
        assert!(resource_matches("http://localhost:9000/", &server));
        assert!(resource_matches("HTTP://LOCALHOST:9000/mcp", &server));
        assert!(!resource_matches("http://localhost:9001/mcp", &server));
        assert!(!resource_matches("https://localhost:9000/mcp", &server));
        assert!(!resource_matches("http://127.0.0.1:9000/mcp", &server));
        assert!(!resource_matches("https://evil.example.com/mcp", &server));
        assert!(!resource_matches("http://localhost:9000/mc", &server));
        assert!(!resource_matches(
            "http://localhost:9000/mcp-admin",
            &server
        ));
        assert!(!resource_matches(
            "http://localhost:9000/mcp/deeper",
            &server
        ));
        assert!(!resource_matches("http://localhost:9000/mcp#frag", &server));
        assert!(!resource_matches("not a url", &server));
        assert!(!resource_matches("", &server));
        let deep = url("https://h/tenants/a/mcp");
        assert!(resource_matches("https://h/tenants/a", &deep));
        assert!(resource_matches("https://h:443/tenants/a/mcp", &deep));
        assert!(!resource_matches("https://h/tenants/b", &deep));
    }

    #[test]
    fn issuer_comparison_ignores_one_trailing_slash_only() {
        assert!(same_issuer(
            "http://localhost:1234",
            "http://localhost:1234/"
        ));
        assert!(same_issuer("http://h/tenant1", "http://h/tenant1"));
        assert!(!same_issuer("http://h/tenant1", "http://h/tenant2"));
        assert!(!same_issuer("http://h/oauth", "http://h"));
    }
}
