//! Shared by every server step: flags for binding and the public URL, logging, the request log
//! line, the body limit and graceful shutdown.
//!
//! A step binary calls [`init_logging`], parses [`ServerArgs`], builds its router, then hands both
//! to [`run`]. Tests bind their own listener and call [`serve`] directly.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;

use crate::config::{ConfigError, Fatal};
use crate::origin_guard::GuardArgs;

/// Largest request body any route accepts (SPEC §0: above this, 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Flags every server step shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address to bind. Keep it on loopback unless you know why not.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind; 0 picks a free one (the chosen port is printed).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Base URL clients use to reach this server. Every advertised URL is built from it.
    #[arg(
        long = "mcp-server-url",
        env = "MCP_SERVER_URL",
        default_value = "http://localhost:9000"
    )]
    pub mcp_server_url: String,
    #[command(flatten)]
    pub guard: GuardArgs,
}

impl ServerArgs {
    /// The validated public URL (stops the program at start when malformed).
    pub fn public_url(&self) -> Result<PublicUrl, ConfigError> {
        PublicUrl::parse(&self.mcp_server_url)
    }
}

/// The base URL clients use, without a trailing slash. `<base>/mcp` is the canonical resource URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// Accepts an absolute `http`/`https` URL with a host and no query or fragment.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let url = crate::config::http_url("MCP_SERVER_URL", raw)?;
        Ok(Self(url.as_str().trim_end_matches('/').to_string()))
    }

    /// The base, e.g. `http://localhost:9000`.
    pub fn base(&self) -> &str {
        &self.0
    }

    /// `<base><path>`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// The MCP endpoint, which is also the canonical resource URI (RFC 8707, MCP 2025-11-25).
    pub fn mcp_endpoint(&self) -> String {
        self.join("/mcp")
    }
}

/// Starts `tracing` output. `RUST_LOG` takes `info`, `debug`, `mcp_auth_steps=debug,warn` and so on;
/// a value that does not parse stops the program.
pub fn init_logging() -> Result<(), ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => parse_log_filter(&value)?,
        _ => tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Logs go to stderr: stdout carries only the `listening on` line that scripts read.
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .try_init();
    Ok(())
}

/// Parses `RUST_LOG`: comma-separated directives, each a level (`info`) or `target=level` with a
/// module-path target. `Targets` alone would read a stray word as a target name and silently
/// switch logging off, so each directive is checked first.
pub fn parse_log_filter(value: &str) -> Result<tracing_subscriber::filter::Targets, ConfigError> {
    let bad = |why: String| ConfigError::Invalid {
        name: "RUST_LOG",
        value: value.to_string(),
        why,
    };
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None => (None, directive),
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(bad(format!(
                "{level:?} is not a level (off, error, warn, info, debug, trace)"
            )));
        }
        if let Some(target) = target {
            let ok = target
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !ok {
                return Err(bad(format!("{target:?} is not a module path")));
            }
        }
    }
    tracing_subscriber::filter::Targets::from_str(value).map_err(|e| bad(e.to_string()))
}

/// What a handler wants in the request's log line, carried in the response's extensions.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// The JSON-RPC method, when the body was a JSON-RPC message.
    pub rpc_method: Option<String>,
    /// The authenticated user (username or subject), from step 6 on.
    pub user: Option<String>,
}

/// One log line per request. Headers are never logged, so a bearer token cannot leak here.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    let fields = response
        .extensions_mut()
        .remove::<LogFields>()
        .unwrap_or_default();
    tracing::info!(
        target: "mcp_auth_steps::request",
        %method,
        path,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        rpc_method = fields.rpc_method.as_deref().unwrap_or("-"),
        user = fields.user.as_deref().unwrap_or("-"),
    );
    response
}

/// Wraps a step's router with what every step shares: the body limit and the request log.
pub fn finish(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, finish(router))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `host:port`, prints `listening on http://HOST:PORT` (the one line scripts read), serves
/// until Ctrl-C or SIGTERM.
pub async fn run(args: &ServerArgs, router: Router) -> Result<(), Fatal> {
    args.public_url()?;
    let listener = bind(&args.host, args.port).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{}", display_addr(addr));
    tracing::info!(public_url = %args.mcp_server_url, "serving");
    serve(listener, router, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds a TCP listener, with an error that names the address.
pub async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let target = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    TcpListener::bind(&target)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {target}: {e}"))
}

fn display_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_is_normalised_without_trailing_slash() {
        let url = PublicUrl::parse("http://localhost:9000/").unwrap();
        assert_eq!(url.base(), "http://localhost:9000");
        assert_eq!(url.mcp_endpoint(), "http://localhost:9000/mcp");
        let with_path = PublicUrl::parse("https://example.com/tenant/").unwrap();
        assert_eq!(with_path.mcp_endpoint(), "https://example.com/tenant/mcp");
    }

    #[test]
    fn public_url_rejects_what_cannot_be_a_base() {
        for raw in [
            "localhost:9000",
            "ftp://x",
            "http://",
            "http://h/?q=1",
            "not a url",
            "",
        ] {
            let err = PublicUrl::parse(raw).unwrap_err().to_string();
            assert!(err.contains("MCP_SERVER_URL"), "{raw}: {err}");
        }
    }

    #[test]
    fn log_filters() {
        for ok in [
            "info",
            "DEBUG",
            "mcp_auth_steps=debug,warn",
            "tower_http::trace=off, info",
        ] {
            assert!(parse_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in [
            "???bad",
            "loud",
            "mcp_auth_steps=loud",
            "x=1=2",
            "=info",
            "9x=info",
        ] {
            let err = parse_log_filter(bad).unwrap_err().to_string();
            assert!(err.starts_with("RUST_LOG:"), "{bad}: {err}");
        }
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let addr: SocketAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(display_addr(addr), "[::1]:9000");
    }
}
