//! # mcp-auth-steps
//!
//! Securing an MCP server with OAuth 2.1, one layer per step. Each `src/bin/stepN.rs` composes the
//! layers below; `docs/` explains each step. The folders are the blog series' four parts, and a
//! module depends only on its own folder and the folders of earlier parts.
//!
//! | part | step | binary | adds (module) |
//! |---|---|---|---|
//! | 1 | 1 | `step1` | [`http::server`] (binding, shutdown), [`http::connection`] (timeouts, connection cap), [`http::service`], [`http::request_log`], [`http::health`], [`http::origin_guard`], [`http::config`] (errors that stop a program at start) |
//! | 1 | 2 | `step2` | [`mcp::jsonrpc`], [`mcp::endpoint`] (POST /mcp), [`mcp::lifecycle`] (initialize, ping) |
//! | 1 | 3 | `step3` | [`mcp::catalog`] (tools/list, prompts/list) |
//! | 1 | 4 | `step4` | [`mcp::dispatch`] (tools/call, prompts/get) |
//! | 2 | 5 | `step5`, `generate-token` | [`auth::keys`], [`auth::jwks`] (the JWK Set), [`auth::token`] (minting) |
//! | 2 | 6 | `step6` | [`auth::bearer_auth`] (RFC 6750), [`auth::identity`] (and the `whoami` tool) |
//! | 2 | 7 | `step7` | [`auth::metadata`] (RFC 9728 / RFC 8414), [`http::cors`], challenges with `resource_metadata` |
//! | 2 | 8 | `step8` | [`auth::policy`] (scopes and roles → 403 `insufficient_scope`), [`auth::token_cache`] |
//! | 3 | 9 | `step9` | [`keycloak::realm`] (realm verification, `--apply`), [`keycloak::realm_policy`] (registration shapes, realm security settings), [`keycloak::introspection`] (step 10's RFC 7662 check), [`keycloak::env_config`] (flag > env > file), [`keycloak::settings`] |
//! | 3 | 10 | `step10` | [`keycloak::jwks_cache`] (the issuer's keys, cached) |
//! | 4 | 11 | `step11` (a client) | [`client::challenge`], [`client::discovery`], [`client::registration`], [`client::authorization`], [`client::transport`], [`client::host`] (with [`client::login`] and [`client::client_identity`]), with [`client::http_client`] and [`client::trace`] |

pub mod auth;
pub mod client;
pub mod http;
pub mod keycloak;
pub mod mcp;

/// Every program of this crate allocates with mimalloc rather than glibc's `malloc`: a request
/// makes about a hundred small allocations, and with mimalloc step 8 and the bench baseline each
/// use about 12% less CPU per request (alternating wrk runs of the two builds; instructions per
/// request 58,411 → 45,452 for the baseline: docs/benchmarks.md, "Where the time goes").
/// (The `mimalloc` feature, on by default; the fuzz targets build without it.)
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
