//! Step 8 (and 10): which token may call which method — one table, in one place.
//!
//! | method | allowed when the token has |
//! |---|---|
//! | `initialize`, `ping`, notifications, anything else | any valid token |
//! | `tools/list` | `mcp:read` or `mcp:tools` |
//! | `tools/call` | `mcp:tools` |
//! | `prompts/list` | `mcp:read` or `mcp:prompts` |
//! | `prompts/get` | `mcp:prompts` |
//!
//! Scopes bound a token: no role widens it. Step 8 alone adds the blog's shortcut, the role
//! `admin` allows everything ([`Policy::admin_allows_everything`]), because the only tokens it
//! sees are first-party ones that `generate-token` mints for itself, where the role and the scopes
//! come from the same hand. Step 10's tokens come from Keycloak for third-party clients: there
//! the scopes are what the user consented to for that client, and a role the user holds must not
//! let a client that was allowed to read also act (MCP security best practices, "Scope
//! Minimization"). A denial is HTTP 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope", scope="…", resource_metadata="…"`
//! (RFC 6750 §3.1, MCP 2025-11-25 "Scope challenge handling") and a JSON-RPC error
//! ([`crate::mcp::jsonrpc::INSUFFICIENT_SCOPE`]) carrying the request's `id`.

use std::sync::Arc;

use axum::http::Extensions;
use serde_json::json;

use crate::auth::identity::Identity;
use crate::mcp::dispatch::{Denial, MethodPolicy};
use crate::mcp::jsonrpc::{self, RpcError};

/// The scopes this server knows, in the order it advertises them.
pub const MCP_SCOPES: [&str; 3] = ["mcp:read", "mcp:tools", "mcp:prompts"];

/// The role that step 8's first-party policy allows everything.
pub const ADMIN_ROLE: &str = "admin";

/// The scopes that allow `method` (any one suffices); empty when any valid token may call it.
pub fn required_scopes(method: &str) -> &'static [&'static str] {
    match method {
        "tools/list" => &["mcp:read", "mcp:tools"],
        "tools/call" => &["mcp:tools"],
        "prompts/list" => &["mcp:read", "mcp:prompts"],
        "prompts/get" => &["mcp:prompts"],
        _ => &[],
    }
}

/// The policy, with what it needs to write challenges.
#[derive(Debug, Clone)]
pub struct Policy {
    resource_metadata: String,
    admin_allows_everything: bool,
}

impl Policy {
    /// Scopes only. `resource_metadata` is the PRM URL every challenge points at.
    pub fn new(resource_metadata: String) -> Self {
        Self {
            resource_metadata,
            admin_allows_everything: false,
        }
    }

    /// Step 8's first-party shortcut: the role [`ADMIN_ROLE`] allows every method, whatever the
    /// token's scopes. Only for tokens this server's own issuer mints.
    pub fn admin_allows_everything(mut self) -> Self {
        self.admin_allows_everything = true;
        self
    }

    /// Allows or refuses `method` for `identity`.
    // ANCHOR: policy_check
    pub fn check(&self, method: &str, identity: &Identity) -> Result<(), Denial> {
        let allowed_by = required_scopes(method);
        if allowed_by.is_empty()
            || (self.admin_allows_everything && identity.has_role(ADMIN_ROLE))
            || allowed_by.iter().any(|s| identity.has_scope(s))
        {
            return Ok(());
        }
        let needed_scope = allowed_by[0];
        let alternatives = allowed_by.join(" or ");
        Err(Denial {
            challenge: format!(
                "Bearer error=\"insufficient_scope\", scope=\"{needed_scope}\", resource_metadata=\"{}\", error_description=\"{method} requires {alternatives}\"",
                self.resource_metadata
            ),
            error: RpcError::new(
                jsonrpc::INSUFFICIENT_SCOPE,
                format!("Forbidden: {method} requires scope {alternatives}"),
            )
            .with_data(json!({
                "required_scope": allowed_by,
                "granted_scope": identity.scopes,
            })),
        })
    }
    // ANCHOR_END: policy_check
}

impl MethodPolicy for Policy {
    /// The identity bearer auth put in the request's extensions; a request without one (a wiring
    /// mistake: the policy runs behind bearer auth) is checked as a token with nothing granted.
    fn check(&self, method: &str, request: &Extensions) -> Result<(), Denial> {
        match request.get::<Arc<Identity>>() {
            Some(identity) => Policy::check(self, method, identity),
            None => Policy::check(self, method, &Identity::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(scopes: &[&str], roles: &[&str]) -> Identity {
        Identity {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    const METHODS: [&str; 4] = ["tools/list", "tools/call", "prompts/list", "prompts/get"];

    fn row(p: &Policy, id: &Identity) -> [bool; 4] {
        METHODS.map(|m| p.check(m, id).is_ok())
    }

    #[test]
    fn the_demo_matrix() {
        let p = Policy::new("http://x/prm".into()).admin_allows_everything();
        assert_eq!(
            row(&p, &who(&["mcp:read", "mcp:tools"], &["user"])),
            [true, true, true, false]
        ); // alice
        assert_eq!(
            row(&p, &who(&["mcp:read", "mcp:prompts"], &["user"])),
            [true, false, true, true]
        ); // bob
        assert_eq!(
            row(&p, &who(&[], &["user", "admin"])),
            [true, true, true, true]
        ); // admin role
        assert_eq!(row(&p, &who(&[], &["user"])), [false, false, false, false]); // guest
        assert_eq!(
            row(&p, &who(&["mcp:tools"], &[])),
            [true, true, false, false]
        );
    }

    /// Step 10's policy: the admin role widens nothing; an admin's token allowed to read reads.
    #[test]
    fn without_the_shortcut_scopes_bound_every_role() {
        let p = Policy::new("http://x/prm".into());
        assert_eq!(
            row(&p, &who(&["mcp:read"], &["user", "admin"])),
            [true, false, true, false]
        );
        assert_eq!(row(&p, &who(&[], &["admin"])), [false, false, false, false]);
        assert_eq!(
            row(
                &p,
                &who(&["mcp:read", "mcp:tools", "mcp:prompts"], &["admin"])
            ),
            [true, true, true, true]
        );
    }

    #[test]
    fn any_valid_token_may_initialize_and_ping() {
        let p = Policy::new("http://x/prm".into());
        for m in [
            "initialize",
            "ping",
            "notifications/initialized",
            "unknown/method",
        ] {
            assert!(p.check(m, &who(&[], &[])).is_ok(), "{m}");
        }
    }

    #[test]
    fn denial_names_the_scope_and_metadata() {
        let p =
            Policy::new("http://localhost:9000/.well-known/oauth-protected-resource/mcp".into());
        let d = p.check("tools/call", &who(&["mcp:read"], &[])).unwrap_err();
        assert!(d.challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", resource_metadata=\"http://localhost:9000/.well-known/oauth-protected-resource/mcp\""));
        assert_eq!(d.error.code, jsonrpc::INSUFFICIENT_SCOPE);
        let d = p.check("tools/list", &who(&[], &[])).unwrap_err();
        assert!(
            d.challenge.contains(" scope=\"mcp:read\", "),
            "{}",
            d.challenge
        );
    }

    #[test]
    fn as_a_method_policy_it_reads_the_identity_from_the_extensions() {
        let p = Policy::new("http://x/prm".into());
        let gate: &dyn MethodPolicy = &p;
        let mut request = Extensions::new();
        assert!(
            gate.check("tools/list", &request).is_err(),
            "no identity: nothing granted"
        );
        assert!(gate.check("initialize", &request).is_ok());
        request.insert(Arc::new(who(&["mcp:read"], &[])));
        assert!(gate.check("tools/list", &request).is_ok());
        assert!(gate.check("tools/call", &request).is_err());
    }
}
