//! Step 1: the log — `tracing` set up from `RUST_LOG`, and one line per request (method, path,
//! status, latency, JSON-RPC method, user). Headers are never logged, so a bearer token cannot
//! reach the log.
//!
//! Lines go to stderr from a thread of their own (`http::log_writer`: batched, lossless); the
//! guard [`init_logging`] returns writes out what is still waiting when `main` ends.

use std::convert::Infallible;
use std::str::FromStr;
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use tower::Service;

use crate::http::log_writer::{self, LogGuard};

use crate::http::config::ConfigError;
use crate::http::service::HttpService;

/// Starts `tracing` output. `RUST_LOG` takes `info`, `debug`, `mcp_auth_steps=debug,warn` and so on;
/// a value that does not parse stops the program. Lines go to stderr through a background writer;
/// keep the returned guard until `main` ends so the last lines are written.
pub fn init_logging() -> anyhow::Result<LogGuard> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => parse_log_filter(&value)?,
        _ => tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Logs go to stderr: stdout carries only the `listening on` line that scripts read. A logger
    // waits for room rather than dropping a line.
    let (writer, guard) = log_writer::spawn(std::io::stderr())
        .map_err(|e| anyhow::anyhow!("cannot start the log writer thread: {e}"))?;
    // On a terminal, tracing-subscriber's own format, in colour; otherwise the same line in plain
    // text, written by [`PlainLine`] (cheaper: it runs for every request).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let coloured = ansi.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_timer(LogClock)
            .with_ansi(true)
    });
    let plain = (!ansi).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .event_format(PlainLine)
    });
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(coloured)
        .with(plain)
        .with(filter)
        .try_init();
    Ok(guard)
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
                *text = utc_string(now.as_secs() as i64);
                text.pop(); // the `Z`
            }
            // `.{micros:06}Z`, without the formatting machinery (this runs for every line).
            let mut tail = *b".000000Z";
            let mut micros = now.subsec_micros();
            for digit in tail[1..7].iter_mut().rev() {
                *digit = b'0' + (micros % 10) as u8;
                micros /= 10;
            }
            w.write_str(text)?;
            w.write_str(std::str::from_utf8(&tail).map_err(|_| std::fmt::Error)?)
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
        writer.write_str("\n")
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
            self.writer.write_str(" ")?;
        }
        self.writer.write_str(field.name())
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
                self.writer.write_str("=\"")?;
                self.writer.write_str(value)?;
                self.writer.write_str("\"")
            } else {
                write!(self.writer, "={value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        // The decimal digits, without the formatting machinery (this runs for every line).
        let mut digits = [0u8; 21];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        at -= 1;
        digits[at] = b'=';
        self.result = self.result.and_then(|()| self.name(field)).and_then(|()| {
            self.writer
                .write_str(std::str::from_utf8(&digits[at..]).map_err(|_| std::fmt::Error)?)
        });
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.result = self
            .result
            .and_then(|()| self.name(field))
            .and_then(|()| write!(self.writer, "={value:?}"));
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

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC; the local time zone plays no part).
pub fn utc_string(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Who made a request, for its log line: an authentication layer (step 6's bearer auth) puts this
/// in the request's extensions, and the handler copies it into [`LogFields::user`].
#[derive(Debug, Clone)]
pub struct LogUser(pub String);

/// What a handler wants in the request's log line, carried in the response's extensions.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// The JSON-RPC method, when the body was a JSON-RPC message.
    pub rpc_method: Option<String>,
    /// The authenticated user (username or subject), from step 6 on.
    pub user: Option<String>,
    /// The MCP protocol era the request was served under (`legacy` or `modern`).
    pub era: Option<&'static str>,
    /// The client's own name (`clientInfo.name`), when it sent one: logged, never trusted.
    pub client: Option<String>,
}

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

impl<S> RequestLog<S> {
    /// Logs every request `inner` answers.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: HttpService> Service<Request> for RequestLog<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Logged<S::Future>;

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
        Logged {
            answer: self.inner.call(request),
            started,
            method,
            uri,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`RequestLog`]: the inner answer, logged when it is ready. (A named future
    /// rather than a boxed `async` block: one allocation less per request.)
    pub struct Logged<F> {
        #[pin]
        answer: F,
        started: Instant,
        method: axum::http::Method,
        uri: axum::http::Uri,
    }
}

impl<F: std::future::Future<Output = Result<Response, Infallible>>> std::future::Future
    for Logged<F>
{
    type Output = Result<Response, Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.answer.poll(cx));
        let fields = response
            .extensions_mut()
            .remove::<LogFields>()
            .unwrap_or_default();
        tracing::info!(
            target: REQUEST_LOG_TARGET,
            method = %this.method,
            path = this.uri.path(),
            status = response.status().as_u16(),
            latency_us = this.started.elapsed().as_micros() as u64,
            rpc_method = fields.rpc_method.as_deref().unwrap_or("-"),
            user = fields.user.as_deref().unwrap_or("-"),
            era = fields.era.unwrap_or("-"),
            client = fields.client.as_deref().unwrap_or("-"),
        );
        std::task::Poll::Ready(Ok(response))
    }
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
            // The ends of the integer range, written without the formatting machinery.
            tracing::info!(target: REQUEST_LOG_TARGET, status = 0u16, latency_us = u64::MAX);
            tracing::warn!(target: "mcp_auth_steps::http::origin_guard", "{}", "Forbidden: Origin \"x\"");
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
        assert_eq!(ours.len(), 10);
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
}
