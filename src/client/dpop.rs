//! Step 11 as a DPoP client (RFC 9449; MCP's DPoP extension, SEP-1932): whether to bind tokens to
//! a key, the key kept beside the tokens, and the nonce each server asks for.
//!
//! - [`DpopChoice`] and [`decide`]: `--dpop auto` (the default) binds tokens when both sides can
//!   use them — the authorization server lists `ES256` in `dpop_signing_alg_values_supported`
//!   (RFC 9449 §5.1) **and** the MCP server says it takes DPoP (a `DPoP` challenge in its 401,
//!   RFC 9449 §7.1, or `dpop_signing_alg_values_supported` in its protected resource metadata,
//!   RFC 9728 §2). A token bound at an authorization server that a bearer-only resource server
//!   cannot check is refused there, so the authorization server's word alone is not enough.
//!   `on` insists (and stops when the authorization server cannot), `off` never binds.
//! - [`load_or_create`]: one P-256 key per issuer, `dpop-<hash>.json` (mode 0600) beside the
//!   tokens and the registered client. A refresh token issued to a public client is bound to the
//!   key too (RFC 9449 §5), so the key must outlive the run. The trace shows its RFC 7638
//!   thumbprint (the token's `cnf.jkt`), never the key.
//! - [`DpopSigner`]: the key plus the authorization server's last `DPoP-Nonce` (RFC 9449 §8).
//!   The MCP server's nonce (§9) is kept by the transport, per connection.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::dpop::ProofKey;
use crate::client::discovery::Discovery;
use crate::client::registration::RegistrationError;
use crate::client::state_dir::{issuer_file, read_if_present, save_private_json, store_error};

/// The one proof algorithm this client signs with.
pub const PROOF_ALG: &str = "ES256";
/// The response header that carries a server's nonce (RFC 9449 §8.1, §9).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// The request header that carries a proof (RFC 9449 §4.1).
pub const PROOF_HEADER: &str = "dpop";
/// The error of a server that wants a (new) nonce in the proof (RFC 9449 §8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// `--dpop`: whether step 11 binds its tokens to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopChoice {
    /// When the authorization server and the MCP server both take DPoP.
    #[default]
    Auto,
    /// Always; an authorization server without ES256 DPoP stops the run.
    On,
    /// Never: bearer tokens.
    Off,
}

impl DpopChoice {
    /// `auto`, `on` or `off`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "--dpop {other:?}: expected auto, on or off (RFC 9449 DPoP-bound tokens)"
            )),
        }
    }
}

/// Whether this run binds tokens for the servers `discovery` found, and why (for the trace).
/// `rs_offers` is true once the MCP server sent a `DPoP` challenge. `Err`: `--dpop on` with an
/// authorization server that does not list ES256.
pub fn decide(
    choice: DpopChoice,
    discovery: &Discovery,
    rs_offers: bool,
) -> Result<(bool, String), String> {
    let as_algs = &discovery.auth_server.dpop_signing_alg_values_supported;
    let as_takes = as_algs.iter().any(|a| a == PROOF_ALG);
    let as_says = if as_algs.is_empty() {
        "the authorization server lists no dpop_signing_alg_values_supported".to_string()
    } else if as_takes {
        format!("the authorization server lists {PROOF_ALG} in dpop_signing_alg_values_supported")
    } else {
        format!(
            "the authorization server's dpop_signing_alg_values_supported [{}] lacks {PROOF_ALG}",
            as_algs.join(", ")
        )
    };
    let rs_takes = rs_offers || discovery.resource_dpop || discovery.resource_dpop_required;
    let rs_says = if discovery.resource_dpop_required {
        "the MCP server requires DPoP-bound tokens (dpop_bound_access_tokens_required)"
    } else if rs_takes {
        "the MCP server takes DPoP (a DPoP challenge or dpop_signing_alg_values_supported)"
    } else {
        "the MCP server offers no DPoP: no DPoP challenge, none in its metadata"
    };
    match choice {
        DpopChoice::Off => Ok((false, "--dpop off: bearer tokens".into())),
        DpopChoice::On if !as_takes => Err(format!(
            "--dpop on, but {as_says} (RFC 9449 §5.1): this authorization server cannot bind a token to this client's ES256 key"
        )),
        DpopChoice::On => Ok((true, format!("--dpop on; {as_says}"))),
        DpopChoice::Auto if as_takes && rs_takes => Ok((true, format!("{as_says} and {rs_says}"))),
        DpopChoice::Auto => Ok((false, format!("bearer tokens: {as_says}; {rs_says}"))),
    }
}

/// The key file as kept on disk.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    issuer: String,
    alg: String,
    /// The RFC 7638 thumbprint, for a reader of the file (checked against the key on load).
    jkt: String,
    /// PKCS#8 DER, base64url.
    private_key_pkcs8: String,
}

/// Where the key for `issuer` is kept in `dir`.
pub fn key_path(dir: &Path, issuer: &str) -> PathBuf {
    issuer_file(dir, "dpop", issuer)
}

/// The key for `issuer` kept in `dir`, or a new one saved there (mode 0600). `true` when it was
/// created now. A file that is not this client's key for this issuer is an error naming the
/// file: a key is never silently replaced, since tokens may be bound to it.
pub fn load_or_create(
    dir: &Path,
    issuer: &str,
) -> Result<(ProofKey, PathBuf, bool), RegistrationError> {
    let path = key_path(dir, issuer);
    if let Some(text) = read_if_present(&path)? {
        let bad = |why: String| {
            store_error(
                &path,
                format!(
                    "{why}; delete the file to make a new key (tokens bound to the old one are then useless)"
                ),
            )
        };
        let file: KeyFile =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a DPoP key file ({e})")))?;
        if file.issuer != issuer || file.alg != PROOF_ALG {
            return Err(bad(format!(
                "the key is for {} ({}), not {issuer} ({PROOF_ALG})",
                file.issuer, file.alg
            ))
            .into());
        }
        let der = URL_SAFE_NO_PAD
            .decode(file.private_key_pkcs8.as_bytes())
            .map_err(|e| bad(format!("private_key_pkcs8 is not base64url ({e})")))?;
        let key = ProofKey::from_pkcs8(&der).map_err(bad)?;
        if key.thumbprint() != file.jkt {
            return Err(bad(format!(
                "jkt {} is not the key's thumbprint {}",
                file.jkt,
                key.thumbprint()
            ))
            .into());
        }
        return Ok((key, path, false));
    }
    let key = ProofKey::generate();
    let file = KeyFile {
        issuer: issuer.to_string(),
        alg: PROOF_ALG.to_string(),
        jkt: key.thumbprint(),
        private_key_pkcs8: URL_SAFE_NO_PAD.encode(key.pkcs8()),
    };
    save_private_json(dir, &path, &file)?;
    Ok((key, path, true))
}

/// A proof's `htu`: the URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The client's key and the authorization server's latest nonce.
#[derive(Debug)]
pub struct DpopSigner {
    key: ProofKey,
    as_nonce: Mutex<Option<String>>,
}

impl DpopSigner {
    /// A signer with `key` and no nonce yet.
    pub fn new(key: ProofKey) -> Self {
        Self {
            key,
            as_nonce: Mutex::new(None),
        }
    }

    /// The key's RFC 7638 thumbprint (`cnf.jkt` of the tokens bound to it).
    pub fn thumbprint(&self) -> String {
        self.key.thumbprint()
    }

    /// A fresh proof (new `jti`, `iat` now) for `method` `url`, bound to `token` when given.
    pub fn proof(
        &self,
        method: &str,
        url: &url::Url,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        self.key.proof(method, &htu(url), token, nonce, unix_now())
    }

    /// The authorization server's latest `DPoP-Nonce`, if it sent one.
    pub fn as_nonce(&self) -> Option<String> {
        self.as_nonce.lock().expect("nonce lock").clone()
    }

    /// Keeps the authorization server's `DPoP-Nonce` for the next proof.
    pub fn set_as_nonce(&self, nonce: String) {
        *self.as_nonce.lock().expect("nonce lock") = Some(nonce);
    }
}

/// A `DPoP-Nonce` header's value, when it is a usable nonce (RFC 9449 §8.1: `1*NQCHAR`, printable
/// ASCII without `"` and `\`), at most 512 bytes.
pub fn nonce_from(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get(NONCE_HEADER)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 512
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    ok.then(|| value.to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::dpop::{ProofChecker, ProofRequest};
    use crate::client::discovery::AuthServer;
    use crate::client::state_dir::test_dir;

    fn discovery(as_algs: &[&str], resource_dpop: bool) -> Discovery {
        let u = |s: &str| url::Url::parse(s).unwrap();
        Discovery {
            resource: "http://localhost:9000/mcp".into(),
            scopes_supported: Vec::new(),
            auth_server: AuthServer {
                issuer: "http://localhost:8080/realms/r".into(),
                authorization_endpoint: u("http://localhost:8080/a"),
                token_endpoint: u("http://localhost:8080/t"),
                registration_endpoint: None,
                token_endpoint_auth_methods_supported: None,
                client_id_metadata_document_supported: false,
                authorization_response_iss_parameter_supported: false,
                scopes_supported: Vec::new(),
                metadata_url: None,
                dpop_signing_alg_values_supported: as_algs.iter().map(|s| s.to_string()).collect(),
            },
            legacy: false,
            resource_dpop,
            resource_dpop_required: false,
        }
    }

    #[test]
    fn auto_binds_only_when_both_servers_take_dpop() {
        let d = |algs: &[&str], rs| {
            decide(DpopChoice::Auto, &discovery(algs, rs), false)
                .unwrap()
                .0
        };
        assert!(d(&["RS256", "ES256"], true));
        assert!(
            !d(&["RS256", "ES256"], false),
            "a bearer-only resource server"
        );
        assert!(!d(&[], true), "an authorization server without DPoP");
        assert!(!d(&["RS256"], true), "no ES256");
        // The MCP server's DPoP challenge is enough on the resource side.
        assert!(
            decide(DpopChoice::Auto, &discovery(&["ES256"], false), true)
                .unwrap()
                .0
        );
        assert!(
            !decide(DpopChoice::Off, &discovery(&["ES256"], true), true)
                .unwrap()
                .0
        );
        assert!(
            decide(DpopChoice::On, &discovery(&["ES256"], false), false)
                .unwrap()
                .0
        );
        let err = decide(DpopChoice::On, &discovery(&["RS256"], true), true).unwrap_err();
        assert!(err.contains("lacks ES256"), "{err}");
        assert_eq!(
            DpopChoice::parse("maybe").unwrap_err(),
            "--dpop \"maybe\": expected auto, on or off (RFC 9449 DPoP-bound tokens)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_kept_0600_and_reloaded_and_a_bad_file_is_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = test_dir("dpop-key");
        let issuer = "http://localhost:8080/realms/r";
        let (key, path, created) = load_or_create(&dir, issuer).unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, _, created) = load_or_create(&dir, issuer).unwrap();
        assert!(!created);
        assert_eq!(again.thumbprint(), key.thumbprint());
        let other = load_or_create(&dir, "http://other").unwrap().0;
        assert_ne!(other.thumbprint(), key.thumbprint(), "one key per issuer");
        // A file edited by hand: named, not replaced.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(&key.thumbprint(), "not-the-thumbprint")).unwrap();
        let err = load_or_create(&dir, issuer).unwrap_err().to_string();
        assert!(
            err.contains("jkt not-the-thumbprint is not the key's thumbprint"),
            "{err}"
        );
        assert!(err.contains(&path.display().to_string()), "{err}");
        std::fs::write(&path, "{}").unwrap();
        assert!(
            load_or_create(&dir, issuer)
                .unwrap_err()
                .to_string()
                .contains("not a DPoP key file")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn proofs_pass_the_servers_checks_without_query_and_with_the_nonce() {
        let signer = DpopSigner::new(ProofKey::generate());
        let url = url::Url::parse("http://localhost:9000/mcp?x=1#f").unwrap();
        assert_eq!(htu(&url), "http://localhost:9000/mcp");
        let proof = signer.proof("POST", &url, Some("tok"), Some("n-1"));
        let checker = ProofChecker::new("http://localhost:9000/mcp").unwrap();
        let jkt = signer.thumbprint();
        let request = ProofRequest {
            method: "POST",
            proof: &proof,
            token: "tok",
            jkt: &jkt,
        };
        checker.check(request, unix_now()).unwrap();
        let (_, claims) = crate::auth::token::decode_unverified(&proof).unwrap();
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["htu"], "http://localhost:9000/mcp");
        assert_eq!(signer.as_nonce(), None);
        signer.set_as_nonce("abc".into());
        assert_eq!(signer.as_nonce().as_deref(), Some("abc"));
    }

    #[test]
    fn nonces_are_nqchar_only() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(nonce_from(&h), None);
        h.insert(NONCE_HEADER, "eyJ7S_zG.eyJH0-Z.HX4w-7v".parse().unwrap());
        assert_eq!(nonce_from(&h).as_deref(), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        h.insert(NONCE_HEADER, "a b".parse().unwrap());
        assert_eq!(nonce_from(&h), None);
        h.insert(NONCE_HEADER, "a\"b".parse().unwrap());
        assert_eq!(nonce_from(&h), None);
    }
}
