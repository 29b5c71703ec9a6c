//! Step 7: OAuth discovery documents.
//!
//! - **Protected Resource Metadata** (RFC 9728) at `/.well-known/oauth-protected-resource/mcp`
//!   (the path-inserted form for the resource `<MCP_SERVER_URL>/mcp`, which clients try first) and
//!   at `/.well-known/oauth-protected-resource`. It names the resource and the authorization
//!   server(s) that issue tokens for it.
//! - **Authorization Server Metadata** (RFC 8414) for the *local* issuer at
//!   `/.well-known/oauth-authorization-server`. The local issuer mints tokens offline with
//!   `generate-token`, so the document lists only what exists: `issuer` and `jwks_uri`, no
//!   authorization or token endpoint. A full OAuth flow arrives with Keycloak (steps 9–11).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::jwks::JWKS_PATH;
use crate::auth::policy::MCP_SCOPES;
use crate::http::server::PublicUrl;

/// The PRM path for the `/mcp` resource (RFC 9728 §3.1: well-known segment inserted before the path).
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// The PRM at the root.
pub const PRM_ROOT_PATH: &str = "/.well-known/oauth-protected-resource";
/// RFC 8414 metadata for an issuer without a path.
pub const AS_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The URL every challenge's `resource_metadata` points at.
pub fn prm_url(public: &PublicUrl) -> String {
    public.join(PRM_PATH)
}

/// The scopes a client should request after a bare 401: every MCP scope.
pub fn default_scope() -> String {
    MCP_SCOPES.join(" ")
}

/// RFC 9728 §2 document for `<public>/mcp`, protected by tokens from `issuer`.
// ANCHOR: protected_resource
pub fn protected_resource(public: &PublicUrl, issuer: &str) -> Value {
    json!({
        "resource": public.mcp_endpoint(),
        "authorization_servers": [issuer],
        "scopes_supported": MCP_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp-auth-steps echo server",
    })
}
// ANCHOR_END: protected_resource

/// Serves the PRM at both well-known paths.
pub fn protected_resource_router(document: Value) -> Router {
    let at_root = document.clone();
    Router::new()
        .route(PRM_PATH, get(move || async move { Json(document) }))
        .route(PRM_ROOT_PATH, get(move || async move { Json(at_root) }))
}

/// RFC 8414 §2 document for the local issuer, which is this server (`issuer` = its public URL).
pub fn local_authorization_server(public: &PublicUrl) -> Value {
    json!({
        "issuer": public.base(),
        "jwks_uri": public.join(JWKS_PATH),
        "scopes_supported": MCP_SCOPES,
        // REQUIRED by RFC 8414; empty because this issuer has no authorization endpoint.
        "response_types_supported": [],
        "grant_types_supported": [],
    })
}

/// Serves the local issuer's metadata — only when `issuer` is this server, since RFC 8414 §3.3
/// requires the document's `issuer` to be the URL it is served under. Another issuer publishes
/// its own metadata.
pub fn local_authorization_server_router(public: &PublicUrl, issuer: &str) -> Router {
    if issuer != public.base() {
        tracing::info!(
            issuer,
            "tokens come from another issuer: not serving {AS_METADATA_PATH}"
        );
        return Router::new();
    }
    let document = local_authorization_server(public);
    Router::new().route(AS_METADATA_PATH, get(move || async move { Json(document) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prm_fields() {
        let public = PublicUrl::parse("http://localhost:9000").unwrap();
        let doc = protected_resource(&public, "http://localhost:9000");
        assert_eq!(doc["resource"], "http://localhost:9000/mcp");
        assert_eq!(
            doc["authorization_servers"],
            json!(["http://localhost:9000"])
        );
        assert_eq!(
            doc["scopes_supported"],
            json!(["mcp:read", "mcp:tools", "mcp:prompts"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            prm_url(&public),
            "http://localhost:9000/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn as_metadata_lists_only_what_exists() {
        let public = PublicUrl::parse("http://localhost:9000").unwrap();
        let doc = local_authorization_server(&public);
        assert_eq!(doc["issuer"], "http://localhost:9000");
        assert_eq!(
            doc["jwks_uri"],
            "http://localhost:9000/.well-known/jwks.json"
        );
        for absent in [
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
        ] {
            assert!(doc.get(absent).is_none(), "{absent}");
        }
    }
}
