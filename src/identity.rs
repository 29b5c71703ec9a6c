//! Step 6: who is calling — the identity a verified token hands to the handlers.

use serde_json::{Map, Value};

/// The verified caller. Fields a token did not carry are `None` (Keycloak omits `sub` and
/// `preferred_username` for some dynamically registered clients; such tokens are still valid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `sub`.
    pub subject: Option<String>,
    /// `preferred_username`.
    pub username: Option<String>,
    /// `azp` (or `client_id`): the OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// Granted scopes, from the space-separated `scope` claim.
    pub scopes: Vec<String>,
    /// Roles (`roles`, or Keycloak's `realm_access` / `resource_access`).
    pub roles: Vec<String>,
}

impl Identity {
    /// A name for log lines: the username, else the subject, else the client.
    pub fn log_name(&self) -> String {
        self.username
            .clone()
            .or_else(|| self.subject.clone())
            .or_else(|| self.client_id.as_ref().map(|c| format!("client:{c}")))
            .unwrap_or_else(|| "(anonymous token)".into())
    }

    /// Does the token carry this scope?
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Does the token carry this role?
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The identity as `whoami`'s `structuredContent`; absent fields are left out.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        for (key, value) in [
            ("subject", &self.subject),
            ("username", &self.username),
            ("client_id", &self.client_id),
        ] {
            if let Some(v) = value {
                out.insert(key.into(), v.clone().into());
            }
        }
        out.insert("scopes".into(), self.scopes.clone().into());
        out.insert("roles".into(), self.roles.clone().into());
        Value::Object(out)
    }
}

/// Splits an OAuth `scope` string: space-separated, repeated or extra spaces tolerated,
/// duplicates dropped, order kept.
pub fn parse_scope(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split([' ', '\t']).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_strings_tolerate_extra_spaces() {
        assert_eq!(
            parse_scope("  mcp:read   mcp:tools mcp:read "),
            vec!["mcp:read", "mcp:tools"]
        );
        assert!(parse_scope("   ").is_empty());
    }

    #[test]
    fn absent_fields_are_left_out() {
        let id = Identity {
            client_id: Some("c".into()),
            scopes: vec!["a".into()],
            ..Default::default()
        };
        assert_eq!(
            id.to_value(),
            json!({"client_id": "c", "scopes": ["a"], "roles": []})
        );
        assert_eq!(id.log_name(), "client:c");
    }
}
