//! Shared by every server step: flags for binding and the public URL, logging, the request log
//! line, the body limit and graceful shutdown.
//!
//! A step binary calls `request_log::init_logging`, parses [`ServerArgs`], builds its router, wraps it in
//! the Origin guard, then hands both to [`run`]. Tests bind their own listener and call [`serve`]
//! directly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::http::config::{ConfigError, Fatal};
use crate::http::connection::{DeadlineBody, Limits, WriteTimeout};
use crate::http::origin_guard::GuardArgs;
use crate::http::request_log::RequestLog;
use crate::http::service::HttpService;
use crate::http::timer::CoarseTimer;

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
    #[command(flatten)]
    pub limits: Limits,
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
        let url = crate::http::config::http_url("MCP_SERVER_URL", raw)?;
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

/// Wraps a step's app with what every step shares: the request log (outermost, so it sees every
/// request and its final status) and the body limit.
pub fn finish(app: impl HttpService) -> impl HttpService {
    RequestLog::new(tower::Layer::layer(
        &DefaultBodyLimit::max(MAX_BODY_BYTES),
        app,
    ))
}

/// How long a graceful shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown` resolves, then drains
/// in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: impl HttpService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, Limits::default()).await
}

/// [`serve`] with these [`Limits`]: HTTP/1.1 connections from hyper, at most
/// `limits.max_connections` at once, each under the header, body and write timeouts
/// (see `http::connection`).
///
/// When `shutdown` resolves the listener is closed at once (a proxy's next connect is refused, and
/// it tries another replica: nothing was sent). With `limits.shutdown_delay` > 0, connections
/// already open are then served for that long, the answer to every request that arrives meanwhile
/// carrying `Connection: close`, before the drain: a proxy never sends a request on a kept-alive
/// connection the server is closing, the one failure it may not retry (the request may have run).
pub async fn serve_with(
    listener: TcpListener,
    app: impl HttpService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let app = finish(app);
    // The header and body timeouts count whole seconds: a coarse clock serves them
    // (`http::timer` has the measured reason).
    let timer = CoarseTimer::start();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.header_read_timeout(Duration::from_secs(limits.header_timeout));
    let body_limit = Duration::from_secs(limits.body_timeout);
    let write_limit = Duration::from_secs(limits.write_timeout);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections as usize));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let closing = Arc::new(AtomicBool::new(false));
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        // A free slot first, then a connection: beyond the cap, clients wait in the listen queue.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let clock = timer.connection_clock();
        let timer = timer.clone();
        let closing = Arc::clone(&closing);
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let request =
                    request.map(|body| Body::new(DeadlineBody::new(body, &timer, body_limit)));
                let answer = app.clone().oneshot(request);
                // Read when the request arrives: one load, no per-request clone of the flag.
                let close = closing.load(Ordering::Relaxed);
                async move {
                    let mut response = answer.await?;
                    if close {
                        response
                            .headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
        let io = TokioIo::new(WriteTimeout::new(stream, write_limit));
        // The header timeout runs on the connection's own clock (`http::timer::ConnectionClock`).
        let connection = http.clone().timer(clock).serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timed out): nothing to answer, nothing to log.
            let _ = connection.await;
            drop(slot);
        });
    }
    // ANCHOR: shutdown_delay
    drop(listener);
    if limits.shutdown_delay > 0 {
        closing.store(true, Ordering::Relaxed);
        tracing::info!(
            seconds = limits.shutdown_delay,
            "listener closed; kept-alive connections served with Connection: close until the drain"
        );
        tokio::time::sleep(Duration::from_secs(limits.shutdown_delay)).await;
    }
    // ANCHOR_END: shutdown_delay
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", DRAIN.as_secs());
        }
    }
    Ok(())
}

/// Binds `host:port`, prints `listening on http://HOST:PORT` (the one line scripts read), serves
/// until Ctrl-C or SIGTERM.
pub async fn run(args: &ServerArgs, app: impl HttpService) -> Result<(), Fatal> {
    args.public_url()?;
    let listener = bind(&args.host, args.port).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{}", display_addr(addr));
    tracing::info!(public_url = %args.mcp_server_url, "serving");
    serve_with(listener, app, shutdown_signal(), args.limits).await?;
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
    fn ipv6_addresses_are_bracketed() {
        let addr: SocketAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(display_addr(addr), "[::1]:9000");
    }
}
