//! Shared by every server step: flags for binding and the public URL, logging, the request log
//! line, the body limit and graceful shutdown.
//!
//! A step binary calls [`init_logging`], parses [`ServerArgs`], builds its router, wraps it in
//! the Origin guard, then hands both to [`run`]. Tests bind their own listener and call [`serve`]
//! directly.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

use axum::ServiceExt;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use tokio::net::TcpListener;
use tower::Service;

use crate::config::{ConfigError, Fatal};
use crate::log_writer::{LogGuard, LogWriter};
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
/// a value that does not parse stops the program. Lines go to stderr through a background writer
/// ([`crate::log_writer`]); keep the returned guard until `main` ends so the last lines are written.
pub fn init_logging() -> Result<LogGuard, ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => parse_log_filter(&value)?,
        _ => tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Logs go to stderr: stdout carries only the `listening on` line that scripts read.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let Ok(writer) = LogWriter::start(std::io::stderr()) else {
        // No thread for the writer: write each line from the logging thread instead.
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            )
            .with(filter)
            .try_init();
        return Ok(LogGuard(None));
    };
    // On a terminal, tracing-subscriber's own format, in colour; otherwise the same line in plain
    // text, written by [`PlainLine`] (cheaper: it runs for every request).
    let coloured = ansi.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_timer(LogClock)
            .with_ansi(true)
    });
    let plain = (!ansi).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_ansi(false)
            .event_format(PlainLine)
    });
    let installed = tracing_subscriber::registry()
        .with(coloured)
        .with(plain)
        .with(filter)
        .try_init()
        .is_ok();
    Ok(LogGuard(installed.then_some(writer)))
}

/// The log's timestamps: UTC to the microsecond, `2026-11-23T01:20:24.748114Z`, as
/// `tracing-subscriber` writes them, but the date and time of day are worked out once a second
/// per thread instead of for every line.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogClock;

impl tracing_subscriber::fmt::time::FormatTime for LogClock {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        use std::cell::RefCell;
        thread_local! {
            /// The second last formatted, and its text without the `Z`.
            static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        SECOND.with_borrow_mut(|(second, text)| {
            if *second != now.as_secs() {
                *second = now.as_secs();
                *text = crate::token::utc_string(now.as_secs() as i64);
                text.pop(); // the `Z`
            }
            write!(w, "{text}.{:06}Z", now.subsec_micros())
        })
    }
}

/// A log line as `tracing-subscriber`'s default format writes it without colour —
/// `2026-11-23T01:20:24.748114Z  INFO mcp_auth_steps::request: method=POST path="/mcp" …` —
/// written directly (this crate's events are not inside spans). Field values are escaped the same
/// way, so a hostile path or method name cannot forge a line.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for PlainLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::FormatFields as _;
        use tracing_subscriber::fmt::time::FormatTime as _;
        let meta = event.metadata();
        LogClock.format_time(&mut writer)?;
        let level = match *meta.level() {
            tracing::Level::TRACE => " TRACE ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::ERROR => " ERROR ",
        };
        writer.write_str(level)?;
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        if meta.target() == REQUEST_LOG_TARGET {
            // The line every request writes: its fields are known, so they take the short way.
            let mut fields = RequestFields {
                writer: writer.by_ref(),
                first: true,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
        } else {
            ctx.format_fields(writer.by_ref(), event)?;
        }
        writer.write_char('\n')
    }
}

/// The target of the request log line.
pub const REQUEST_LOG_TARGET: &str = "mcp_auth_steps::request";

/// Writes the request line's fields exactly as `tracing-subscriber`'s default field format does
/// (`name=value`, strings quoted and escaped as Rust's `Debug` escapes them), taking a short way
/// for the common case: a string of printable ASCII with no `"` or `\` is written as it is.
struct RequestFields<'a> {
    writer: tracing_subscriber::fmt::format::Writer<'a>,
    first: bool,
    result: std::fmt::Result,
}

impl RequestFields<'_> {
    fn name(&mut self, field: &tracing::field::Field) -> std::fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        self.writer.write_str(field.name())?;
        self.writer.write_char('=')
    }
}

impl tracing::field::Visit for RequestFields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let plain = value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        self.result = self.result.and_then(|()| {
            self.name(field)?;
            if plain {
                self.writer.write_char('"')?;
                self.writer.write_str(value)?;
                self.writer.write_char('"')
            } else {
                write!(self.writer, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.result = self
            .result
            .and_then(|()| self.name(field))
            .and_then(|()| write!(self.writer, "{value}"));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.result = self
            .result
            .and_then(|()| self.name(field))
            .and_then(|()| write!(self.writer, "{value:?}"));
    }
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

/// What every server in this crate is: an HTTP service that always answers (`Infallible`) and
/// can be shared by connections. An [`axum::Router`] is one; so is a router wrapped in the Origin guard
/// ([`crate::origin_guard::Guarded`]) or in CORS.
pub trait HttpService:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HttpService for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The answer of a layer written as a plain tower service: boxed, once per request.
pub type BoxedResponse =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

/// The request log: one line per request, whatever it is (routed or not, refused by the guard
/// or not). Headers are never logged, so a bearer token cannot leak here.
///
/// Written as a plain tower service rather than with `axum::middleware::from_fn`: it wraps the
/// whole server and runs on every request, and `from_fn` boxes a copy of the inner service per
/// request (see `docs/benchmarks.md`).
#[derive(Debug, Clone)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S: HttpService> Service<Request> for RequestLog<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let uri = request.uri().clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            let fields = response
                .extensions_mut()
                .remove::<LogFields>()
                .unwrap_or_default();
            tracing::info!(
                target: REQUEST_LOG_TARGET,
                %method,
                path = uri.path(),
                status = response.status().as_u16(),
                latency_us = started.elapsed().as_micros() as u64,
                rpc_method = fields.rpc_method.as_deref().unwrap_or("-"),
                user = fields.user.as_deref().unwrap_or("-"),
            );
            Ok(response)
        })
    }
}

/// Wraps a step's app with what every step shares: the request log (outermost, so it sees every
/// request and its final status) and the body limit.
pub fn finish(app: impl HttpService) -> impl HttpService {
    RequestLog {
        inner: tower::Layer::layer(&DefaultBodyLimit::max(MAX_BODY_BYTES), app),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: impl HttpService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, finish(app).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `host:port`, prints `listening on http://HOST:PORT` (the one line scripts read), serves
/// until Ctrl-C or SIGTERM.
pub async fn run(args: &ServerArgs, app: impl HttpService) -> Result<(), Fatal> {
    args.public_url()?;
    let listener = bind(&args.host, args.port).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{}", display_addr(addr));
    tracing::info!(public_url = %args.mcp_server_url, "serving");
    serve(listener, app, shutdown_signal()).await?;
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

    /// Captures what a `fmt` layer writes.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    #[test]
    fn plain_lines_are_tracing_subscribers_lines_without_colour() {
        use tracing_subscriber::layer::SubscriberExt;
        let emit = || {
            for (path, rpc_method, user) in [
                ("/mcp", "tools/call", "alice"),
                ("/", "-", "-"),
                ("", "", ""),
                ("/a\"b\\c", "say \"hi\"", "o'brien"),
                ("/x\ny\rz\t", "new\nline", "tab\tuser"),
                ("/caf\u{e9}/\u{1f600}", "m\u{e9}thode", "\u{301}combining"),
                ("/\u{1b}[31mred", "\u{7f}del", "\u{0}nul"),
            ] {
                tracing::info!(
                    target: REQUEST_LOG_TARGET,
                    method = %axum::http::Method::POST,
                    path,
                    status = 403u16,
                    latency_us = 41u64,
                    rpc_method,
                    user,
                );
            }
            tracing::warn!(target: "mcp_auth_steps::origin_guard", "{}", "Forbidden: Origin \"x\"");
            tracing::info!(target: "mcp_auth_steps::auth", reason = "token expired", "request not authenticated");
        };
        let ours = Capture::default();
        let theirs = Capture::default();
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .with_writer(ours.clone())
                    .with_ansi(false)
                    .event_format(PlainLine),
            ),
            emit,
        );
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .with_writer(theirs.clone())
                    .with_ansi(false)
                    .with_timer(LogClock),
            ),
            emit,
        );
        let lines = |c: &Capture| -> Vec<String> {
            String::from_utf8(c.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| l[27..].to_string()) // after the timestamp
                .collect()
        };
        let (ours, theirs) = (lines(&ours), lines(&theirs));
        assert_eq!(ours.len(), 9);
        assert_eq!(ours, theirs);
        assert_eq!(
            ours[0],
            "  INFO mcp_auth_steps::request: method=POST path=\"/mcp\" status=403 latency_us=41 rpc_method=\"tools/call\" user=\"alice\""
        );
        assert!(ours[4].contains(r#"path="/x\ny\rz\t""#), "{}", ours[4]);
    }

    #[test]
    fn log_clock_writes_what_tracing_subscriber_writes() {
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
        let format = |clock: &dyn FormatTime| {
            let mut text = String::new();
            clock.format_time(&mut Writer::new(&mut text)).unwrap();
            text
        };
        // Same second (retry across a second boundary), same shape, to the microsecond.
        let (ours, theirs) = loop {
            let (ours, theirs) = (format(&LogClock), format(&SystemTime));
            if ours[..19] == theirs[..19] {
                break (ours, theirs);
            }
        };
        assert_eq!(ours.len(), "2026-11-23T01:20:24.748114Z".len(), "{ours}");
        assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
        assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
        assert!(ours[20..26].bytes().all(|b| b.is_ascii_digit()), "{ours}");
    }

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
