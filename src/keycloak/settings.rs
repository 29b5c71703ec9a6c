//! Steps 9–10: where Keycloak is and what its tokens must say — from flags, the environment and
//! an env file ([`crate::keycloak::env_config`]), resolved once at start.
//!
//! - [`KeycloakArgs`] / [`KeycloakConfig`]: Keycloak's URL, the realm, the issuer and audience.
//! - [`resolve_server_config`]: everything step 10 needs, with where each value came from.
//! - [`http_client`] / [`wait_for`]: talking to Keycloak with bounded time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::ArgMatches;

use crate::auth::bearer_auth;
use crate::auth::dpop::DpopMode;
use crate::http::config::ConfigError;
use crate::http::origin_guard::GuardArgs;
use crate::http::server::PublicUrl;
use crate::keycloak::env_config::{EnvFile, Resolver};
use crate::keycloak::introspection::{IntrospectionSettings, TokenCheck};
use crate::keycloak::jwks_cache::CacheSettings;

/// The demo client used for password grants (direct access grants enabled in the realm file).
pub const TEST_CLIENT: &str = "mcp-test-client";
/// The resource server's client id: the owner of the MCP roles (and of `resource_url`, which
/// Keycloak's RFC 8707 support matches a `resource` parameter against).
pub const RESOURCE_CLIENT: &str = "echo-mcp-server";

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
    /// Expected member of `aud` (default `<MCP_SERVER_URL>/mcp`, the canonical resource URI).
    pub audience: String,
    /// `MCP_SERVER_URL`: the MCP server's public base URL (default `http://localhost:9000`).
    pub public_url: PublicUrl,
}

impl KeycloakConfig {
    /// Resolves the Keycloak settings (flag ids of [`KeycloakArgs`], [`bearer_auth::TokenArgs`]
    /// and `mcp_server_url`).
    pub fn resolve(r: &mut Resolver<'_>) -> Result<Self, ConfigError> {
        let server_url = r
            .value(
                "mcp_server_url",
                "MCP_SERVER_URL",
                Some("http://localhost:9000".into()),
            )
            .unwrap_or_default();
        let public_url = PublicUrl::parse(&server_url)?;
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
            .value("audience", "JWT_AUDIENCE", Some(public_url.mcp_endpoint()))
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
            public_url,
        })
    }

    /// `<KEYCLOAK_URL>/realms/<realm>`: where this realm's endpoints live.
    pub fn realm_url(&self) -> String {
        format!("{}/realms/{}", self.keycloak_url, self.realm)
    }
}

fn check_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    crate::http::config::http_url(name, raw)?;
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

/// Flags for how step 10 checks a token: offline (`jwt`, the default) or also by RFC 7662
/// introspection at Keycloak. Plain strings, parsed by [`resolve_server_config`].
#[derive(clap::Args, Debug, Clone)]
pub struct TokenCheckArgs {
    /// `jwt` (offline, the default) or `introspection` (offline, then Keycloak's introspection).
    #[arg(long = "token-check", env = "TOKEN_CHECK")]
    pub token_check: Option<String>,
    /// The client that introspects.
    #[command(flatten)]
    pub client: IntrospectionClientArgs,
    /// The longest an introspection answer is kept, in seconds (default 10, at most 300; 0: ask
    /// every time).
    #[arg(
        long = "introspection-cache-seconds",
        env = "INTROSPECTION_CACHE_SECONDS"
    )]
    pub introspection_cache_seconds: Option<String>,
    /// The most introspection answers kept (default 10000).
    #[arg(
        long = "introspection-cache-entries",
        env = "INTROSPECTION_CACHE_ENTRIES"
    )]
    pub introspection_cache_entries: Option<String>,
    /// DPoP (RFC 9449): `off` (bearer tokens only, the default), `accepted` (DPoP-bound tokens
    /// with proofs, and bearer tokens) or `required` (DPoP-bound tokens only).
    #[arg(long = "dpop", env = "DPOP")]
    pub dpop: Option<String>,
}

/// The confidential client step 10 introspects as (step 9 checks that Keycloak accepts it).
#[derive(clap::Args, Debug, Clone)]
pub struct IntrospectionClientArgs {
    /// The client's id (default echo-mcp-server).
    #[arg(long = "introspection-client-id", env = "INTROSPECTION_CLIENT_ID")]
    pub introspection_client_id: Option<String>,
    /// Its secret (never printed).
    #[arg(
        long = "introspection-client-secret",
        env = "INTROSPECTION_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub introspection_client_secret: Option<String>,
}

/// The longest `INTROSPECTION_CACHE_SECONDS` accepted: a logged-out session must show within
/// minutes, or introspection buys nothing over the 5-minute tokens.
pub const MAX_INTROSPECTION_CACHE_SECONDS: u64 = 300;

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
    /// `TOKEN_CHECK`.
    pub token_check: TokenCheck,
    /// The introspecting client, with `TOKEN_CHECK=introspection`.
    pub introspection: Option<IntrospectionSettings>,
    /// `DPOP`.
    pub dpop: DpopMode,
    /// The printout: each value and where it came from (no secrets).
    pub report: String,
}

/// Resolves step 10's settings: `matches` from a command that flattens `ServerArgs`,
/// [`KeycloakArgs`], `TokenArgs`, [`JwksArgs`] and [`TokenCheckArgs`]; `env_file` from `--env`.
pub fn resolve_server_config(
    matches: &ArgMatches,
    env_file: Option<&Path>,
) -> Result<ServerConfig, ConfigError> {
    let file = EnvFile::load_optional(env_file)?;
    let mut r = Resolver::new(matches, &file);
    let keycloak = KeycloakConfig::resolve(&mut r)?;
    let public_url = keycloak.public_url.clone();
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
            Some(crate::auth::token_cache::DEFAULT_CAPACITY.to_string()),
        )
        .unwrap_or_default();
    let token_cache_size = crate::auth::token_cache::parse_size(&size)?;
    let raw = r
        .value("token_check", "TOKEN_CHECK", Some("jwt".into()))
        .unwrap_or_default();
    let token_check = TokenCheck::parse(&raw).ok_or_else(|| ConfigError::Invalid {
        name: "TOKEN_CHECK",
        value: raw.clone(),
        why: "jwt or introspection is expected".into(),
    })?;
    let introspection = match token_check {
        TokenCheck::Jwt => None,
        TokenCheck::Introspection => Some(introspection_settings(&mut r)?),
    };
    let raw = r
        .value("dpop", "DPOP", Some("off".into()))
        .unwrap_or_default();
    let dpop = DpopMode::parse(&raw).ok_or_else(|| ConfigError::Invalid {
        name: "DPOP",
        value: raw.clone(),
        why: "off, accepted or required is expected".into(),
    })?;
    Ok(ServerConfig {
        dpop,
        public_url,
        keycloak,
        guard,
        cache,
        token_cache_size,
        token_check,
        introspection,
        report: r.report(),
    })
}

/// `INTROSPECTION_CLIENT_ID` (default the resource client) and `INTROSPECTION_CLIENT_SECRET`, from
/// a command that flattens [`IntrospectionClientArgs`] (step 10, and step 9's check of the client).
pub fn introspection_client(r: &mut Resolver<'_>) -> (String, Option<String>) {
    let client_id = r
        .value(
            "introspection_client_id",
            "INTROSPECTION_CLIENT_ID",
            Some(RESOURCE_CLIENT.into()),
        )
        .unwrap_or_default();
    let secret = r
        .secret("introspection_client_secret", "INTROSPECTION_CLIENT_SECRET")
        .filter(|s| !s.is_empty());
    (client_id, secret)
}

fn introspection_settings(r: &mut Resolver<'_>) -> Result<IntrospectionSettings, ConfigError> {
    let (client_id, client_secret) = introspection_client(r);
    let client_secret = client_secret.ok_or(ConfigError::Missing(
            "INTROSPECTION_CLIENT_SECRET (TOKEN_CHECK=introspection authenticates to Keycloak's introspection endpoint as a confidential client)",
        ))?;
    let number = |r: &mut Resolver<'_>, id: &str, name: &'static str, default: u64, max: u64| {
        let raw = r
            .value(id, name, Some(default.to_string()))
            .unwrap_or_default();
        match raw.trim().parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                value: raw.clone(),
                why: format!("a whole number from 0 to {max} is expected"),
            }),
        }
    };
    let ttl = number(
        r,
        "introspection_cache_seconds",
        "INTROSPECTION_CACHE_SECONDS",
        10,
        MAX_INTROSPECTION_CACHE_SECONDS,
    )?;
    let max_entries = number(
        r,
        "introspection_cache_entries",
        "INTROSPECTION_CACHE_ENTRIES",
        10_000,
        1_000_000,
    )?;
    Ok(IntrospectionSettings {
        client_id,
        client_secret,
        ttl: Duration::from_secs(ttl),
        max_entries: max_entries as usize,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("KEYCLOAK_URL", "localhost:8080").is_err());
        assert_eq!(
            check_url("KEYCLOAK_URL", "http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
    }
}
