//! Shared by the step 6–8 tests: one generated signing key, tokens with any claims, and the
//! layers composed as `src/bin/step6.rs` … `step8.rs` compose them.

use std::sync::{Arc, OnceLock};

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_steps::auth::bearer_auth::{BearerAuth, Challenge, KeySource, TokenValidator};
use mcp_auth_steps::auth::identity;
use mcp_auth_steps::auth::keys::{self, SigningKey};
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::OriginGuard;
use mcp_auth_steps::http::server::PublicUrl;
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::McpService;
use mcp_auth_steps::mcp::lifecycle::ServerInfo;
use mcp_auth_steps::{auth::jwks, auth::metadata, auth::token, http::cors, mcp::endpoint};
use serde_json::{Value, json};
use tower::util::BoxCloneSyncService;

pub const ISSUER: &str = "http://localhost:9000";
pub const AUDIENCE: &str = "http://localhost:9000/mcp";

/// One key for the whole test binary (RSA generation is the slow part).
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        keys::install_crypto_provider();
        keys::signing_key(&keys::generate().unwrap()).unwrap()
    })
}

/// Claims like `generate-token`'s; `extra` overrides, and `null` removes a claim.
pub fn claims(scope: &str, roles: &[&str], extra: Value) -> Value {
    let now = token::now();
    let mut c = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "local-test", "preferred_username": "tester",
        "iat": now, "nbf": now, "exp": now + 600, "jti": "j", "scope": scope, "roles": roles,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// A token signed by [`key`].
pub fn signed(claims: &Value) -> String {
    token::sign(key(), claims).unwrap()
}

/// A token with a hand-written header and any signature bytes.
pub fn forged(header: Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        b64(&header),
        b64(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub fn public_url() -> PublicUrl {
    PublicUrl::parse(ISSUER).unwrap()
}

/// Steps 6–8, each with the layers of its binary.
pub fn app(step: u8) -> BoxCloneSyncService<Request, Response, Infallible> {
    let public = public_url();
    let keys = KeySource::Local(Arc::new(key().public.clone()));
    let mut auth = BearerAuth::new(TokenValidator::new(keys, ISSUER, AUDIENCE));
    if step >= 7 {
        auth = auth.with_challenge(Challenge {
            resource_metadata: Some(metadata::prm_url(&public)),
            scope: Some(metadata::default_scope()),
        });
    }
    let mut mcp = McpService::new(ServerInfo::new("t", "T"))
        .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
        .with_dispatch()
        .per_caller();
    if step >= 8 {
        mcp = mcp.with_policy(Policy::new(metadata::prm_url(&public)).admin_allows_everything());
    }
    let guard = OriginGuard::default();
    let mut app = Health::new(step)
        .field("auth_required", true)
        .router()
        .merge(auth.protect(endpoint::router(mcp)))
        .merge(jwks::router(&[key().public.clone()]));
    if step >= 7 {
        app = app
            .merge(metadata::protected_resource_router(
                metadata::protected_resource(&public, ISSUER),
            ))
            .merge(metadata::local_authorization_server_router(&public, ISSUER));
        let app = cors::wrap(&guard, app);
        return BoxCloneSyncService::new(guard.protect(app));
    }
    BoxCloneSyncService::new(guard.protect(app))
}
