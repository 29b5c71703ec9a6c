//! Step 9: the Keycloak realm the tutorial needs, checked (and created) from the outside.
//!
//! - [`apply_realm`]: creates the realm from `env/keycloak/mcp-realm.json` through the Admin REST
//!   API when it is missing (`step9 --apply`).
//! - [`verify_realm`]: checks the realm end to end — discovery, JWKS, what clients may register
//!   themselves and the realm's security settings ([`crate::keycloak::realm_policy`]), and a
//!   password grant per demo user with the MCP scopes, audience, `azp` and roles each must get.

use serde_json::Value;
use std::path::Path;

use crate::auth::bearer_auth::{AuthError, KeySource, TokenValidator};
use crate::auth::identity::Identity;
use crate::auth::policy::MCP_SCOPES;
pub use crate::keycloak::admin::{AdminCredentials, admin_token};
pub use crate::keycloak::check::{Check, render_table};
use crate::keycloak::jwks_cache::{CacheSettings, JwksCache, get_json};
use crate::keycloak::realm_policy;
use crate::keycloak::settings::{KeycloakConfig, RESOURCE_CLIENT, TEST_CLIENT};

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
    let admin_token = admin_token(client, config, admin).await?;
    let admin_token = admin_token.as_str();

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

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

/// Verifies the realm end to end; returns every check (the caller prints and sets the exit code).
pub async fn verify_realm(
    client: &reqwest::Client,
    config: &KeycloakConfig,
    admin: Option<&AdminCredentials>,
    introspection: (&str, Option<&str>),
) -> Vec<Check> {
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
                "start Keycloak with the realm imported (scripts/keycloak.sh start, or env/keycloak/docker-compose.yml) or run step9 --apply",
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
    for (key, what, fix) in [
        (
            "authorization_response_iss_parameter_supported",
            "iss in authorization responses (RFC 9207)",
            "Keycloak 26 always sends iss; is this Keycloak 26?",
        ),
        (
            "client_id_metadata_document_supported",
            "client ID metadata documents (CIMD)",
            "start Keycloak with the cimd feature (scripts/keycloak.sh does: --features=cimd,resource-indicators)",
        ),
    ] {
        let yes = discovery.get(key) == Some(&Value::Bool(true));
        checks.push(Check::new(
            what,
            "yes",
            if yes { "yes" } else { "no" },
            yes,
            fix,
        ));
    }

    let jwks_uri = text("jwks_uri");
    let usable = match get_json(client, &jwks_uri).await {
        Ok(jwks) => crate::keycloak::jwks_cache::usable_keys(&jwks).len(),
        Err(_) => 0,
    };
    checks.push(Check::new(
        "JWKS RS256 signing keys",
        ">= 1",
        format!("{usable} at {jwks_uri}"),
        usable >= 1,
        "the realm needs an active RS256 key (Realm settings → Keys)",
    ));

    // ANCHOR: verify_realm_registration
    checks.extend(realm_policy::verify_registration(client, &text("registration_endpoint")).await);
    checks.extend(
        realm_policy::verify_dpop_registration(
            client,
            &text("registration_endpoint"),
            &text("token_endpoint"),
        )
        .await,
    );
    checks.push(
        realm_policy::verify_test_client_redirects(client, &text("authorization_endpoint")).await,
    );
    checks.push(
        realm_policy::verify_refresh_rotation(
            client,
            &text("token_endpoint"),
            (DEMO_USERS[2].username, DEMO_USERS[2].password),
        )
        .await,
    );
    checks.extend(realm_policy::verify_security_settings(client, config, admin).await);
    let (introspection_client, secret) = introspection;
    checks.push(
        realm_policy::verify_introspection_client(config, introspection_client, secret).await,
    );
    // ANCHOR_END: verify_realm_registration

    let cache = JwksCache::new(&config.issuer, CacheSettings::default());
    // Load the keys now, so that a token's kid is looked up in a filled cache.
    let _ = cache.refresh().await;
    let validator = TokenValidator::new(KeySource::Remote(cache), &config.issuer, &config.audience)
        .with_client_roles(RESOURCE_CLIENT);
    let token_endpoint = text("token_endpoint");
    for user in DEMO_USERS {
        checks.extend(verify_user(client, &token_endpoint, &validator, config, user).await);
    }
    checks.push(realm_policy::verify_agent(client, &token_endpoint, &validator, config).await);
    // Each MCP scope must bind the token to the server on its own: a token asked for one scope
    // only gets `aud` from that scope's mapper alone.
    let admin = DEMO_USERS[0];
    for scope in MCP_SCOPES {
        let aud = match password_grant(client, &token_endpoint, admin, &format!("openid {scope}"))
            .await
        {
            Ok(token) => audience_of(&token),
            Err(e) => e,
        };
        checks.push(Check::new(
            format!("{scope} alone: aud contains"),
            &config.audience,
            &aud,
            aud.split(' ').any(|a| a == config.audience),
            format!(
                "the client scope {scope} needs an Audience mapper with included.custom.audience = {} (JWT_AUDIENCE)",
                config.audience
            ),
        ));
    }
    checks
}

/// A password grant through the test client; the access token, or what went wrong.
async fn password_grant(
    client: &reqwest::Client,
    token_endpoint: &str,
    user: DemoUser,
    scope: &str,
) -> Result<String, String> {
    let response = client
        .post(token_endpoint)
        .form(&[
            ("grant_type", "password"),
            ("client_id", TEST_CLIENT),
            ("username", user.username),
            ("password", user.password),
            ("scope", scope),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(format!("HTTP {}", status.as_u16())),
    }
}

/// The token's `aud` members, space-separated (a string or an array; unverified).
fn audience_of(token: &str) -> String {
    let claims = crate::auth::token::decode_unverified(token)
        .map(|(_, c)| c)
        .unwrap_or(Value::Null);
    match claims.get("aud") {
        Some(Value::String(one)) => one.clone(),
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => "(none)".into(),
    }
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
    let token = match password_grant(client, token_endpoint, user, &scope).await {
        Ok(token) => token,
        Err(e) => {
            return vec![Check::new(
                format!("{who}: password grant"),
                "HTTP 200",
                e,
                false,
                "the user must exist with the demo password and mcp-test-client needs direct access grants",
            )];
        }
    };
    let token = token.as_str();
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
                    "the realm's keys could not be fetched: JWT_ISSUER must be the issuer in Keycloak's discovery document".to_string()
                }
                AuthError::InvalidToken(why) if why.contains("issuer") => {
                    "set JWT_ISSUER to the iss Keycloak writes (<KEYCLOAK_URL>/realms/<realm> as clients see it)".to_string()
                }
                _ => format!(
                    "each MCP client scope needs an Audience mapper adding {} (JWT_AUDIENCE)",
                    config.audience
                ),
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
    let claims = crate::auth::token::decode_unverified(token)
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
            .pointer(&format!("/resource_access/{RESOURCE_CLIENT}/roles"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    let expected_roles = sorted(user.roles.iter().map(|s| s.to_string()));
    checks.push(Check::new(
        format!("{who}: {RESOURCE_CLIENT} roles"),
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
}
