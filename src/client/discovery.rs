//! Step 11: from a bare `401` to the authorization server's endpoints — the discovery half of
//! what an MCP host does (MCP 2025-11-25, Authorization, "Authorization Server Discovery").
//!
//! 1. [`parse_www_authenticate`] reads the challenge (RFC 9110 §11.6.1 syntax; RFC 6750 §3 for
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

use crate::client::http_client;
use crate::client::trace::{Trace, untrusted};

// ---------------------------------------------------------------- WWW-Authenticate

/// One challenge of a `WWW-Authenticate` field: a scheme and either a token68 or auth-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare it case-insensitively).
    pub scheme: String,
    /// `Basic dXNlcjpwYXNz`-style credentials, when the challenge carries a token68.
    pub token68: Option<String>,
    /// auth-params in order, names lower-cased, quoted-string values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first value of a parameter (names are case-insensitive; a repeated name is invalid
    /// per RFC 9110 §11.2, so only the first one counts).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one `WWW-Authenticate` field value into its challenges (RFC 9110 §11.6.1):
/// `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, challenges and params both
/// separated by commas, `auth-param = token BWS "=" BWS ( token / quoted-string )`.
///
/// Lenient and total: it never panics, skips what it cannot read up to the next comma, and keeps
/// what it could read (an unterminated quoted-string ends at the end of the field).
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut c = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        c.skip_ws_and_commas();
        if c.eof() {
            break;
        }
        let Some(scheme) = c.token() else {
            c.skip_to_comma();
            continue;
        };
        if c.peek() == Some(b'=') {
            // `name=value` where a scheme should be: a stray parameter, not a challenge.
            c.skip_to_comma();
            continue;
        }
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        c.skip_ws();
        if let Some(t68) = c.token68() {
            challenge.token68 = Some(t68);
        } else {
            c.params(&mut challenge.params);
        }
        out.push(challenge);
    }
    out
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A token68 is only a token68 when nothing but spaces follows it before a comma or the end.
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        let end = self.i;
        self.skip_ws();
        if self.eof() || self.peek() == Some(b',') {
            Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
        } else {
            self.i = start;
            None
        }
    }

    /// A quoted-string (the cursor is on its opening `"`), with `\x` escapes undone.
    fn quoted(&mut self) -> String {
        let mut buf = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        buf.push(escaped);
                        self.i += 1;
                    }
                }
                other => buf.push(other),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn skip_to_comma(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => break,
                b'"' => {
                    self.quoted();
                }
                _ => self.i += 1,
            }
        }
    }

    /// auth-params until a token that is not followed by `=` (the next challenge's scheme).
    fn params(&mut self, params: &mut Vec<(String, String)>) {
        loop {
            let save = self.i;
            self.skip_ws_and_commas();
            if self.eof() {
                return;
            }
            let Some(name) = self.token() else {
                self.skip_to_comma();
                continue;
            };
            self.skip_ws();
            if self.peek() != Some(b'=') {
                self.i = save;
                return;
            }
            self.i += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()
            } else {
                self.token().unwrap_or_default()
            };
            params.push((name.to_ascii_lowercase(), value));
            self.skip_ws();
            if !self.eof() && self.peek() != Some(b',') {
                self.skip_to_comma();
            }
        }
    }
}

/// What a client needs from a `Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `error`, e.g. `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `scope`: the scopes the resource wants (MCP 2025-11-25 scope selection, step 1).
    pub scope: Option<String>,
    /// `resource_metadata`: where the Protected Resource Metadata is.
    pub resource_metadata: Option<String>,
}

impl BearerChallenge {
    /// The first `Bearer` challenge among the `WWW-Authenticate` field values, if any.
    pub fn from_header_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        values
            .into_iter()
            .flat_map(parse_www_authenticate)
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
            .map(|c| {
                let get = |name: &str| c.param(name).map(str::to_string);
                Self {
                    error: get("error"),
                    error_description: get("error_description"),
                    scope: get("scope"),
                    resource_metadata: get("resource_metadata"),
                }
            })
    }

    /// The `Bearer` challenge of a response's `WWW-Authenticate` fields.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Option<Self> {
        Self::from_header_values(
            headers
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }

    /// The challenge's `scope`, when it names at least one scope.
    pub fn scope(&self) -> Option<&str> {
        self.scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// `error="insufficient_scope"` (RFC 6750 §3.1): a step-up may help.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn parses_a_bearer_challenge_with_quoted_values() {
        let cs = parse_www_authenticate(
            r#"Bearer realm="mcp", error="invalid_token", error_description="token expired", resource_metadata="http://localhost:9000/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:tools""#,
        );
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].scheme, "Bearer");
        assert_eq!(cs[0].param("error"), Some("invalid_token"));
        assert_eq!(cs[0].param("scope"), Some("mcp:read mcp:tools"));
        assert_eq!(
            cs[0].param("resource_metadata"),
            Some("http://localhost:9000/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn scheme_and_param_names_are_case_insensitive() {
        let b = BearerChallenge::from_header_values([
            r#"bEaReR SCOPE="a b", Error=insufficient_scope"#,
        ])
        .unwrap();
        assert_eq!(b.scope(), Some("a b"));
        assert!(b.is_insufficient_scope());
    }

    #[test]
    fn token_values_and_bws_around_equals() {
        let cs = parse_www_authenticate("Bearer error = invalid_request ,realm=mcp");
        assert_eq!(
            params(&cs[0]),
            [("error", "invalid_request"), ("realm", "mcp")]
        );
    }

    #[test]
    fn quoted_string_escapes() {
        let cs = parse_www_authenticate(r#"Bearer error_description="say \"hi\", then \\ leave""#);
        assert_eq!(
            cs[0].param("error_description"),
            Some(r#"say "hi", then \ leave"#)
        );
    }

    #[test]
    fn several_challenges_in_one_field() {
        // RFC 9110 §11.6.1's example.
        let cs = parse_www_authenticate(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].scheme, "Newauth");
        assert_eq!(
            params(&cs[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", r#"Login to "apps""#)
            ]
        );
        assert_eq!(cs[1].scheme, "Basic");
        assert_eq!(params(&cs[1]), [("realm", "simple")]);
    }

    #[test]
    fn bearer_after_another_scheme_and_token68() {
        let cs = parse_www_authenticate(r#"Negotiate abc+/==, Bearer scope="x""#);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].token68.as_deref(), Some("abc+/=="));
        let b = BearerChallenge::from_header_values([r#"Negotiate abc+/==, Bearer scope="x""#])
            .unwrap();
        assert_eq!(b.scope(), Some("x"));
    }

    #[test]
    fn bearer_found_across_several_fields() {
        let b = BearerChallenge::from_header_values([
            r#"Basic realm="x""#,
            r#"Bearer resource_metadata="http://h/prm""#,
        ])
        .unwrap();
        assert_eq!(b.resource_metadata.as_deref(), Some("http://h/prm"));
    }

    #[test]
    fn bare_scheme_and_empty_list_elements() {
        let cs = parse_www_authenticate(" , Bearer ,, , ");
        assert_eq!(cs.len(), 1);
        assert!(cs[0].params.is_empty());
        let cs = parse_www_authenticate(r#"Bearer realm="a",, , scope="b""#);
        assert_eq!(params(&cs[0]), [("realm", "a"), ("scope", "b")]);
    }

    #[test]
    fn first_of_repeated_params_wins() {
        let b = BearerChallenge::from_header_values([r#"Bearer scope="a", scope="evil""#]).unwrap();
        assert_eq!(b.scope(), Some("a"));
    }

    #[test]
    fn malformed_input_never_panics_and_keeps_what_it_can() {
        let junk = [
            "",
            ",",
            "=",
            "\"",
            "Bearer \"",
            "Bearer =",
            "Bearer a=",
            "Bearer a=\"unterminated",
            "Bearer a=\"x\\",
            "Bearer \u{e9}t\u{e9}=1, scope=\"ok\"",
            "Bearer =foo, scope=\"ok\"",
            "Bearer scope=\"ok\" junk junk, realm=r",
            "=== , ;;; Bearer",
            "Bearer ,=,=,=",
            "\u{0}\u{1}Bearer",
            "Bearer realm=\"\u{1F600}\"",
        ];
        for value in junk {
            let _ = parse_www_authenticate(value);
            let _ = BearerChallenge::from_header_values([value]);
        }
        let b = BearerChallenge::from_header_values(["Bearer =foo, scope=\"ok\""]).unwrap();
        assert_eq!(b.scope(), Some("ok"));
        let b = BearerChallenge::from_header_values(["Bearer scope=\"ok\" junk junk, realm=r"])
            .unwrap();
        assert_eq!(b.scope(), Some("ok"));
        let cs = parse_www_authenticate("Bearer a=\"unterminated");
        assert_eq!(cs[0].param("a"), Some("unterminated"));
        let b = BearerChallenge::from_header_values(["Bearer realm=\"\u{1F600}\""]).unwrap();
        assert_eq!(b.scope(), None);
    }

    #[test]
    fn a_stray_parameter_is_not_a_challenge() {
        let cs = parse_www_authenticate(r#"realm="x", Bearer scope="s""#);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].scheme, "Bearer");
    }

    #[test]
    fn no_bearer_challenge() {
        assert_eq!(
            BearerChallenge::from_header_values([r#"Basic realm="x""#]),
            None
        );
        assert_eq!(
            BearerChallenge::from_header_values(Vec::<&str>::new()),
            None
        );
        // "Bearerx" is another scheme.
        assert_eq!(
            BearerChallenge::from_header_values(["Bearerx scope=a"]),
            None
        );
    }

    #[test]
    fn blank_scope_counts_as_no_scope() {
        let b = BearerChallenge::from_header_values([r#"Bearer scope="  ""#]).unwrap();
        assert_eq!(b.scope(), None);
    }

    #[test]
    fn the_challenge_our_own_server_sends_round_trips() {
        let header = crate::auth::bearer_auth::Challenge {
            resource_metadata: Some(
                "http://localhost:9000/.well-known/oauth-protected-resource/mcp".into(),
            ),
            scope: Some("mcp:read mcp:tools".into()),
        }
        .header(&crate::auth::bearer_auth::AuthError::Missing);
        let b = BearerChallenge::from_header_values([header.as_str()]).unwrap();
        assert_eq!(b.scope(), Some("mcp:read mcp:tools"));
        assert_eq!(
            b.resource_metadata.as_deref(),
            Some("http://localhost:9000/.well-known/oauth-protected-resource/mcp")
        );
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
