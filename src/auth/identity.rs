//! Step 6: who is calling — the identity a verified token hands to the handlers (as
//! `Arc<Identity>` in the request's extensions), and the `whoami` tool that reports it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::mcp::catalog::{CallContext, Tool, ToolDef, ToolOutput};

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
    /// `cnf.jkt` (RFC 9449 §6.1): the thumbprint of the key the token is bound to (DPoP), if any.
    pub jkt: Option<String>,
    /// Who is calling: a person through a client, or a client on its own behalf (an agent with
    /// the client credentials grant). See [`Caller`].
    pub caller: Caller,
}

/// A person, or a client acting for itself. The token says which: RFC 9068 §2.2 has `sub` name
/// the client when no resource owner is involved; Keycloak instead gives each client's service
/// account a user of its own, whose tokens carry the `client_id` claim (its `service_account`
/// scope) and `preferred_username` `service-account-<client id>`. A token that meets either rule
/// is a client's; the policy decides on its scopes and roles like anyone's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Caller {
    /// A person, through a client.
    #[default]
    Person,
    /// A client on its own behalf (no person).
    Client,
}

impl Caller {
    /// `person` or `client`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Client => "client",
        }
    }

    /// The caller of a token with these claims (`sub`, `client_id`, `azp`, `preferred_username`).
    pub fn of(claims: &Value) -> Self {
        let text = |key: &str| claims.get(key).and_then(Value::as_str);
        let sub_is_client =
            text("sub").is_some_and(|sub| text("client_id").or(text("azp")) == Some(sub));
        let keycloak_service_account = text("client_id").is_some_and(|client| {
            text("preferred_username") == Some(format!("service-account-{client}").as_str())
        });
        if sub_is_client || keycloak_service_account {
            Self::Client
        } else {
            Self::Person
        }
    }
}

impl Identity {
    /// A name for log lines: `client:<id>` for a client on its own behalf; else the username,
    /// else the subject, else the client.
    pub fn log_name(&self) -> String {
        if let (Caller::Client, Some(client)) = (self.caller, &self.client_id) {
            return format!("client:{client}");
        }
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
        out.insert("caller".into(), self.caller.name().into());
        out.insert("scopes".into(), self.scopes.clone().into());
        out.insert("roles".into(), self.roles.clone().into());
        Value::Object(out)
    }
}

/// Splits an OAuth `scope` string: space-separated, repeated or extra spaces tolerated,
/// duplicates dropped, order kept.
pub fn parse_scope(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // RFC 6749 §3.3: scope tokens are separated by spaces (%x20) only; a tab is not a separator.
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// The `whoami` tool (step 6 on): reports the identity bearer auth verified for this request,
/// which it finds in the request's extensions.
pub fn whoami_tool() -> Tool {
    Tool {
        def: ToolDef {
            name: "whoami",
            title: Some("Who am I"),
            description: "Reports the identity the server verified from your access token: subject, username, client, whether a person or the client itself is calling, scopes, roles.",
            input_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {},
                "additionalProperties": false
            }),
            output_schema: Some(json!({
                "type": "object",
                "properties": {
                    "subject": {"type": "string", "description": "sub (absent when the token has none)"},
                    "username": {"type": "string", "description": "preferred_username, when present"},
                    "client_id": {"type": "string", "description": "azp or client_id, when present"},
                    "caller": {"type": "string", "enum": ["person", "client"], "description": "client: a client on its own behalf (client credentials), no person"},
                    "scopes": {"type": "array", "items": {"type": "string"}},
                    "roles": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["caller", "scopes", "roles"]
            })),
            annotations: Some(json!({
                "readOnlyHint": true,
                "destructiveHint": false,
                "idempotentHint": true,
                "openWorldHint": false
            })),
        },
        run: run_whoami,
    }
}

fn run_whoami(args: &Map<String, Value>, ctx: &CallContext<'_>) -> ToolOutput {
    if let Some(unknown) = args.keys().next() {
        return ToolOutput::error(format!(
            "Invalid arguments for whoami: unknown argument {unknown:?}: it takes none"
        ));
    }
    match ctx.request.get::<Arc<Identity>>() {
        Some(id) => {
            let structured = id.to_value();
            let who = match (id.caller, &id.client_id) {
                (Caller::Client, Some(client)) => format!("the client {client}, no person"),
                _ => id
                    .username
                    .as_deref()
                    .unwrap_or("(no username)")
                    .to_string(),
            };
            let text = format!(
                "You are {who} (subject {}), scopes [{}], roles [{}]",
                id.subject.as_deref().unwrap_or("(no subject)"),
                id.scopes.join(" "),
                id.roles.join(", ")
            );
            ToolOutput::ok(text, structured)
        }
        None => ToolOutput::error("whoami: this request carries no verified identity"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Extensions;

    #[test]
    fn a_client_on_its_own_behalf_is_told_from_a_person() {
        // Keycloak: a service account's token (client credentials), as Keycloak 26.7.3 issued it.
        let service_account = json!({"sub": "e7b292fc", "azp": "mcp-agent", "client_id": "mcp-agent",
            "preferred_username": "service-account-mcp-agent"});
        assert_eq!(Caller::of(&service_account), Caller::Client);
        // RFC 9068 §2.2: sub names the client when no resource owner is involved.
        assert_eq!(
            Caller::of(&json!({"sub": "agent-7", "client_id": "agent-7"})),
            Caller::Client
        );
        assert_eq!(
            Caller::of(&json!({"sub": "agent-7", "azp": "agent-7"})),
            Caller::Client
        );
        // A person through a client: RFC 9068 puts client_id in every token, so it alone says nothing.
        let person = json!({"sub": "u-1", "azp": "mcp-test-client", "client_id": "mcp-test-client",
            "preferred_username": "mcp-user"});
        assert_eq!(Caller::of(&person), Caller::Person);
        // A user who merely calls herself service-account-… is a person without the client_id claim.
        let lookalike = json!({"sub": "u-2", "azp": "mcp-agent", "preferred_username": "service-account-mcp-agent"});
        assert_eq!(Caller::of(&lookalike), Caller::Person);
        assert_eq!(Caller::of(&json!({})), Caller::Person);
        let id = Identity {
            client_id: Some("mcp-agent".into()),
            username: Some("service-account-mcp-agent".into()),
            caller: Caller::Client,
            ..Identity::default()
        };
        assert_eq!(id.log_name(), "client:mcp-agent");
        assert_eq!(id.to_value()["caller"], "client");
    }

    #[test]
    fn scope_strings_tolerate_extra_spaces() {
        assert_eq!(
            parse_scope("  mcp:read   mcp:tools mcp:read "),
            vec!["mcp:read", "mcp:tools"]
        );
        assert!(parse_scope("   ").is_empty());
    }

    #[test]
    fn scope_strings_split_on_spaces_only() {
        assert_eq!(
            parse_scope("mcp:read\tmcp:tools"),
            vec!["mcp:read\tmcp:tools"]
        );
        assert_eq!(
            parse_scope("mcp:read\nmcp:tools mcp:x"),
            vec!["mcp:read\nmcp:tools", "mcp:x"]
        );
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
            json!({"client_id": "c", "caller": "person", "scopes": ["a"], "roles": []})
        );
        assert_eq!(id.log_name(), "client:c");
    }

    #[test]
    fn whoami_reports_the_identity_in_the_extensions() {
        let mut request = Extensions::new();
        let out = run_whoami(&Map::new(), &CallContext { request: &request });
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "whoami: this request carries no verified identity"
        );
        request.insert(Arc::new(Identity {
            username: Some("alice".into()),
            subject: Some("s1".into()),
            scopes: vec!["mcp:read".into()],
            ..Default::default()
        }));
        let out = run_whoami(&Map::new(), &CallContext { request: &request });
        assert!(!out.is_error);
        assert_eq!(
            out.text,
            "You are alice (subject s1), scopes [mcp:read], roles []"
        );
        assert_eq!(
            out.structured,
            Some(
                json!({"subject": "s1", "username": "alice", "caller": "person", "scopes": ["mcp:read"], "roles": []})
            )
        );
        request.insert(Arc::new(Identity {
            username: Some("service-account-mcp-agent".into()),
            subject: Some("s2".into()),
            client_id: Some("mcp-agent".into()),
            caller: Caller::Client,
            ..Default::default()
        }));
        let out = run_whoami(&Map::new(), &CallContext { request: &request });
        assert_eq!(
            out.text,
            "You are the client mcp-agent, no person (subject s2), scopes [], roles []"
        );
        let listed = serde_json::to_string(&whoami_tool().def).unwrap();
        assert!(!listed.contains("null"), "{listed}");
    }
}
