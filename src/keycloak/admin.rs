//! Steps 9–10: the master realm's admin account, for the Admin REST API (`step9 --apply`, and
//! the realm settings step 9 reads).

use serde_json::Value;

use crate::keycloak::settings::KeycloakConfig;

/// Admin credentials for the Admin REST API (from `KEYCLOAK_ADMIN_USER` / `KEYCLOAK_ADMIN_PASSWORD`).
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

/// An access token of the master realm's admin (`admin-cli`, password grant), for the Admin REST
/// API.
pub async fn admin_token(
    client: &reqwest::Client,
    config: &KeycloakConfig,
    admin: &AdminCredentials,
) -> Result<String, String> {
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
                "admin login failed (HTTP 404 Not Found): {token_url} does not exist; is this Keycloak (its Admin REST API answers there)?"
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
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "admin token response has no access_token".to_string())
}
