//! Part 3, steps 9–10: Keycloak as the authorization server — configuration from env files, the
//! realm check (and `--apply`), and the cache of the issuer's keys.

pub mod admin;
pub mod check;
pub mod env_config;
pub mod introspection;
pub mod jwks_cache;
pub mod realm;
pub mod realm_policy;
pub mod settings;
