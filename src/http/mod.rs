//! Part 1, step 1, and shared by every server step: serving, configuration errors, the request
//! log, `/health`, the Origin/Host guard and (from step 7) CORS.

pub mod config;
pub mod connection;
pub mod cors;
pub mod health;
pub mod log_writer;
pub mod origin_guard;
pub mod request_log;
pub mod server;
pub mod service;
pub mod timer;
