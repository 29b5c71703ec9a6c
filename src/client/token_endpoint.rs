//! Step 11: the token endpoint (RFC 6749 §3.2) — the one call that every grant makes: the
//! authorization code exchange (§4.1.3, with PKCE and `resource`), the refresh (§6), and the
//! grants of callers without a person (`client::agent`). Client authentication as registered
//! (a `private_key_jwt` assertion, RFC 7523, signed per request), and, when the run binds its
//! tokens to a key, a DPoP proof on every request (RFC 9449 §5) with one retry when the server
//! asks for a nonce (§8).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::auth::keys::random_bytes;
use crate::client::authorization::{AuthorizationError, Pkce};
use crate::client::dpop::{self, DpopSigner, USE_DPOP_NONCE};
use crate::client::http_client;
use crate::client::oauth_syntax::{MAX_EXPIRES_IN_SECS, check_access_token, check_refresh_token};
use crate::client::registration::{ClientCredentials, now, oauth_error_text};
use crate::client::trace::redact;

/// `token_type` of a token bound to a key (RFC 9449 §5).
pub const DPOP_TOKEN_TYPE: &str = "DPoP";
/// RFC 7523 §2.2: client authentication by a signed assertion.
pub const ASSERTION_TYPE_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `token_endpoint_auth_method` of RFC 7523 §2.2 client authentication.
pub const AUTH_PRIVATE_KEY_JWT: &str = "private_key_jwt";
/// A client assertion is good for this long (RFC 7523 §3 `exp`; short: one is made per request).
pub const ASSERTION_LIFETIME_SECS: u64 = 60;

/// A client's signing key for `private_key_jwt` (RFC 7523 §2.2): a PEM file, P-256 (signs
/// `ES256`) or RSA (signs `RS256`).
pub struct AssertionKey {
    key: EncodingKey,
    alg: Algorithm,
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl AssertionKey {
    /// The key in the PEM file at `path` (PKCS#8, or SEC1 / PKCS#1).
    /// Like ssh, a key that other users may read is refused: it is a secret.
    pub fn from_pem_file(path: &std::path::Path) -> Result<Self, String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{}: mode {:o} lets other users read the private key; chmod 600 it",
                    path.display(),
                    mode & 0o777
                ));
            }
        }
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key in `pem`.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if let Ok(key) = EncodingKey::from_ec_pem(pem) {
            return Ok(Self {
                key,
                alg: Algorithm::ES256,
            });
        }
        EncodingKey::from_rsa_pem(pem)
            .map(|key| Self {
                key,
                alg: Algorithm::RS256,
            })
            .map_err(|_| "not a PEM private key (P-256 or RSA)".to_string())
    }

    /// `ES256` or `RS256`.
    pub fn alg(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }

    /// A client assertion (RFC 7523 §3): `iss` and `sub` the client id, `aud` the authorization
    /// server's issuer, a fresh `jti`, `exp` [`ASSERTION_LIFETIME_SECS`] after `iat`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, String> {
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": audience, "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": URL_SAFE_NO_PAD.encode(random_bytes(16)),
        });
        jsonwebtoken::encode(&Header::new(self.alg), &claims, &self.key)
            .map_err(|e| format!("signing the client assertion failed: {e}"))
    }
}

/// A token response (RFC 6749 §5.1).
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the client's key.
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Granted scope, when the AS says.
    #[serde(default)]
    pub scope: Option<String>,
    /// A refresh token, when issued.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Not from the response: the request was retried once with the server's `DPoP-Nonce`.
    #[serde(skip)]
    pub nonce_retried: bool,
}

impl TokenResponse {
    /// Reads a token endpoint's 2xx body (JSON in UTF-8; [`http_client::json_body`]).
    pub fn from_body(body: &[u8]) -> Result<Self, String> {
        http_client::json_body(body)
    }
}

impl TokenResponse {
    /// True when the token is bound to the client's key (`token_type` `DPoP`, RFC 9449 §5).
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case(DPOP_TOKEN_TYPE)
    }

    /// `token_type DPoP, access_token eyJhbG…, expires_in 300 s, scope "…"`: the response as the
    /// trace shows it.
    pub fn summary(&self) -> String {
        format!(
            "token_type {}, access_token {}, expires_in {}, scope {}",
            self.token_type,
            redact(&self.access_token),
            self.expires_in.map_or("?".into(), |s| format!("{s} s")),
            self.scope
                .as_deref()
                .map_or("(not stated)".into(), |s| format!("{s:?}"))
        )
    }
}

impl TokenResponse {
    /// Checked before anything from the response is kept or sent: the access and refresh tokens'
    /// syntax ([`crate::client::oauth_syntax`]) and `expires_in` at most
    /// [`MAX_EXPIRES_IN_SECS`].
    pub fn check(&self) -> Result<(), String> {
        check_access_token(&self.access_token)?;
        if let Some(refresh) = &self.refresh_token {
            check_refresh_token(refresh)?;
        }
        match self.expires_in {
            Some(s) if s > MAX_EXPIRES_IN_SECS => Err(format!(
                "expires_in {s} is out of range (at most {MAX_EXPIRES_IN_SECS} s, ten years)"
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &redact(&self.access_token))
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_deref().map(redact))
            .finish()
    }
}

/// One authorization code exchange.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    /// The AS's `token_endpoint`.
    pub endpoint: &'a Url,
    /// Who we are, and how we authenticate.
    pub client: &'a ClientCredentials,
    /// The code from the callback.
    pub code: &'a str,
    /// The PKCE pair of this authorization request.
    pub pkce: &'a Pkce,
    /// The same redirect URI as in the authorization request (RFC 6749 §4.1.3).
    pub redirect_uri: &'a str,
    /// The same `resource` as in the authorization request (RFC 8707 §2.2).
    pub resource: &'a str,
    /// The key to bind the token to, when the run uses DPoP.
    pub dpop: Option<&'a DpopSigner>,
}

/// RFC 6749 §4.1.3 with `code_verifier` (RFC 7636 §4.5) and `resource` (RFC 8707 §2.2), client
/// authentication as registered.
pub async fn exchange_code(
    http: &reqwest::Client,
    request: &TokenRequest<'_>,
) -> Result<TokenResponse, AuthorizationError> {
    let form = vec![
        ("grant_type", "authorization_code".into()),
        ("code", request.code.into()),
        ("redirect_uri", request.redirect_uri.into()),
        ("code_verifier", request.pkce.verifier().into()),
        ("resource", request.resource.into()),
    ];
    token_request(
        http,
        request.endpoint,
        request.client,
        None,
        form,
        request.dpop,
    )
    .await
}

/// RFC 6749 §6: a new access token for a refresh token, for the same `resource` (RFC 8707 §2.2)
/// and, without `scope`, the same scope as before; client authentication as registered (a public
/// client sends its `client_id`, OAuth 2.1 §4.3.1).
pub async fn refresh(
    http: &reqwest::Client,
    endpoint: &Url,
    client: &ClientCredentials,
    refresh_token: &str,
    resource: &str,
    dpop: Option<&DpopSigner>,
) -> Result<TokenResponse, AuthorizationError> {
    let form = vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh_token.into()),
        ("resource", resource.into()),
    ];
    token_request(http, endpoint, client, None, form, dpop).await
}

/// What an OAuth endpoint answered: status, headers and body (at most
/// [`http_client::MAX_BODY_BYTES`]), for the errors that name it.
#[derive(Debug)]
pub struct OAuthAnswer {
    url: String,
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl OAuthAnswer {
    /// Sends `request` to `endpoint`; [`AuthorizationError::Http`] when no answer came.
    pub async fn of(
        endpoint: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Self, AuthorizationError> {
        let url = endpoint.to_string();
        match http_client::exchange_with_headers(request).await {
            Ok((status, headers, body)) => Ok(Self {
                url,
                status,
                headers,
                body,
            }),
            Err(reason) => Err(AuthorizationError::Http { url, reason }),
        }
    }

    /// [`AuthorizationError::Token`] for this answer: `error` is the RFC 6749 §5.2 error, or what
    /// is wrong with the answer.
    pub fn refused(&self, error: String) -> AuthorizationError {
        AuthorizationError::Token {
            url: self.url.clone(),
            status: self.status.as_u16(),
            error,
        }
    }
}

/// POSTs one token request (`form` holds `grant_type` and what the grant needs; the grants
/// without a user in `client::agent` call this directly) and checks the answer: a 2xx JSON token response whose
/// `token_type` this client can present, else [`AuthorizationError::Token`] with the RFC 6749
/// §5.2 error. With `dpop`, every attempt carries a fresh proof (RFC 9449 §5), and a `400
/// use_dpop_nonce` with a `DPoP-Nonce` is retried once with that nonce (§8).
pub async fn token_request(
    http: &reqwest::Client,
    endpoint: &Url,
    client: &ClientCredentials,
    key: Option<&AssertionKey>,
    form: Vec<(&'static str, String)>,
    dpop: Option<&DpopSigner>,
) -> Result<TokenResponse, AuthorizationError> {
    let url = endpoint.to_string();
    let mut nonce_retried = false;
    loop {
        let mut form = form.clone();
        let mut builder = http
            .post(endpoint.clone())
            .header(ACCEPT, "application/json");
        if client.token_endpoint_auth_method == AUTH_PRIVATE_KEY_JWT {
            // RFC 7523 §2.2 and §3: the assertion identifies the client (its `sub`), a new one
            // per request; the extension's example leaves client_id out.
            let assertion = key
                .ok_or("private_key_jwt without a key".to_string())
                .and_then(|k| k.assertion(&client.client_id, &client.issuer, now()))
                .map_err(|reason| AuthorizationError::Http {
                    url: url.clone(),
                    reason,
                })?;
            form.push(("client_assertion_type", ASSERTION_TYPE_JWT.into()));
            form.push(("client_assertion", assertion));
        } else {
            builder = client.authenticate(builder, &mut form);
        }
        // ANCHOR: dpop_token_request
        if let Some(signer) = dpop {
            let nonce = signer.as_nonce();
            builder = builder.header(
                dpop::PROOF_HEADER,
                signer.proof("POST", endpoint, None, nonce.as_deref()),
            );
        }
        let answer = OAuthAnswer::of(endpoint, builder.form(&form)).await?;
        let (status, headers, body) = (answer.status, &answer.headers, &answer.body);
        let refused = |error: String| answer.refused(error);
        // RFC 9449 §8.2: a server may send a new nonce with any response.
        let nonce = dpop::nonce_from(headers);
        if let (Some(signer), Some(nonce)) = (dpop, &nonce) {
            signer.set_as_nonce(nonce.clone());
        }
        if !status.is_success() {
            let wants_nonce = status.as_u16() == 400
                && serde_json::from_slice::<Value>(body)
                    .is_ok_and(|v| v["error"] == USE_DPOP_NONCE);
            if wants_nonce && dpop.is_some() && nonce.is_some() && !nonce_retried {
                nonce_retried = true;
                continue;
            }
            return Err(refused(oauth_error_text(body)));
        }
        // ANCHOR_END: dpop_token_request
        let mut token = TokenResponse::from_body(body)
            .map_err(|e| refused(format!("not a token response ({e})")))?;
        let known = token.is_dpop() || token.token_type.eq_ignore_ascii_case("bearer");
        if !known || (token.is_dpop() && dpop.is_none()) {
            return Err(refused(format!(
                "token_type {:?}: this client sent {} and can only present {}",
                token.token_type.chars().take(32).collect::<String>(),
                if dpop.is_some() {
                    "a DPoP proof"
                } else {
                    "no DPoP proof"
                },
                if dpop.is_some() {
                    "DPoP or Bearer tokens"
                } else {
                    "Bearer tokens"
                }
            )));
        }
        token.check().map_err(refused)?;
        token.nonce_retried = nonce_retried;
        return Ok(token);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use serde_json::json;

    use super::*;
    use crate::auth::dpop::ProofKey;
    use crate::client::registration::ClientSource;

    #[test]
    fn a_token_response_that_is_not_utf8_is_refused_even_in_an_unknown_member() {
        // Found by fuzz/fuzz_targets/token_answer.rs; the failing input is its seed
        // fuzz/seeds/token_answer/75a685656d773ce730091b08a8e564c6f313a9e1. serde skips an
        // unknown member's string without checking it, so a typed read alone accepted this body.
        let body = b"{\"access_token\": \"x\", \"issued_token_type\": \"urn:ietf:para\xeds\", \"token_type\": \"N_A\"}";
        assert_eq!(
            TokenResponse::from_body(body).unwrap_err(),
            "the body is not UTF-8 (RFC 8259 §8.1): an invalid byte at offset 57"
        );
        let good = br#"{"access_token": "x", "token_type": "Bearer", "extra": "\u00e9"}"#;
        assert_eq!(TokenResponse::from_body(good).unwrap().access_token, "x");
    }

    #[test]
    fn a_token_response_must_be_a_json_object() {
        // Found by fuzz/fuzz_targets/token_answer.rs; the failing input is its seed
        // fuzz/seeds/token_answer/1cd7b4317ad03e74a09bb8ca8a051decad12ec79: serde reads a struct
        // from an array too, so `["iss", ""]` was a token response with access_token "iss".
        assert_eq!(
            TokenResponse::from_body(br#"["iss", ""]  "#).unwrap_err(),
            "the body is not a JSON object"
        );
        assert_eq!(
            TokenResponse::from_body(b"{\"access_token\": 7}").unwrap_err(),
            "invalid type: integer `7`, expected a string"
        );
    }

    /// A token endpoint that answers each request with the next of `answers`, and records the
    /// `DPoP` header of each request.
    async fn endpoint(
        answers: Vec<(u16, Option<&'static str>, Value)>,
    ) -> (Url, Arc<Mutex<Vec<Option<String>>>>) {
        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let queue = Arc::new(Mutex::new(answers.into_iter()));
        let record = seen.clone();
        let app = Router::new().route(
            "/token",
            post(move |headers: HeaderMap| {
                let record = record.clone();
                let queue = queue.clone();
                async move {
                    record.lock().unwrap().push(
                        headers
                            .get("dpop")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    );
                    let (status, nonce, body) = queue.lock().unwrap().next().expect("an answer");
                    let mut response =
                        (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
                    if let Some(nonce) = nonce {
                        response
                            .headers_mut()
                            .insert("dpop-nonce", nonce.parse().unwrap());
                    }
                    response
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (
            Url::parse(&format!("http://127.0.0.1:{port}/token?x=1")).unwrap(),
            seen,
        )
    }

    fn client() -> ClientCredentials {
        ClientCredentials {
            issuer: "http://as".into(),
            client_id: "c".into(),
            client_secret: None,
            token_endpoint_auth_method: "none".into(),
            redirect_uris: Vec::new(),
            client_secret_expires_at: None,
            source: ClientSource::Registered,
            dpop_bound: true,
        }
    }

    fn token(token_type: &str) -> Value {
        json!({"access_token": "access-token-value-1234", "token_type": token_type, "expires_in": 60})
    }

    fn claims(jwt: &str) -> Value {
        crate::auth::token::decode_unverified(jwt).unwrap().1
    }

    /// The error text of a refresh at `url`, with `signer`'s proofs when given.
    async fn refresh_error(url: &Url, signer: Option<&DpopSigner>) -> String {
        let http = crate::client::http_client::build().unwrap();
        refresh(&http, url, &client(), "r", "http://rs/mcp", signer)
            .await
            .unwrap_err()
            .to_string()
    }

    fn nonce_error() -> Value {
        json!({"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof"})
    }

    #[tokio::test]
    async fn a_nonce_request_is_answered_once_with_a_new_proof() {
        let (url, seen) = endpoint(vec![
            (400, Some("n-1"), nonce_error()),
            (200, Some("n-2"), token("DPoP")),
        ])
        .await;
        let http = crate::client::http_client::build().unwrap();
        let signer = DpopSigner::new(ProofKey::generate());
        let got = refresh(&http, &url, &client(), "r", "http://rs/mcp", Some(&signer))
            .await
            .unwrap();
        assert!(got.is_dpop() && got.nonce_retried);
        let proofs: Vec<Value> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|p| claims(p.as_deref().unwrap()))
            .collect();
        assert_eq!(proofs.len(), 2);
        assert!(proofs[0].get("nonce").is_none());
        assert_eq!(proofs[1]["nonce"], "n-1");
        assert_ne!(
            proofs[0]["jti"], proofs[1]["jti"],
            "a fresh proof each time"
        );
        assert_eq!(proofs[1]["htm"], "POST");
        assert_eq!(
            proofs[1]["htu"],
            url.as_str().trim_end_matches("?x=1"),
            "htu without the query"
        );
        assert!(
            proofs[1].get("ath").is_none(),
            "no token at the token endpoint"
        );
        assert_eq!(
            signer.as_nonce().as_deref(),
            Some("n-2"),
            "the newest nonce is kept"
        );
    }

    #[tokio::test]
    async fn a_second_nonce_request_is_an_error_not_a_loop() {
        let (url, seen) = endpoint(vec![
            (400, Some("n-1"), nonce_error()),
            (400, Some("n-2"), nonce_error()),
        ])
        .await;
        let signer = DpopSigner::new(ProofKey::generate());
        let err = refresh_error(&url, Some(&signer)).await;
        assert!(
            err.ends_with("refused (HTTP 400): use_dpop_nonce: Authorization server requires nonce in DPoP proof"),
            "{err}"
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn token_types_the_client_cannot_present_are_refused() {
        let http = crate::client::http_client::build().unwrap();
        // A DPoP token for a client that sent no proof.
        let (url, seen) = endpoint(vec![(200, None, token("DPoP"))]).await;
        let err = refresh_error(&url, None).await;
        assert!(
            err.ends_with("token_type \"DPoP\": this client sent no DPoP proof and can only present Bearer tokens"),
            "{err}"
        );
        assert_eq!(seen.lock().unwrap().as_slice(), &[None], "no proof sent");
        // An unknown type, with a proof.
        let (url, _) = endpoint(vec![(200, None, token("MAC"))]).await;
        let signer = DpopSigner::new(ProofKey::generate());
        let err = refresh_error(&url, Some(&signer)).await;
        assert!(
            err.ends_with("token_type \"MAC\": this client sent a DPoP proof and can only present DPoP or Bearer tokens"),
            "{err}"
        );
        // A use_dpop_nonce to a client that sent no proof is an ordinary error.
        let (url, seen) = endpoint(vec![(400, Some("n"), nonce_error())]).await;
        assert!(
            refresh(&http, &url, &client(), "r", "http://rs/mcp", None)
                .await
                .is_err()
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "no retry without DPoP");
        // A Bearer answer to a proof: the AS did not bind it; presented as Bearer.
        let (url, _) = endpoint(vec![(200, None, token("Bearer"))]).await;
        let got = refresh(&http, &url, &client(), "r", "http://rs/mcp", Some(&signer))
            .await
            .unwrap();
        assert!(!got.is_dpop() && !got.nonce_retried);
    }

    /// A new P-256 key as PKCS#8 PEM.
    fn ec_pem() -> String {
        let der = crate::auth::dpop::ProofKey::generate().pkcs8().to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn assertions_follow_rfc_7523_section_3() {
        let key = AssertionKey::from_pem(ec_pem().as_bytes()).unwrap();
        assert_eq!(key.alg(), "ES256");
        let jwt = key.assertion("agent", "http://as", 1_000).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        let claims = claims(&jwt);
        assert_eq!(claims["iss"], "agent");
        assert_eq!(claims["sub"], "agent");
        assert_eq!(claims["aud"], "http://as");
        assert_eq!(claims["exp"], 1_000 + ASSERTION_LIFETIME_SECS);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        let again = key.assertion("agent", "http://as", 1_000).unwrap();
        assert_ne!(jwt, again, "a fresh jti each time");
        assert!(AssertionKey::from_pem(b"not a key").is_err());
    }
}
