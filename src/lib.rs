//! # mcp-auth-steps
//!
//! Securing an MCP server with OAuth 2.1, one layer per step. Each `src/bin/stepN.rs` composes the
//! layers below; `docs/` explains each step.
//!
//! | step | binary | adds (module) |
//! |---|---|---|
//! | 1 | `step1` | [`health`], [`origin_guard`], [`server`] (binding, logs, shutdown) |
//! | 2 | `step2` | [`jsonrpc`], [`mcp_http`] (POST /mcp), [`lifecycle`] (initialize, ping) |
//! | 3 | `step3` | [`catalog`] (tools/list, prompts/list) |
//! | 4 | `step4` | [`dispatch`] (tools/call, prompts/get) |
//!
//! Shared by all: [`config`] (errors that stop a program at start).

pub mod catalog;
pub mod config;
pub mod dispatch;
pub mod health;
pub mod identity;
pub mod jsonrpc;
pub mod lifecycle;
pub mod mcp_http;
pub mod origin_guard;
pub mod policy;
pub mod server;
