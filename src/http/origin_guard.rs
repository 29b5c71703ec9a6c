//! Step 1: the DNS-rebinding guard (MCP 2025-11-25, Transports §"Security Warning").
//!
//! A web page on `http://attacker.example` can make a browser send requests to
//! `http://localhost:9000` — directly (then the browser adds `Origin`) or after re-pointing its
//! own DNS name at 127.0.0.1 (then `Host` names the attacker's domain). So on every request:
//! - `Origin` absent → allowed (non-browser MCP clients do not send it);
//! - `Origin` present → allowed only in its serialized form (RFC 6454 §6.2) and when its host is
//!   exactly `localhost`, `127.0.0.1` or `[::1]`, or the whole origin is on the allow-list.
//!   `null`, malformed or non-serialized values, look-alikes such as `http://localhost.evil.com`,
//!   and several `Origin` headers → 403;
//! - exactly one `Host` (and an absolute-form target's authority), each a valid authority
//!   (else 400) naming a loopback host or an allowed host (else 403).
//!
//! A health probe (`GET` or `HEAD /health`) that fails these checks is still answered, marked
//! [`Unvetted`], so that `/health` says only that the server is up.
//!
//! Hosts are compared exactly, never by prefix (the Python original's defect).

use std::sync::Arc;

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use tower::Service;

use crate::http::config::ConfigError;
use crate::http::service::{Answer, HttpService, close_after};

/// Flags for the guard's allow-lists.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GuardArgs {
    /// An extra allowed Origin, e.g. `https://app.example.com` (repeatable).
    #[arg(long = "allow-origin", env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allow_origins: Vec<String>,
    /// An extra allowed Host, e.g. `mcp.example.com` or `mcp.example.com:8443` (repeatable).
    #[arg(long = "allow-host", env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allow_hosts: Vec<String>,
}

/// The guard's rules, validated once at start.
#[derive(Debug, Clone, Default)]
pub struct OriginGuard {
    origins: Vec<String>,
    hosts: Vec<String>,
}

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl OriginGuard {
    /// Builds the guard; an allow-list entry that is not an origin stops the program.
    pub fn from_args(args: &GuardArgs) -> Result<Self, ConfigError> {
        let mut origins = Vec::new();
        for raw in args
            .allow_origins
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            let origin = parse_origin(raw).map_err(|why| ConfigError::Invalid {
                name: "ALLOWED_ORIGINS / --allow-origin",
                value: raw.to_string(),
                why: why.to_string(),
            })?;
            origins.push(origin.origin().ascii_serialization());
        }
        let hosts = args
            .allow_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Ok(Self { origins, hosts })
    }

    /// Is this `Origin` header value allowed? Only the serialized form is (RFC 6454 §6.2).
    // ANCHOR: check_origin
    pub fn check_origin(&self, value: &str) -> Result<(), &'static str> {
        let origin = parse_serialized_origin(value)?;
        let host = match origin.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err("no host"),
        };
        if LOOPBACK_HOSTS.contains(&host.as_str()) {
            return Ok(());
        }
        if self
            .origins
            .contains(&origin.origin().ascii_serialization())
        {
            return Ok(());
        }
        Err("not a loopback or allowed origin")
    }
    // ANCHOR_END: check_origin

    /// Is this `Host` header value (or a request target's authority) allowed? `value` is
    /// `host[:port]`.
    pub fn check_host(&self, value: &str) -> Result<(), HostRefusal> {
        // Host names are case-insensitive: compared without lower-casing a copy (this runs on
        // every request).
        let value = value.trim();
        let host = split_host(value).ok_or(HostRefusal::Malformed)?;
        if LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Ok(());
        }
        if self.hosts.iter().any(|allowed| {
            allowed.eq_ignore_ascii_case(host) || allowed.eq_ignore_ascii_case(value)
        }) {
            return Ok(());
        }
        Err(HostRefusal::NotAllowed)
    }

    /// Puts the guard in front of `app`: every request is checked before it reaches the router, so
    /// a refusal is the same 403 whatever the path or method, known or not. The one exception is
    /// a health probe (`GET` or `HEAD /health`): it is answered, marked [`Unvetted`].
    pub fn protect<S: HttpService>(self, app: S) -> Guarded<S> {
        Guarded {
            rules: Arc::new(self),
            inner: app,
        }
    }
}

/// Why a Host was refused: not an authority at all (400), or not one this server answers to (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRefusal {
    /// Not `host[:port]` (RFC 3986 §3.2.2–3.2.3).
    Malformed,
    /// Neither loopback nor on the allow-list.
    NotAllowed,
}

/// Marks a health probe that the guard's rules would have refused (a page on a foreign origin, or
/// a Host the server does not know): `/health` then says only `{"status":"healthy"}`.
#[derive(Debug, Clone, Copy)]
pub struct Unvetted;

/// An app behind the guard ([`OriginGuard::protect`]).
///
/// A plain tower service rather than `axum::middleware::from_fn`: it runs on every request, and a
/// synchronous check needs none of the per-request boxing `from_fn` does.
#[derive(Debug, Clone)]
pub struct Guarded<S> {
    rules: Arc<OriginGuard>,
    inner: S,
}

impl<S: HttpService> Service<Request> for Guarded<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if let Err(rejection) = self.rules.inspect(request.headers(), request.uri()) {
            // A health probe (GET or HEAD /health) is answered whoever sends it, e.g. a load
            // balancer with its own Host; it only learns that the server is up (see `health`).
            let probe = request.uri().path() == "/health"
                && matches!(*request.method(), Method::GET | Method::HEAD);
            if probe {
                request.extensions_mut().insert(Unvetted);
                return Answer::Inner {
                    future: self.inner.call(request),
                };
            }
            tracing::warn!(target: "mcp_auth_steps::http::origin_guard", "{}", rejection.message);
            return Answer::now(rejection.response());
        }
        Answer::Inner {
            future: self.inner.call(request),
        }
    }
}

impl OriginGuard {
    fn inspect(&self, headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), Rejection> {
        if headers.get_all(header::ORIGIN).iter().nth(1).is_some() {
            return Err(forbidden(
                "Origin",
                "(several)",
                "more than one Origin header",
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let shown = || shown(origin.as_bytes());
            let text = origin
                .to_str()
                .map_err(|_| forbidden("Origin", &shown(), "not ASCII"))?;
            self.check_origin(text)
                .map_err(|why| forbidden("Origin", &shown(), why))?;
        }
        // RFC 9112 §3.2: exactly one valid Host, else 400. With an absolute-form target
        // (`POST http://host/mcp`) the target's authority is the one that counts (§3.2.2), so it
        // is checked too; HTTP/2 carries only that.
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => {
                return Err(bad_request(
                    "Host",
                    "(several)",
                    "more than one Host header",
                ));
            }
            (Some(value), None) => Some(
                value
                    .to_str()
                    .map_err(|_| bad_request("Host", &shown(value.as_bytes()), "not ASCII"))?,
            ),
            (None, _) => None,
        };
        let target = uri.authority().map(|a| a.as_str());
        if host.is_none() && target.is_none() {
            return Err(bad_request("Host", "(none)", "a Host header is required"));
        }
        for (what, value) in [("Host", host), ("request target", target)] {
            let Some(value) = value else { continue };
            // The shortened copy for the message is made only for a refusal.
            let shown = || shown(value.as_bytes());
            match self.check_host(value) {
                Ok(()) => {}
                Err(HostRefusal::Malformed) => {
                    return Err(bad_request(what, &shown(), "malformed authority"));
                }
                Err(HostRefusal::NotAllowed) => {
                    return Err(forbidden(what, &shown(), "not a loopback or allowed host"));
                }
            }
        }
        Ok(())
    }
}

/// At most 200 characters of a rejected value, for the error message.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().take(200).collect()
}

fn forbidden(what: &str, value: &str, why: &str) -> Rejection {
    Rejection {
        status: StatusCode::FORBIDDEN,
        code: ORIGIN_REJECTED,
        message: format!("Forbidden: {what} {value:?} rejected ({why})"),
    }
}

/// A request that is not valid HTTP where the guard looks (RFC 9112 §3.2): 400, JSON-RPC -32600.
fn bad_request(what: &str, value: &str, why: &str) -> Rejection {
    Rejection {
        status: StatusCode::BAD_REQUEST,
        code: -32600,
        message: format!("Bad Request: {what} {value:?} ({why})"),
    }
}

/// -32001 (JSON-RPC's server range): the guard refused the request (HTTP 403). Step 1 has no
/// JSON-RPC yet, but `/mcp` clients read this body from step 2 on, so it is shaped like a JSON-RPC
/// error without `id` (`mcp::jsonrpc` lists this code with the others).
pub const ORIGIN_REJECTED: i64 = -32001;

/// Why the guard refused a request.
#[derive(Debug, Clone)]
struct Rejection {
    status: StatusCode,
    code: i64,
    message: String,
}

impl Rejection {
    /// `{"jsonrpc":"2.0","error":{"code":-32001,"message":…}}`.
    fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "jsonrpc": "2.0",
            "error": {"code": self.code, "message": self.message},
        })
    }

    /// The answer: its status, the JSON body, and `Connection: close` (the request's body, if
    /// any, is not read, so the connection cannot carry another request).
    fn response(&self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        close_after(&mut response);
        response
    }
}

/// Parses a serialized origin: `scheme://host[:port]`, nothing else.
fn parse_origin(value: &str) -> Result<Url, &'static str> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("null") {
        return Err("opaque origin");
    }
    let url = Url::parse(value).map_err(|_| "malformed origin")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("scheme must be http or https");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an origin has no user info");
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || value.ends_with('/')
    {
        return Err("an origin has no path, query or fragment");
    }
    Ok(url)
}

/// An `Origin` header as browsers send it: exactly the ASCII serialization of an origin
/// (RFC 6454 §6.2: lower-case scheme and host, `://`, the port only when it is not the scheme's
/// default). `http:localhost`, `http://%6cocalhost`, `http://0x7f000001`, `http://127.1`,
/// `HTTP://LOCALHOST` or `https://a.example:443` parse as URLs, but no browser sends them.
fn parse_serialized_origin(value: &str) -> Result<Url, &'static str> {
    let url = parse_origin(value)?;
    if url.origin().ascii_serialization() != value {
        return Err("not a serialized origin (RFC 6454 §6.2)");
    }
    Ok(url)
}

/// `host[:port]` → host (IPv6 keeps its brackets), read strictly as RFC 9110's
/// `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3.2.3): an IP literal in brackets with nothing but
/// `:port` after it, or a name of letters, digits, `-`, `.`, `_`, `~`; a port of 1 to 5 digits no
/// larger than 65535. `None` when malformed.
fn split_host(value: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        rest[..end].parse::<std::net::Ipv6Addr>().ok()?;
        let after = &rest[end + 1..];
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (&value[..end + 2], after.strip_prefix(':'))
    } else {
        let (host, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if host.is_empty() || !host.chars().all(name_char) {
            return None;
        }
        (host, port)
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return None;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_with(origins: &[&str], hosts: &[&str]) -> OriginGuard {
        OriginGuard::from_args(&GuardArgs {
            allow_origins: origins.iter().map(|s| s.to_string()).collect(),
            allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn loopback_origins_pass_on_any_port_and_scheme() {
        let g = OriginGuard::default();
        for ok in [
            "http://localhost",
            "http://localhost:6274",
            "https://127.0.0.1:8443",
            "http://[::1]:3000",
        ] {
            assert_eq!(g.check_origin(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn lookalikes_null_and_malformed_origins_fail() {
        let g = OriginGuard::default();
        for bad in [
            "http://localhost.evil.com",
            "http://evil.com",
            "http://127.0.0.1.nip.io",
            "http://localhost@evil.com",
            "null",
            "",
            "localhost:9000",
            "file://localhost",
            "http://localhost/path",
            "http://localhost:99999",
            "http://[::2]",
            // Parse as URLs, but are not serialized origins (RFC 6454 §6.2).
            "HTTP://LOCALHOST:1",
            "http:localhost",
            "http:/localhost",
            "http://%6cocalhost",
            "http://0x7f000001",
            "http://127.1",
            "http://2130706433",
            "http://localhost:80",
            "http://LocalHost:6274",
            " http://localhost",
        ] {
            assert!(g.check_origin(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn allow_list_matches_whole_origins_only() {
        let g = guard_with(&["https://app.example.com"], &[]);
        assert_eq!(g.check_origin("https://app.example.com"), Ok(()));
        assert!(
            g.check_origin("https://app.example.com:443").is_err(),
            "not serialized"
        );
        assert!(g.check_origin("http://app.example.com").is_err());
        assert!(g.check_origin("https://app.example.com.evil.com").is_err());
    }

    #[test]
    fn a_bad_allow_list_entry_stops_start() {
        let err = OriginGuard::from_args(&GuardArgs {
            allow_origins: vec!["not an origin".into()],
            allow_hosts: vec![],
        })
        .unwrap_err();
        assert!(err.to_string().contains("ALLOWED_ORIGINS"));
    }

    #[test]
    fn hosts() {
        let g = guard_with(&[], &["mcp.example.com", "other.example:8443"]);
        for ok in [
            "localhost:9000",
            "127.0.0.1",
            "[::1]:9000",
            "mcp.example.com",
            "other.example:8443",
            // Host names are case-insensitive (RFC 9110 §4.2.3).
            "LocalHost:9000",
            "MCP.Example.COM:443",
            "Other.Example:8443",
            " localhost:9000 ",
        ] {
            assert_eq!(g.check_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "evil.com",
            "localhost.evil.com:9000",
            "other.example:9999",
            "",
            "[::1",
            "localhost:",
            "localhost:abc",
            "LOCALHOST.evil.com",
            "OTHER.example:9999",
            // Not RFC 3986 authorities.
            "[::1]evil.com",
            "[::1]]:80",
            "[::1]:80x",
            "[zz]:80",
            "localhost:+80",
            "localhost:080000",
            "localhost:65536",
            "local host",
            "localhost/x",
            "user@localhost",
            "localhost:9000:1",
        ] {
            assert!(g.check_host(bad).is_err(), "{bad} should be rejected");
        }
    }
}
