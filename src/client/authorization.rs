//! Step 11: the authorization code flow of a native app — PKCE S256 (RFC 7636), `state`
//! (RFC 6749 §10.12), `resource` (RFC 8707), a one-shot loopback redirect listener (RFC 8252
//! §7.3). The code-for-token exchange (RFC 6749 §4.1.3) is `client::token_endpoint`.
//!
//! MCP 2025-11-25 scope selection ([`select_scope`]): the `scope` of the challenge, else the PRM's
//! `scopes_supported`, else no `scope` at all; a step-up ([`union_scopes`]) asks for what the
//! client had plus what a 403 `insufficient_scope` names.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::auth::keys::{random_bytes, sha256_b64url};
use crate::client::http_client::describe_reqwest;
use crate::client::trace::{Trace, redact, untrusted};

/// The path of the loopback redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

// ---------------------------------------------------------------- PKCE, state, scope

/// A PKCE pair (RFC 7636 §4.1–4.2): a verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    verifier: String,
    /// `BASE64URL(SHA256(verifier))`, sent in the authorization request.
    pub challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &redact(&self.verifier))
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// A fresh verifier: 32 random bytes, base64url → 43 characters (RFC 7636 §4.1 allows
    /// 43–128 characters of `[A-Z a-z 0-9 - . _ ~]`).
    pub fn generate() -> Self {
        Self::from_verifier(URL_SAFE_NO_PAD.encode(random_bytes(32)))
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = sha256_b64url(verifier.as_bytes());
        Self {
            verifier,
            challenge,
        }
    }

    /// The verifier (sent only to the token endpoint).
    pub fn verifier(&self) -> &str {
        &self.verifier
    }
}

/// A fresh `state`: 24 random bytes, base64url (RFC 6749 §10.12: unguessable, bound to this
/// request).
pub fn new_state() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(24))
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// MCP 2025-11-25 scope selection: `--scope` when given, else the challenge's `scope`, else the
/// PRM's `scopes_supported` (all of them), else `None` — the `scope` parameter is then left out
/// (never invented, never taken from the authorization server's own list).
pub fn select_scope(
    override_scope: Option<&str>,
    challenge_scope: Option<&str>,
    scopes_supported: &[String],
) -> Option<String> {
    if let Some(s) = non_blank(override_scope).or(non_blank(challenge_scope)) {
        return Some(s.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let all: Vec<&str> = scopes_supported
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    (!all.is_empty()).then(|| all.join(" "))
}

/// The step-up scope: what the client asked for before plus what the 403 names, each scope once,
/// in first-seen order.
pub fn union_scopes(current: Option<&str>, extra: Option<&str>) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for s in current
        .unwrap_or_default()
        .split_whitespace()
        .chain(extra.unwrap_or_default().split_whitespace())
    {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

// ---------------------------------------------------------------- the authorization request

/// The parameters of one authorization request (RFC 6749 §4.1.1 + RFC 7636 §4.3 + RFC 8707 §2).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// The AS's `authorization_endpoint`.
    pub endpoint: &'a Url,
    /// `client_id`.
    pub client_id: &'a str,
    /// The loopback redirect URI.
    pub redirect_uri: &'a str,
    /// `scope`, or `None` to leave it out.
    pub scope: Option<&'a str>,
    /// `resource`: the MCP server (RFC 8707).
    pub resource: &'a str,
    /// `state`.
    pub state: &'a str,
    /// The S256 `code_challenge`.
    pub code_challenge: &'a str,
}

impl AuthorizationRequest<'_> {
    /// The URL to open (the endpoint's own query parameters are kept, RFC 6749 §3.1).
    pub fn url(&self) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", self.client_id);
            q.append_pair("redirect_uri", self.redirect_uri);
            if let Some(scope) = self.scope {
                q.append_pair("scope", scope);
            }
            q.append_pair("resource", self.resource);
            q.append_pair("code_challenge", self.code_challenge);
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("state", self.state);
        }
        url
    }
}

/// What came back to the redirect URI (RFC 6749 §4.1.2, §4.1.2.1).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`, e.g. `access_denied`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `iss` (RFC 9207): the issuer that sent the response.
    pub iss: Option<String>,
}

impl fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_deref().map(redact))
            .field("state", &self.state.as_deref().map(redact))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("iss", &self.iss)
            .finish()
    }
}

impl CallbackParams {
    /// From a query string's pairs (the first of a repeated name counts).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut p = Self::default();
        for (name, value) in pairs {
            let slot = match name {
                "code" => &mut p.code,
                "state" => &mut p.state,
                "error" => &mut p.error,
                "error_description" => &mut p.error_description,
                "iss" => &mut p.iss,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.to_string());
            }
        }
        p
    }

    /// From a redirect URL.
    pub fn from_url(url: &Url) -> Self {
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        Self::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

/// Checks a callback against the `state` this client sent and returns the code.
///
/// A `state` that is present and different is always a [`AuthorizationError::StateMismatch`]
/// (the response was not caused by this client: RFC 6749 §10.12). An `error` is reported as the
/// authorization server's refusal. A success without the right `state` is refused too.
pub fn check_callback(
    params: &CallbackParams,
    expected_state: &str,
) -> Result<String, AuthorizationError> {
    let state_ok = params.state.as_deref() == Some(expected_state);
    if params.state.is_some() && !state_ok {
        return Err(AuthorizationError::StateMismatch);
    }
    if let Some(error) = &params.error {
        return Err(AuthorizationError::Denied {
            error: untrusted(error),
            description: params.error_description.as_deref().map(untrusted),
        });
    }
    if !state_ok {
        return Err(AuthorizationError::StateMismatch);
    }
    params
        .code
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or(AuthorizationError::MissingCode)
}

/// RFC 9207 §2.4: when the response carries `iss`, it must be the issuer the request went to;
/// when the AS promised `iss` (`authorization_response_iss_parameter_supported`), it must be
/// there. Defeats mix-up attacks between authorization servers.
///
/// The comparison is exact, byte for byte, with the `issuer` of the authorization server's
/// metadata (RFC 9207 §2.4 "simple string comparison"; MCP 2026-07-28, SEP-2468): no case
/// folding, no default-port elision, no trailing-slash or percent-encoding normalization. So
/// `http://localhost:8080/` does not match the issuer `http://localhost:8080`.
// ANCHOR: check_issuer
pub fn check_issuer(
    params: &CallbackParams,
    issuer: &str,
    required: bool,
) -> Result<(), AuthorizationError> {
    match &params.iss {
        Some(found) if found != issuer => Err(AuthorizationError::IssuerMismatch {
            found: found.clone(),
            expected: issuer.to_string(),
        }),
        None if required => Err(AuthorizationError::IssuerMissing),
        _ => Ok(()),
    }
}
// ANCHOR_END: check_issuer

/// A URL for the trace: the values of `code` and `state` shortened with [`redact`].
pub fn redact_url(url: &Url) -> String {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if pairs.is_empty() {
        return url.to_string();
    }
    let mut shown = url.clone();
    shown.set_query(None);
    let query: Vec<String> = pairs
        .iter()
        .map(|(n, v)| match n.as_str() {
            "code" | "state" | "code_verifier" | "access_token" => format!("{n}={}", redact(v)),
            _ => format!("{n}={v}"),
        })
        .collect();
    format!("{shown}?{}", query.join("&"))
}

/// Why the authorization step failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// The loopback port could not be bound.
    #[error("cannot listen for the callback on 127.0.0.1:{port}: {reason}")]
    Listen {
        /// The port asked for.
        port: u16,
        /// The system's reason.
        reason: String,
    },
    /// Nothing came back in time.
    #[error("no authorization response reached {redirect_uri} within {seconds} s")]
    Timeout {
        /// The redirect URI.
        redirect_uri: String,
        /// The limit.
        seconds: u64,
    },
    /// RFC 6749 §4.1.2.1 error response (e.g. the user clicked "deny").
    #[error("the authorization server refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// RFC 6749 §10.12.
    #[error(
        "the callback's state does not match the state this client sent: possible CSRF, aborting"
    )]
    StateMismatch,
    /// A success response without `code`.
    #[error("the callback carries no authorization code")]
    MissingCode,
    /// RFC 9207 §2.4.
    #[error(
        "the authorization response comes from issuer {found}, not {expected} (RFC 9207, compared exactly: possible mix-up attack), aborting"
    )]
    IssuerMismatch {
        /// `iss` of the response.
        found: String,
        /// The issuer the request went to.
        expected: String,
    },
    /// RFC 9207 §2.4, when the AS promised `iss`.
    #[error(
        "the authorization server promises an iss parameter (RFC 9207) but its response has none, aborting"
    )]
    IssuerMissing,
    /// `--headless` could not reach the callback.
    #[error("--headless: {0}")]
    Headless(String),
    /// `--headless`: the authorization endpoint answered with an error page.
    #[error(
        "--headless: the authorization server answered {status} with an error page instead of a redirect (an unknown client_id, or a redirect_uri it does not accept?)"
    )]
    HeadlessErrorPage {
        /// The HTTP status.
        status: u16,
    },
    /// The token request failed.
    #[error("POST {url} failed: {reason}")]
    Http {
        /// The token endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// RFC 6749 §5.2 error response, or an unusable token response.
    #[error("token request to {url} refused (HTTP {status}): {error}")]
    Token {
        /// The token endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// `error: error_description`, or what is wrong with the response.
        error: String,
    },
}

// ---------------------------------------------------------------- the loopback listener

type Slot = Arc<Mutex<Option<oneshot::Sender<CallbackParams>>>>;

/// Where a listener that publishes this client's Client ID Metadata Document serves it.
pub const METADATA_PATH: &str = "/client-metadata.json";

/// The one-shot loopback listener for the redirect (RFC 8252 §7.3: `http://127.0.0.1:<port>`,
/// any port; the IP literal rather than `localhost`, §8.3). It can also publish the client's
/// Client ID Metadata Document ([`CallbackListener::publish`]) while it waits, so that the
/// authorization server can fetch it when the authorization request arrives.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
    document: Option<Arc<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl CallbackListener {
    /// Binds `127.0.0.1:port` (`0` = any free port).
    pub async fn bind(port: u16) -> Result<Self, AuthorizationError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            AuthorizationError::Listen {
                port,
                reason: e.to_string(),
            }
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthorizationError::Listen {
                port,
                reason: e.to_string(),
            })?
            .port();
        Ok(Self {
            listener,
            port,
            document: None,
            fetches: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// `http://127.0.0.1:<port>/client-metadata.json`: the URL a published document has, and so
    /// the client id (a Client ID Metadata Document's `client_id` is its own URL).
    pub fn metadata_url(&self) -> String {
        format!("http://127.0.0.1:{}{METADATA_PATH}", self.port)
    }

    /// Serves `document` at [`METADATA_PATH`] while the listener waits, as `application/json`
    /// with `Cache-Control: no-cache` (an authorization server may cache it; this asks it to
    /// check again each time).
    pub fn publish(&mut self, document: Value) {
        self.document = Some(Arc::new(document));
    }

    /// How many times the published document has been fetched (readable after [`Self::wait`]).
    pub fn fetch_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.fetches)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Serves until the first request to `/callback` (other paths get 404), answers it with a
    /// small HTML page, and returns its parameters.
    pub async fn wait(self, timeout: Duration) -> Result<CallbackParams, AuthorizationError> {
        let redirect_uri = self.redirect_uri();
        let (tx, rx) = oneshot::channel();
        let slot: Slot = Arc::new(Mutex::new(Some(tx)));
        let mut app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .with_state(slot);
        if let Some(document) = self.document.clone() {
            let fetches = Arc::clone(&self.fetches);
            app = app.route(
                METADATA_PATH,
                get(move || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    (
                        [(CACHE_CONTROL, "no-cache")],
                        axum::Json(document.as_ref().clone()),
                    )
                }),
            );
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        let _ = stop_tx.send(());
        // Let the page reach the browser; never wait long for a lingering connection.
        if tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .is_err()
        {
            tracing::debug!("callback listener did not stop within 2 s");
        }
        match outcome {
            Ok(Ok(params)) => Ok(params),
            _ => Err(AuthorizationError::Timeout {
                redirect_uri,
                seconds: timeout.as_secs(),
            }),
        }
    }
}

async fn callback(State(slot): State<Slot>, RawQuery(query): RawQuery) -> impl IntoResponse {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let params = CallbackParams::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let sender = slot.lock().map(|mut s| s.take()).unwrap_or(None);
    let Some(sender) = sender else {
        return (
            StatusCode::CONFLICT,
            page(
                "Already done",
                "This login was already handled. You can close this tab.",
            ),
        );
    };
    let html = match &params.error {
        Some(error) => page(
            "Authorization failed",
            &format!(
                "The authorization server answered <code>{}</code>. Return to the terminal.",
                html_escape(error)
            ),
        ),
        None => page(
            "Authorization received",
            "step11 received the authorization response. You can close this tab and return to the terminal.",
        ),
    };
    let _ = sender.send(params);
    (StatusCode::OK, html)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{body}</p></body></html>"
    ))
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

// ---------------------------------------------------------------- the user agent

/// How the authorization URL reached a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The command in `$BROWSER` was started: it has the URL.
    Browser,
    /// The desktop's opener was started; it may still show nothing (no desktop session).
    Desktop,
    /// Nothing could be started: the person must open the URL.
    No,
}

/// Opens the URL in a browser: the command in `$BROWSER` when it is set (the convention that
/// command-line tools follow: the first of its `:`-separated entries, split on spaces, `%s`
/// replaced by the URL or the URL appended), else the desktop's opener (`open` on macOS,
/// `xdg-open` elsewhere).
pub fn open_browser(url: &Url) -> Opened {
    let configured = std::env::var("BROWSER").unwrap_or_default();
    let (program, args, opened) = match browser_command(&configured, url.as_str()) {
        Some((program, args)) => (program, args, Opened::Browser),
        None if cfg!(target_os = "macos") => {
            ("open".into(), vec![url.to_string()], Opened::Desktop)
        }
        None => ("xdg-open".into(), vec![url.to_string()], Opened::Desktop),
    };
    let started = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok();
    if started { opened } else { Opened::No }
}

/// `$BROWSER` as a program and its arguments for `url`; `None` when it names no command.
fn browser_command(browser: &str, url: &str) -> Option<(String, Vec<String>)> {
    let entry = browser.split(':').map(str::trim).find(|e| !e.is_empty())?;
    let mut words = entry.split_whitespace().map(str::to_string);
    let program = words.next()?;
    let mut args: Vec<String> = words.collect();
    if args.iter().any(|a| a.contains("%s")) {
        for arg in &mut args {
            *arg = arg.replace("%s", url);
        }
    } else {
        args.push(url.to_string());
    }
    Some((program, args))
}

/// The authorization URL as the trace shows it once a browser has it: the endpoint and every
/// parameter's name, each value replaced by `…` (so `state` is not printed in full).
pub fn shown_authorization_url(url: &Url) -> String {
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    format!("{}?{}=…", without_query(url), names.join("=…&"))
}

fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// `--headless`: plays the browser for an authorization server that approves without a login
/// page (the MCP conformance suite's fake AS). GETs the
/// authorization URL **without following redirects**, reads `Location`, and — when it points at
/// `redirect_uri` — delivers it there, to this client's own listener, as a browser would. Anything
/// else (a login page, a redirect to the AS's own login screens, an error page) means a person is
/// needed: run without `--headless`.
pub async fn headless_authorize(
    http: &reqwest::Client,
    authorization_url: &Url,
    redirect_uri: &str,
    trace: &mut Trace,
) -> Result<(), AuthorizationError> {
    let redirect = Url::parse(redirect_uri)
        .map_err(|e| AuthorizationError::Headless(format!("bad redirect URI ({e})")))?;
    let shown = without_query(authorization_url);
    let response = http
        .get(authorization_url.clone())
        .send()
        .await
        .map_err(|e| {
            AuthorizationError::Headless(format!("GET {shown} failed: {}", describe_reqwest(&e)))
        })?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| authorization_url.join(l).ok())
        .filter(|_| response.status().is_redirection());
    trace.step(format_args!(
        "GET {shown}?… (headless, redirects not followed) → {status}{}",
        location
            .as_ref()
            .map_or(String::new(), |l| format!(" Location: {}", redact_url(l)))
    ));
    let next = match location {
        Some(next) if same_endpoint(&next, &redirect) => next,
        Some(next) => {
            return Err(AuthorizationError::Headless(format!(
                "the authorization server answered {status} with a redirect to {} instead of to {redirect_uri}: it wants a login; run without --headless",
                without_query(&next)
            )));
        }
        None if (200..300).contains(&status) => {
            return Err(AuthorizationError::Headless(format!(
                "the authorization server answered {status} with a page instead of a redirect: it wants a login; run without --headless"
            )));
        }
        None => return Err(AuthorizationError::HeadlessErrorPage { status }),
    };
    trace.detail("delivering the redirect to this client's own callback listener");
    http.get(next).send().await.map_err(|e| {
        AuthorizationError::Headless(format!(
            "delivering the callback failed: {}",
            describe_reqwest(&e)
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        // The 32 octets of RFC 7636 Appendix B, their base64url verifier, its S256 challenge.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = URL_SAFE_NO_PAD.encode(octets);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let pkce = Pkce::from_verifier(verifier);
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_43_unreserved_characters_and_differ() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_eq!(a.verifier().len(), 43);
        assert!(
            a.verifier()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
        );
        assert_ne!(a.verifier(), b.verifier());
        assert_eq!(a.challenge, sha256_b64url(a.verifier().as_bytes()));
        assert!(!format!("{a:?}").contains(a.verifier()));
    }

    #[test]
    fn states_are_random() {
        let a = new_state();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_state());
    }

    #[test]
    fn scope_selection_order() {
        let prm = vec![
            "mcp:basic".to_string(),
            "mcp:read".into(),
            "mcp:write".into(),
        ];
        assert_eq!(
            select_scope(Some("x y"), Some("a"), &prm).as_deref(),
            Some("x y")
        );
        assert_eq!(
            select_scope(None, Some("mcp:basic"), &prm).as_deref(),
            Some("mcp:basic")
        );
        assert_eq!(
            select_scope(None, Some("  "), &prm).as_deref(),
            Some("mcp:basic mcp:read mcp:write")
        );
        assert_eq!(
            select_scope(None, None, &prm).as_deref(),
            Some("mcp:basic mcp:read mcp:write")
        );
        assert_eq!(select_scope(None, None, &[]), None);
        assert_eq!(select_scope(Some(""), None, &[]), None);
        assert_eq!(
            select_scope(None, Some(" a   b "), &[]).as_deref(),
            Some("a b")
        );
    }

    #[test]
    fn step_up_union() {
        assert_eq!(
            union_scopes(Some("mcp:basic"), Some("mcp:basic mcp:write")).as_deref(),
            Some("mcp:basic mcp:write")
        );
        assert_eq!(union_scopes(None, Some("a")).as_deref(), Some("a"));
        assert_eq!(union_scopes(Some("a b"), None).as_deref(), Some("a b"));
        assert_eq!(union_scopes(None, None), None);
    }

    #[test]
    fn authorization_url_has_every_parameter() {
        let endpoint = Url::parse("https://as.example/authorize?tenant=t1").unwrap();
        let url = AuthorizationRequest {
            endpoint: &endpoint,
            client_id: "cid",
            redirect_uri: "http://127.0.0.1:5000/callback",
            scope: Some("mcp:read mcp:tools"),
            resource: "http://localhost:9000/mcp",
            state: "st",
            code_challenge: "ch",
        }
        .url();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "t1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5000/callback");
        assert_eq!(q["scope"], "mcp:read mcp:tools");
        assert_eq!(q["resource"], "http://localhost:9000/mcp");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st");
        let without = AuthorizationRequest {
            endpoint: &endpoint,
            client_id: "cid",
            redirect_uri: "r",
            scope: None,
            resource: "x",
            state: "s",
            code_challenge: "c",
        }
        .url();
        assert!(!without.query_pairs().any(|(n, _)| n == "scope"));
    }

    fn cb(query: &str) -> CallbackParams {
        CallbackParams::from_url(
            &Url::parse(&format!("http://127.0.0.1:1/callback?{query}")).unwrap(),
        )
    }

    #[test]
    fn callback_with_matching_state_gives_the_code() {
        assert_eq!(
            check_callback(&cb("code=abc&state=s1"), "s1").unwrap(),
            "abc"
        );
    }

    #[test]
    fn state_mismatch_aborts() {
        assert!(matches!(
            check_callback(&cb("code=abc&state=evil"), "s1"),
            Err(AuthorizationError::StateMismatch)
        ));
        assert!(matches!(
            check_callback(&cb("code=abc"), "s1"),
            Err(AuthorizationError::StateMismatch)
        ));
        assert!(matches!(
            check_callback(&cb("code=abc&state="), "s1"),
            Err(AuthorizationError::StateMismatch)
        ));
        // A forged error response with a wrong state is a mismatch too.
        assert!(matches!(
            check_callback(&cb("error=access_denied&state=evil"), "s1"),
            Err(AuthorizationError::StateMismatch)
        ));
    }

    #[test]
    fn access_denied_is_reported() {
        let err = check_callback(
            &cb("error=access_denied&error_description=User+said+no&state=s1"),
            "s1",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the authorization server refused: access_denied (User said no)"
        );
    }

    #[test]
    fn rfc9207_issuer_check() {
        let issuer = "http://localhost:8080/realms/mcp-realm";
        let ok = cb("code=a&state=s&iss=http%3A%2F%2Flocalhost%3A8080%2Frealms%2Fmcp-realm");
        assert!(check_issuer(&ok, issuer, true).is_ok());
        let evil = cb("code=a&state=s&iss=https%3A%2F%2Fevil.example");
        assert!(matches!(
            check_issuer(&evil, issuer, false),
            Err(AuthorizationError::IssuerMismatch { .. })
        ));
        let none = cb("code=a&state=s");
        assert!(check_issuer(&none, issuer, false).is_ok());
        assert!(matches!(
            check_issuer(&none, issuer, true),
            Err(AuthorizationError::IssuerMissing)
        ));
    }

    /// SEP-2468: `iss` is compared exactly. Each variant below names the same server once URL
    /// normalization is applied, and each is a mismatch.
    #[test]
    fn rfc9207_iss_is_compared_without_normalization() {
        let issuer = "http://localhost:8080";
        for variant in [
            "http://localhost:8080/",
            "HTTP://localhost:8080",
            "http://LOCALHOST:8080",
            "http://localhost:8080/%2E",
            "https://localhost:443",
        ] {
            let params = CallbackParams {
                code: Some("a".into()),
                state: Some("s".into()),
                iss: Some(variant.into()),
                ..CallbackParams::default()
            };
            let err = check_issuer(&params, issuer, true).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "the authorization response comes from issuer {variant}, not {issuer} (RFC 9207, compared exactly: possible mix-up attack), aborting"
                )
            );
        }
        let with_path = "https://as.example/tenant/";
        let exact = CallbackParams {
            iss: Some(with_path.into()),
            ..CallbackParams::default()
        };
        assert!(check_issuer(&exact, with_path, true).is_ok());
    }

    #[test]
    fn missing_code() {
        assert!(matches!(
            check_callback(&cb("state=s1"), "s1"),
            Err(AuthorizationError::MissingCode)
        ));
    }

    #[test]
    fn first_of_repeated_parameters_counts() {
        let p = cb("code=a&code=b&state=s");
        assert_eq!(p.code.as_deref(), Some("a"));
    }

    #[test]
    fn redacted_urls_hide_code_and_state() {
        let url =
            Url::parse("http://127.0.0.1:5/callback?code=abcdefghijkl&state=zyxwvutsrqpo&iss=x")
                .unwrap();
        assert_eq!(
            redact_url(&url),
            "http://127.0.0.1:5/callback?code=abcdef…&state=zyxwvu…&iss=x"
        );
        assert!(!format!("{:?}", CallbackParams::from_url(&url)).contains("abcdefghijkl"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html_escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }

    #[tokio::test]
    async fn listener_receives_one_callback() {
        let listener = CallbackListener::bind(0).await.unwrap();
        let redirect = listener.redirect_uri();
        assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
        let waiter = tokio::spawn(listener.wait(Duration::from_secs(10)));
        let http = crate::client::http_client::build().unwrap();
        let other = http
            .get(redirect.replace("/callback", "/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        let answer = http
            .get(format!("{redirect}?code=c0de&state=st"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("You can close this tab")
        );
        let params = waiter.await.unwrap().unwrap();
        assert_eq!(params.code.as_deref(), Some("c0de"));
        assert_eq!(params.state.as_deref(), Some("st"));
    }

    #[tokio::test]
    async fn headless_needs_an_immediate_redirect_to_the_callback() {
        let app = Router::new()
            .route("/page", get(|| async { Html("<form>login</form>") }))
            .route(
                "/elsewhere",
                get(|| async { (StatusCode::SEE_OTHER, [(LOCATION, "/login")]) }),
            )
            .route("/broken", get(|| async { StatusCode::BAD_REQUEST }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = crate::client::http_client::build().unwrap();
        let mut trace = Trace::memory();
        let redirect = "http://127.0.0.1:1/callback";
        for (path, expect) in [
            ("/page", "answered 200 with a page instead of a redirect"),
            ("/elsewhere", "answered 303 with a redirect to"),
            ("/broken", "answered 400 with an error page"),
        ] {
            let url = Url::parse(&format!("{base}{path}?state=s")).unwrap();
            let err = headless_authorize(&http, &url, redirect, &mut trace)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{path}: {err}");
        }
    }

    #[tokio::test]
    async fn listener_times_out() {
        let listener = CallbackListener::bind(0).await.unwrap();
        let err = listener.wait(Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, AuthorizationError::Timeout { .. }));
    }

    #[test]
    fn browser_commands_follow_the_browser_convention() {
        let url = "http://kc/auth?x=1";
        assert_eq!(browser_command("", url), None);
        assert_eq!(browser_command(" : ", url), None);
        assert_eq!(
            browser_command("firefox", url),
            Some(("firefox".into(), vec![url.into()]))
        );
        assert_eq!(
            browser_command("node login.mjs --quiet:lynx", url),
            Some((
                "node".into(),
                vec!["login.mjs".into(), "--quiet".into(), url.into()]
            ))
        );
        assert_eq!(
            browser_command("open -a Safari %s --new", url),
            Some((
                "open".into(),
                vec!["-a".into(), "Safari".into(), url.into(), "--new".into()]
            ))
        );
    }

    #[test]
    fn the_shown_url_keeps_names_not_values() {
        let url = Url::parse(
            "http://kc/realms/r/auth?response_type=code&state=secret-state&code_challenge=abc",
        )
        .unwrap();
        assert_eq!(
            shown_authorization_url(&url),
            "http://kc/realms/r/auth?response_type=…&state=…&code_challenge=…"
        );
    }
}
