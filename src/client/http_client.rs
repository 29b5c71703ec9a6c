//! Step 11: the HTTP client every part of the `step11` client shares.
//!
//! One `reqwest::Client`: no system proxy (everything in this tutorial is on localhost), **no
//! automatic redirects** (an OAuth client must see a redirect to read the authorization code from
//! it, and must never follow a metadata or token endpoint somewhere it did not ask to go), time
//! limits on every request, and bodies read with a size cap.

use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

/// Time limit of one HTTP request (connect + answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body the client reads (metadata, tokens, MCP answers).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The client's `User-Agent`.
pub const USER_AGENT: &str = concat!("mcp-auth-steps-step11/", env!("CARGO_PKG_VERSION"));

/// Builds the shared client: no proxy, no redirects, time limits.
pub fn build() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(USER_AGENT)
        .build()
}

/// Reads a response body, refusing more than `cap` bytes.
pub async fn read_body(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cap {
            return Err(format!("the response is larger than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads an OAuth endpoint's JSON answer into `T`. Refused, each with its reason: a body that is
/// not UTF-8 (RFC 8259 §8.1), even where the bytes sit in a member `T` ignores (serde skips an
/// unknown member's string without checking it); and anything but a JSON object (RFC 6749 §5.1,
/// RFC 7591 §3.2.1), which serde would otherwise read into a struct from an array, field by field.
/// Both found by `fuzz/fuzz_targets/token_answer.rs`.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|e| {
        format!(
            "the body is not UTF-8 (RFC 8259 §8.1): an invalid byte at offset {}",
            e.valid_up_to()
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("the body is not a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Sends a request and reads its answer (at most [`MAX_BODY_BYTES`]): `(status, body)`, or why
/// not, with the transport error's cause chain.
pub async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let (status, _, body) = exchange_with_headers(request).await?;
    Ok((status, body))
}

/// [`exchange`], with the response's headers.
pub async fn exchange_with_headers(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), String> {
    let response = request.send().await.map_err(|e| describe_reqwest(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body(response, MAX_BODY_BYTES).await?;
    Ok((status, headers, body))
}

/// True when the host is a loopback name or address (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// OAuth 2.1 §1.5 and MCP 2025-11-25 (Authorization, "Communication Security"): endpoints are
/// HTTPS. Plain `http` is accepted for loopback hosts only (this tutorial's Keycloak, the
/// conformance suite's fake servers, RFC 8252 §7.3 redirects).
pub fn check_transport(url: &Url, what: &str) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{what} {url} is plain http on a non-loopback host; OAuth needs https there"
        )),
        other => Err(format!("{what} {url} has scheme {other:?}; expected https")),
    }
}

/// A reqwest error, with its cause chain (reqwest's own text hides "connection refused").
pub fn describe_reqwest(error: &reqwest::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    if error.is_timeout() {
        return "timed out".to_string();
    }
    if error.is_connect() {
        return format!("cannot connect ({innermost})");
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback(&url("http://localhost:9000/mcp")));
        assert!(is_loopback(&url("http://LOCALHOST/")));
        assert!(is_loopback(&url("http://127.0.0.1:1/")));
        assert!(is_loopback(&url("http://127.1.2.3/")));
        assert!(is_loopback(&url("http://[::1]:8080/")));
        assert!(!is_loopback(&url("http://localhost.evil.com/")));
        assert!(!is_loopback(&url("http://10.0.0.1/")));
    }

    #[test]
    fn transport_rule() {
        assert!(check_transport(&url("https://as.example.com/"), "issuer").is_ok());
        assert!(check_transport(&url("http://localhost:8080/realms/x"), "issuer").is_ok());
        let err = check_transport(&url("http://as.example.com/"), "issuer").unwrap_err();
        assert!(err.contains("needs https"), "{err}");
        assert!(check_transport(&url("ftp://localhost/"), "issuer").is_err());
    }
}
