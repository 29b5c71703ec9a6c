//! Steps 9–10: Keycloak as the authorization server.
//!
//! - [`KeycloakArgs`] / [`resolve_server_config`]: where Keycloak is and what tokens must say,
//!   from flags, the environment and an env file (see [`crate::env_config`]).
//! - [`apply_realm`]: creates the realm from `env/keycloak/mcp-realm.json` through the Admin REST
//!   API when it is missing (`step9 --apply`).
//! - [`verify_realm`]: checks the realm end to end — discovery, JWKS, anonymous dynamic client
//!   registration (accepted for a loopback redirect, refused for a foreign one), and a password
//!   grant per demo user with the MCP scopes, audience, `azp` and roles each must get.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::ArgMatches;
use serde_json::{Value, json};

use crate::bearer_auth::{self, AuthError, KeySource, TokenValidator};
use crate::config::ConfigError;
use crate::env_config::{EnvFile, Resolver};
use crate::identity::Identity;
use crate::jwks_cache::{CacheSettings, JwksCache, get_json};
use crate::origin_guard::GuardArgs;
use crate::policy::MCP_SCOPES;
use crate::server::PublicUrl;

/// The demo client used for password grants (direct access grants enabled in the realm file).
pub const TEST_CLIENT: &str = "mcp-test-client";
/// The resource server's client id: the audience of MCP tokens and the owner of the MCP roles.
pub const RESOURCE_CLIENT: &str = "echo-mcp-server";

/// A demo user of the realm and what their token must carry. **Demo passwords.**
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// Username.
    pub username: &'static str,
    /// Password (demo only).
    pub password: &'static str,
    /// MCP scopes the token must carry — exactly these.
    pub scopes: &'static [&'static str],
    /// Client roles of `echo-mcp-server` the token must carry — exactly these.
    pub roles: &'static [&'static str],
}

/// The realm's demo users (SPEC step 9).
pub const DEMO_USERS: [DemoUser; 3] = [
    DemoUser {
        username: "mcp-admin",
        password: "admin123",
        scopes: &["mcp:read", "mcp:tools", "mcp:prompts"],
        roles: &["prompts", "read-only", "tools"],
    },
    DemoUser {
        username: "mcp-user",
        password: "user123",
        scopes: &["mcp:read", "mcp:tools"],
        roles: &["read-only", "tools"],
    },
    DemoUser {
        username: "mcp-readonly",
        password: "readonly123",
        scopes: &["mcp:read"],
        roles: &["read-only"],
    },
];

/// Flags for finding Keycloak (steps 9–10).
#[derive(clap::Args, Debug, Clone)]
pub struct KeycloakArgs {
    /// Env file with KEYCLOAK_URL, KEYCLOAK_REALM, MCP_SERVER_URL, JWT_ISSUER, JWT_AUDIENCE.
    #[arg(long = "env", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Keycloak's base URL.
    #[arg(long = "keycloak-url", env = "KEYCLOAK_URL")]
    pub keycloak_url: Option<String>,
    /// The realm.
    #[arg(long = "keycloak-realm", env = "KEYCLOAK_REALM")]
    pub realm: Option<String>,
}

/// Where Keycloak is and what its tokens must say.
#[derive(Debug, Clone)]
pub struct KeycloakConfig {
    /// e.g. `http://localhost:8080`.
    pub keycloak_url: String,
    /// e.g. `mcp-realm`.
    pub realm: String,
    /// Expected `iss` (default `<KEYCLOAK_URL>/realms/<KEYCLOAK_REALM>`).
    pub issuer: String,
    /// Expected member of `aud` (default `echo-mcp-server`).
    pub audience: String,
}

impl KeycloakConfig {
    /// Resolves the Keycloak settings (flag ids of [`KeycloakArgs`] and
    /// [`bearer_auth::TokenArgs`]).
    pub fn resolve(r: &mut Resolver<'_>) -> Result<Self, ConfigError> {
        let keycloak_url = r
            .value(
                "keycloak_url",
                "KEYCLOAK_URL",
                Some("http://localhost:8080".into()),
            )
            .unwrap_or_default();
        let keycloak_url = check_url("KEYCLOAK_URL", &keycloak_url)?;
        let realm = r
            .value("realm", "KEYCLOAK_REALM", Some("mcp-realm".into()))
            .unwrap_or_default();
        if realm.is_empty() || realm.contains(['/', '?', '#', ' ']) {
            return Err(ConfigError::Invalid {
                name: "KEYCLOAK_REALM",
                value: realm,
                why: "not a realm name".into(),
            });
        }
        let derived = format!("{keycloak_url}/realms/{realm}");
        let issuer = r
            .value("issuer", "JWT_ISSUER", Some(derived))
            .unwrap_or_default();
        let issuer = bearer_auth::check_issuer(&issuer)?;
        let audience = r
            .value("audience", "JWT_AUDIENCE", Some(RESOURCE_CLIENT.into()))
            .unwrap_or_default();
        if audience.trim().is_empty() {
            return Err(ConfigError::Invalid {
                name: "JWT_AUDIENCE",
                value: audience,
                why: "empty".into(),
            });
        }
        Ok(Self {
            keycloak_url,
            realm,
            issuer,
            audience,
        })
    }

    /// `<KEYCLOAK_URL>/realms/<realm>`: where this realm's endpoints live.
    pub fn realm_url(&self) -> String {
        format!("{}/realms/{}", self.keycloak_url, self.realm)
    }
}

fn check_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    crate::config::http_url(name, raw)?;
    Ok(raw.trim().trim_end_matches('/').to_string())
}

/// Flags for step 10's key cache. Plain strings so that the resolver can also take them from the
/// env file; [`resolve_server_config`] parses them.
#[derive(clap::Args, Debug, Clone)]
pub struct JwksArgs {
    /// Background JWKS refresh period, in seconds (default 300).
    #[arg(long = "jwks-refresh", env = "JWKS_REFRESH_SECONDS")]
    pub jwks_refresh: Option<String>,
    /// Least time between refetches triggered by unknown `kid`s, in seconds (default 10).
    #[arg(long = "jwks-min-refetch", env = "JWKS_MIN_REFETCH_SECONDS")]
    pub jwks_min_refetch: Option<String>,
}

/// Step 10's resolved configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `MCP_SERVER_URL`.
    pub public_url: PublicUrl,
    /// Keycloak settings.
    pub keycloak: KeycloakConfig,
    /// Origin/Host allow-lists.
    pub guard: GuardArgs,
    /// Key cache timing.
    pub cache: CacheSettings,
    /// Verified-token cache entries (`TOKEN_CACHE_SIZE`; 0 = off).
    pub token_cache_size: usize,
    /// The printout: each value and where it came from (no secrets).
    pub report: String,
}

/// Resolves step 10's settings: `matches` from a command that flattens `ServerArgs`,
/// [`KeycloakArgs`], `TokenArgs` and [`JwksArgs`]; `env_file` from `--env`.
pub fn resolve_server_config(
    matches: &ArgMatches,
    env_file: Option<&Path>,
) -> Result<ServerConfig, ConfigError> {
    let file = EnvFile::load_optional(env_file)?;
    let mut r = Resolver::new(matches, &file);
    let server_url = r
        .value("mcp_server_url", "MCP_SERVER_URL", None)
        .unwrap_or_default();
    let public_url = PublicUrl::parse(&server_url)?;
    let keycloak = KeycloakConfig::resolve(&mut r)?;
    let guard = GuardArgs {
        allow_origins: r.list("allow_origins", "ALLOWED_ORIGINS"),
        allow_hosts: r.list("allow_hosts", "ALLOWED_HOSTS"),
    };
    let seconds = |r: &mut Resolver<'_>, id: &str, name: &'static str, default: u64| {
        let raw = r
            .value(id, name, Some(default.to_string()))
            .unwrap_or_default();
        raw.trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError::Invalid {
                name,
                value: raw.clone(),
                why: "a whole number of seconds is expected".into(),
            })
    };
    let cache = CacheSettings {
        refresh_every: seconds(&mut r, "jwks_refresh", "JWKS_REFRESH_SECONDS", 300)?
            .max(Duration::from_secs(1)),
        min_refetch: seconds(&mut r, "jwks_min_refetch", "JWKS_MIN_REFETCH_SECONDS", 10)?,
        ..CacheSettings::default()
    };
    let size = r
        .value(
            "token_cache_size",
            "TOKEN_CACHE_SIZE",
            Some(crate::token_cache::DEFAULT_CAPACITY.to_string()),
        )
        .unwrap_or_default();
    let token_cache_size = crate::token_cache::parse_size(&size)?;
    Ok(ServerConfig {
        public_url,
        keycloak,
        guard,
        cache,
        token_cache_size,
        report: r.report(),
    })
}

/// A small HTTP client for talking to Keycloak: no system proxy, bounded time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client with default settings can be built")
}

/// Waits until `url` answers HTTP at all (any status), up to `deadline`.
pub async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    deadline: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        match client.get(url).send().await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() >= deadline => {
                return Err(format!(
                    "{url} did not answer within {}s: {e}",
                    deadline.as_secs()
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Admin credentials for `--apply` (from `KEYCLOAK_ADMIN_USER` / `KEYCLOAK_ADMIN_PASSWORD`).
#[derive(Clone)]
pub struct AdminCredentials {
    /// Username in the master realm.
    pub username: String,
    /// Password (never printed).
    pub password: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What `--apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The realm existed; nothing was changed.
    AlreadyPresent,
    /// The realm was created from the file.
    Created,
}

/// Creates the realm from `realm_file` through the Admin REST API unless it exists:
/// `POST /realms/master/protocol/openid-connect/token` (admin-cli, password grant) →
/// `GET /admin/realms/{realm}` (404 = missing) → `POST /admin/realms` with the representation.
pub async fn apply_realm(
    client: &reqwest::Client,
    config: &KeycloakConfig,
    admin: &AdminCredentials,
    realm_file: &Path,
) -> Result<Applied, String> {
    let text = std::fs::read_to_string(realm_file)
        .map_err(|e| format!("realm file {}: {e}", realm_file.display()))?;
    let representation: Value = serde_json::from_str(&text)
        .map_err(|e| format!("realm file {}: not JSON: {e}", realm_file.display()))?;
    let named = representation
        .get("realm")
        .and_then(Value::as_str)
        .unwrap_or("");
    if named != config.realm {
        return Err(format!(
            "realm file {} defines realm {named:?}, but KEYCLOAK_REALM is {:?}",
            realm_file.display(),
            config.realm
        ));
    }
    let token_url = format!(
        "{}/realms/master/protocol/openid-connect/token",
        config.keycloak_url
    );
    let response = client
        .post(&token_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", admin.username.as_str()),
            ("password", admin.password.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("POST {token_url}: {e}"))?;
    match response.status().as_u16() {
        200..=299 => {}
        404 => {
            return Err(format!(
                "admin login failed (HTTP 404 Not Found): {token_url} does not exist; --apply needs a real Keycloak (the stand-in has no Admin REST API)"
            ));
        }
        _ => {
            return Err(format!(
                "admin login failed (HTTP {}): check KEYCLOAK_ADMIN_USER / KEYCLOAK_ADMIN_PASSWORD",
                response.status()
            ));
        }
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("admin token response: {e}"))?;
    let admin_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or("admin token response has no access_token")?;

    let realm_url = format!("{}/admin/realms/{}", config.keycloak_url, config.realm);
    let existing = client
        .get(&realm_url)
        .bearer_auth(admin_token)
        .send()
        .await
        .map_err(|e| format!("GET {realm_url}: {e}"))?;
    match existing.status().as_u16() {
        200 => return Ok(Applied::AlreadyPresent),
        404 => {}
        other => return Err(format!("GET {realm_url}: HTTP {other}")),
    }
    let create_url = format!("{}/admin/realms", config.keycloak_url);
    let created = client
        .post(&create_url)
        .bearer_auth(admin_token)
        .json(&representation)
        .send()
        .await
        .map_err(|e| format!("POST {create_url}: {e}"))?;
    match created.status().as_u16() {
        201 => Ok(Applied::Created),
        409 => Ok(Applied::AlreadyPresent),
        other => {
            let detail: String = created
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            Err(format!("POST {create_url}: HTTP {other}: {detail}"))
        }
    }
}

/// One line of the verification table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// What it must be.
    pub expected: String,
    /// What it was.
    pub actual: String,
    /// Did it match?
    pub ok: bool,
    /// What to fix when it did not.
    pub fix: String,
}

impl Check {
    fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        ok: bool,
        fix: &str,
    ) -> Self {
        Self {
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
            ok,
            fix: fix.to_string(),
        }
    }
}

/// Prints checks as a table.
pub fn render_table(checks: &[Check]) -> String {
    let w1 = checks
        .iter()
        .map(|c| c.what.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let w2 = checks
        .iter()
        .map(|c| c.expected.len())
        .max()
        .unwrap_or(8)
        .clamp(8, 48);
    let mut out = format!(
        "{:<4} {:<w1$}  {:<w2$}  {}\n",
        "", "check", "expected", "actual"
    );
    for c in checks {
        out.push_str(&format!(
            "{:<4} {:<w1$}  {:<w2$}  {}\n",
            if c.ok { "ok" } else { "FAIL" },
            c.what,
            c.expected,
            c.actual
        ));
    }
    for c in checks.iter().filter(|c| !c.ok) {
        out.push_str(&format!("fix: {}: {}\n", c.what, c.fix));
    }
    out
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

/// Verifies the realm end to end; returns every check (the caller prints and sets the exit code).
pub async fn verify_realm(client: &reqwest::Client, config: &KeycloakConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    let discovery_url = format!("{}/.well-known/openid-configuration", config.realm_url());
    let discovery = match get_json(client, &discovery_url).await {
        Ok(doc) => doc,
        Err(e) => {
            checks.push(Check::new(
                "discovery document",
                "HTTP 200 JSON",
                e,
                false,
                "start Keycloak with the realm imported (env/keycloak/docker-compose.yml) or run step9 --apply",
            ));
            return checks;
        }
    };
    let text = |key: &str| {
        discovery
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let issuer = text("issuer");
    checks.push(Check::new(
        "discovery issuer",
        &config.issuer,
        &issuer,
        issuer == config.issuer,
        "set JWT_ISSUER to Keycloak's issuer (<KEYCLOAK_URL>/realms/<realm> as clients see it)",
    ));
    let s256 = discovery
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|v| v == "S256"));
    checks.push(Check::new(
        "PKCE S256 advertised",
        "yes",
        if s256 { "yes" } else { "no" },
        s256,
        "Keycloak always supports S256; is this Keycloak?",
    ));

    let jwks_uri = text("jwks_uri");
    let usable = match get_json(client, &jwks_uri).await {
        Ok(jwks) => crate::jwks_cache::usable_keys(&jwks).len(),
        Err(_) => 0,
    };
    checks.push(Check::new(
        "JWKS RS256 signing keys",
        ">= 1",
        format!("{usable} at {jwks_uri}"),
        usable >= 1,
        "the realm needs an active RS256 key (Realm settings → Keys)",
    ));

    let registration_endpoint = text("registration_endpoint");
    checks.extend(verify_registration(client, &registration_endpoint).await);

    let cache = JwksCache::new(&config.issuer, CacheSettings::default());
    // Load the keys now, so that a token's kid is looked up in a filled cache.
    let _ = cache.refresh().await;
    let validator = TokenValidator::new(KeySource::Remote(cache), &config.issuer, &config.audience);
    let token_endpoint = text("token_endpoint");
    for user in DEMO_USERS {
        checks.extend(verify_user(client, &token_endpoint, &validator, config, user).await);
    }
    checks
}

async fn verify_registration(client: &reqwest::Client, endpoint: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    if endpoint.is_empty() {
        checks.push(Check::new(
            "registration endpoint",
            "advertised",
            "absent",
            false,
            "use a Keycloak that advertises registration_endpoint",
        ));
        return checks;
    }
    let metadata = |redirect: &str| {
        json!({
            "client_name": "step9-verification (safe to delete)",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": MCP_SCOPES.join(" "),
        })
    };
    match client
        .post(endpoint)
        .json(&metadata("http://127.0.0.1:8765/callback"))
        .send()
        .await
    {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let ok = status == 201 && body.get("client_id").and_then(Value::as_str).is_some();
            checks.push(Check::new(
                "anonymous registration (loopback redirect)",
                "HTTP 201 with client_id",
                format!("HTTP {status}"),
                ok,
                "enable anonymous client registration policies in the realm (see env/keycloak/mcp-realm.json components)",
            ));
            if let (Some(uri), Some(token)) = (
                body.get("registration_client_uri").and_then(Value::as_str),
                body.get("registration_access_token")
                    .and_then(Value::as_str),
            ) {
                // RFC 7592: delete the client we just registered.
                let _ = client.delete(uri).bearer_auth(token).send().await;
            }
        }
        Err(e) => checks.push(Check::new(
            "anonymous registration (loopback redirect)",
            "HTTP 201",
            e.to_string(),
            false,
            "is Keycloak reachable?",
        )),
    }
    let refused = match client
        .post(endpoint)
        .json(&metadata("https://evil.example/callback"))
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    };
    checks.push(Check::new(
        "registration refused (foreign redirect)",
        "HTTP 4xx",
        format!("HTTP {refused}"),
        (400..500).contains(&refused),
        "the Trusted Hosts policy must check client URIs (client-uris-must-match = true)",
    ));
    checks
}

async fn verify_user(
    client: &reqwest::Client,
    token_endpoint: &str,
    validator: &TokenValidator,
    config: &KeycloakConfig,
    user: DemoUser,
) -> Vec<Check> {
    let who = user.username;
    let scope = format!("openid {}", MCP_SCOPES.join(" "));
    let response = client
        .post(token_endpoint)
        .form(&[
            ("grant_type", "password"),
            ("client_id", TEST_CLIENT),
            ("username", user.username),
            ("password", user.password),
            ("scope", scope.as_str()),
        ])
        .send()
        .await;
    let body: Value = match response {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or(Value::Null),
        Ok(r) => {
            let status = r.status();
            return vec![Check::new(
                format!("{who}: password grant"),
                "HTTP 200",
                format!("HTTP {status}"),
                false,
                "the user must exist with the demo password and mcp-test-client needs direct access grants",
            )];
        }
        Err(e) => {
            return vec![Check::new(
                format!("{who}: password grant"),
                "HTTP 200",
                e.to_string(),
                false,
                "is Keycloak reachable?",
            )];
        }
    };
    let Some(token) = body.get("access_token").and_then(Value::as_str) else {
        return vec![Check::new(
            format!("{who}: password grant"),
            "access_token",
            "none",
            false,
            "check the token endpoint",
        )];
    };
    let mut checks = Vec::new();
    let identity: std::sync::Arc<Identity> = match validator.validate(token).await {
        Ok(identity) => {
            checks.push(Check::new(
                format!("{who}: token verifies (sig, iss, aud)"),
                "valid",
                "valid",
                true,
                "",
            ));
            identity
        }
        Err(e) => {
            let fix = match &e {
                AuthError::KeysUnavailable => {
                    "the realm's keys could not be fetched: JWT_ISSUER must be the issuer in Keycloak's discovery document"
                }
                AuthError::InvalidToken(why) if why.contains("issuer") => {
                    "set JWT_ISSUER to the iss Keycloak writes (<KEYCLOAK_URL>/realms/<realm> as clients see it)"
                }
                _ => {
                    "each MCP client scope needs an audience mapper adding echo-mcp-server (JWT_AUDIENCE)"
                }
            };
            checks.push(Check::new(
                format!("{who}: token verifies (sig, iss, aud)"),
                "valid",
                e.to_string(),
                false,
                fix,
            ));
            return checks;
        }
    };
    let granted = sorted(
        identity
            .scopes
            .iter()
            .filter(|s| s.starts_with("mcp:"))
            .cloned(),
    );
    let expected = sorted(user.scopes.iter().map(|s| s.to_string()));
    checks.push(Check::new(
        format!("{who}: MCP scopes"),
        expected.join(" "),
        granted.join(" "),
        granted == expected,
        "each MCP client scope must be granted only to holders of the matching echo-mcp-server role (scope mappings)",
    ));
    let claims = crate::token::decode_unverified(token)
        .map(|(_, c)| c)
        .unwrap_or(Value::Null);
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    checks.push(Check::new(
        format!("{who}: azp"),
        TEST_CLIENT,
        &azp,
        azp == TEST_CLIENT,
        "tokens must be issued to mcp-test-client",
    ));
    let roles = sorted(
        claims
            .pointer(&format!("/resource_access/{}/roles", config.audience))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    let expected_roles = sorted(user.roles.iter().map(|s| s.to_string()));
    checks.push(Check::new(
        format!("{who}: {} roles", config.audience),
        expected_roles.join(" "),
        roles.join(" "),
        roles == expected_roles,
        "assign the client roles of echo-mcp-server to the demo users as in the realm file",
    ));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_fixes_for_failures() {
        let checks = vec![
            Check::new("a", "1", "1", true, "none"),
            Check::new("b", "2", "3", false, "do the thing"),
        ];
        let table = render_table(&checks);
        assert!(table.contains("ok   a"));
        assert!(table.contains("FAIL b"));
        assert!(table.contains("fix: b: do the thing"));
        assert!(!table.contains("fix: a"));
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("KEYCLOAK_URL", "localhost:8080").is_err());
        assert_eq!(
            check_url("KEYCLOAK_URL", "http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
    }
}
