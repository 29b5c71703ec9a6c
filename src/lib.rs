//! # mcp-auth-steps
//!
//! Securing an MCP server with OAuth 2.1, one layer per step. Each `src/bin/stepN.rs` composes the
//! layers below; `docs/` explains each step.
//!
//! | step | binary | adds (module) |
//! |---|---|---|
//! | 1 | `step1` | [`health`], [`origin_guard`], [`server`] (binding, logs, shutdown), [`log_writer`] |
//! | 2 | `step2` | [`jsonrpc`], [`mcp_http`] (POST /mcp), [`lifecycle`] (initialize, ping) |
//! | 3 | `step3` | [`catalog`] (tools/list, prompts/list) |
//! | 4 | `step4` | [`dispatch`] (tools/call, prompts/get) |
//! | 5 | `step5`, `generate-token` | [`keys`], [`jwks`] (the JWK Set), [`token`] (minting) |
//! | 6 | `step6` | [`bearer_auth`] (RFC 6750), [`identity`], the `whoami` tool |
//! | 7 | `step7` | [`metadata`] (RFC 9728 / RFC 8414), [`cors`], challenges with `resource_metadata` |
//! | 8 | `step8` | [`policy`] (scopes and roles → 403 `insufficient_scope`) |
//! | 9 | `step9` | [`keycloak`] (realm verification, `--apply`), [`env_config`] (flag > env > file) |
//! | 10 | `step10` | [`jwks_cache`] (the issuer's keys, cached) |
//! | 11 | `step11` (a client) | [`oauth_discovery`], [`registration`], [`authorization`], [`mcp_client`], [`mcp_host`], with [`http_client`] and [`trace`] |
//!
//! Steps 8 and 10 also switch on [`token_cache`] (verified tokens remembered until `exp`).
//!
//! Shared by all: [`config`] (errors that stop a program at start).

pub mod authorization;
pub mod bearer_auth;
pub mod catalog;
pub mod config;
pub mod cors;
pub mod dispatch;
pub mod env_config;
pub mod health;
pub mod http_client;
pub mod identity;
pub mod jsonrpc;
pub mod jwks;
pub mod jwks_cache;
pub mod keycloak;
pub mod keys;
pub mod lifecycle;
pub mod log_writer;
pub mod mcp_client;
pub mod mcp_host;
pub mod mcp_http;
pub mod metadata;
pub mod oauth_discovery;
pub mod origin_guard;
pub mod policy;
pub mod registration;
pub mod server;
pub mod token;
pub mod token_cache;
pub mod trace;
