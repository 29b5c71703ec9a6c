//! DPoP (RFC 9449): a token bound to a key the client holds. The authorization server writes the
//! key's RFC 7638 thumbprint into the token (`cnf.jkt`), and every request carries a fresh proof,
//! a JWT signed with that key, bound to the method, the URL and the token itself. A stolen token
//! without the key is worth nothing.
//!
//! - [`ProofChecker`]: the resource server's side, RFC 9449 §4.3 and §7: `typ` `dpop+jwt`, an
//!   asymmetric `alg` from [`PROOF_ALGS`], a public `jwk` (private members refused), the
//!   signature, `htm`, `htu` (the public URL, never the Host header; no query or fragment), `iat`
//!   within [`IAT_WINDOW_SECS`], `jti` not seen within that window (a bounded replay store), `ath`
//!   the SHA-256 of the token, and the key's thumbprint equal to the token's `cnf.jkt`.
//! - [`ProofKey`]: the client's side: a P-256 key pair and the proofs it signs (step 11, and the
//!   test scripts through `examples/dpop_proof.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use url::Url;

use crate::auth::keys::{sha256, sha256_b64url};

/// The proof algorithms this server verifies (RFC 9449 §7.1 `algs`): asymmetric only.
pub const PROOF_ALGS: [&str; 2] = ["ES256", "RS256"];

/// How far a proof's `iat` may be from the server's clock, either way, in seconds.
pub const IAT_WINDOW_SECS: i64 = 60;

/// The most `jti`s the replay store keeps; a flood of distinct proofs evicts the oldest first.
pub const REPLAY_STORE_ENTRIES: usize = 100_000;

/// Why a proof was refused (the `error_description` of RFC 9449 §7.1's `invalid_dpop_proof`).
pub type ProofError = String;

/// The RFC 7638 thumbprint of a public JWK (RSA, EC or OKP), base64url; `None` for another key
/// type or a missing member.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let member = |k: &str| jwk.get(k).and_then(Value::as_str);
    let canonical = match member("kty")? {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e")?,
            member("n")?
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return None,
    };
    Some(sha256_b64url(canonical.as_bytes()))
}

/// Checks DPoP proofs for one resource (its public URL) and remembers their `jti`s.
#[derive(Debug)]
pub struct ProofChecker {
    htu: Url,
    seen: Mutex<ReplayStore>,
}

/// The `jti`s seen (their SHA-256) and until when each is kept, in the order they came: as every
/// entry is kept for the same time, the oldest is always at the front, so expiry and eviction
/// cost O(1) per proof even when the store is full.
#[derive(Debug, Default)]
struct ReplayStore {
    until: HashMap<[u8; 32], i64>,
    order: VecDeque<([u8; 32], i64)>,
}

/// What the request brings: its method, the proof header, the access token, and the token's
/// `cnf.jkt`.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// The access token from `Authorization: DPoP <token>`.
    pub token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
}

impl ProofChecker {
    /// Proofs must name `htu`: the resource's public URL (`<MCP_SERVER_URL>/mcp`).
    pub fn new(htu: &str) -> Result<Self, String> {
        let htu = Url::parse(htu).map_err(|e| format!("htu {htu:?}: {e}"))?;
        Ok(Self {
            htu,
            seen: Mutex::new(ReplayStore::default()),
        })
    }

    /// RFC 9449 §4.3, in order; the first failing check is the answer.
    pub fn check(&self, request: ProofRequest<'_>, now: i64) -> Result<(), ProofError> {
        let mut parts = request.proof.split('.');
        let (Some(h), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the proof is not a JWS compact serialization".into());
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the proof's header is not JSON")?;
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err("typ must be dpop+jwt".into());
        }
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if !PROOF_ALGS.contains(&alg) {
            return Err(format!(
                "alg {:?} is not accepted ({})",
                alg.chars().take(16).collect::<String>(),
                PROOF_ALGS.join(" ")
            ));
        }
        let jwk = header
            .get("jwk")
            .filter(|j| j.is_object())
            .ok_or("the proof has no jwk")?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.get(m).is_some())
        {
            return Err("the proof's jwk holds private key members".into());
        }
        let key = decoding_key(alg, jwk).ok_or("the proof's jwk is not a key for its alg")?;
        let algorithm = if alg == "ES256" {
            Algorithm::ES256
        } else {
            Algorithm::RS256
        };
        let mut validation = Validation::new(algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(request.proof, &key, &validation)
            .map_err(|_| "the proof's signature does not verify with its jwk")?
            .claims;
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        if text("htm") != Some(request.method) {
            return Err(format!("htm must be {}", request.method));
        }
        let htu_ok = text("htu")
            .and_then(|u| Url::parse(u).ok())
            .is_some_and(|mut u| {
                u.set_query(None);
                u.set_fragment(None);
                u == self.htu
            });
        if !htu_ok {
            return Err(format!("htu must be {}", self.htu));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or("the proof has no iat")?;
        if (iat - now).abs() > IAT_WINDOW_SECS {
            return Err(format!(
                "iat is more than {IAT_WINDOW_SECS} s from the server's clock"
            ));
        }
        let expected_ath = sha256_b64url(request.token.as_bytes());
        if text("ath") != Some(expected_ath.as_str()) {
            return Err("ath is not the SHA-256 of the access token".into());
        }
        if jwk_thumbprint(jwk).as_deref() != Some(request.jkt) {
            return Err("the proof's key is not the key the token is bound to (cnf.jkt)".into());
        }
        let jti = text("jti")
            .filter(|j| !j.is_empty())
            .ok_or("the proof has no jti")?;
        self.remember(jti, now)
    }

    /// The replay store: a `jti` seen within twice the `iat` window is refused; the store keeps
    /// each that long, and at most [`REPLAY_STORE_ENTRIES`] (the oldest go first).
    fn remember(&self, jti: &str, now: i64) -> Result<(), ProofError> {
        let key = sha256(jti.as_bytes());
        let mut store = self.seen.lock().expect("replay store lock");
        let ReplayStore { until, order } = &mut *store;
        while let Some(&(old, expires)) = order.front() {
            if expires >= now && order.len() < REPLAY_STORE_ENTRIES {
                break;
            }
            order.pop_front();
            if until.get(&old) == Some(&expires) {
                until.remove(&old);
            }
        }
        if until.get(&key).is_some_and(|&expires| expires >= now) {
            return Err("the proof's jti was used before (replay)".into());
        }
        let expires = now + 2 * IAT_WINDOW_SECS;
        until.insert(key, expires);
        order.push_back((key, expires));
        Ok(())
    }

    /// How many `jti`s the store holds (`/health`).
    pub fn remembered(&self) -> usize {
        self.seen.lock().expect("replay store lock").until.len()
    }
}

fn decoding_key(alg: &str, jwk: &Value) -> Option<DecodingKey> {
    let member = |k: &str| jwk.get(k).and_then(Value::as_str);
    match (alg, member("kty")?) {
        ("ES256", "EC") if member("crv") == Some("P-256") => {
            DecodingKey::from_ec_components(member("x")?, member("y")?).ok()
        }
        ("RS256", "RSA") => DecodingKey::from_rsa_components(member("n")?, member("e")?).ok(),
        _ => None,
    }
}

/// A client's DPoP key: P-256, proofs signed ES256.
pub struct ProofKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    /// The public key as a JWK, and its RFC 7638 thumbprint: made once, sent with every proof.
    jwk: Value,
    jkt: String,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl ProofKey {
    /// A new key pair.
    pub fn generate() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("P-256 key generation");
        Self::from_pkcs8(pkcs8.as_ref()).expect("a key just generated parses")
    }

    /// A key kept as PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?;
        let point = pair.public_key().as_ref(); // 0x04 || x || y
        let jwk = json!({"kty": "EC", "crv": "P-256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        let jkt = jwk_thumbprint(&jwk).expect("an EC JWK has a thumbprint");
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            jwk,
            jkt,
        })
    }

    /// The private key as PKCS#8 DER (to keep it, 0600).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The RFC 7638 thumbprint (`cnf.jkt`).
    pub fn thumbprint(&self) -> String {
        self.jkt.clone()
    }

    /// A proof for `method` `url`, bound to `token` when given (`ath`), with a server's `nonce`
    /// when given; `jti` random, `iat` now.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        nonce: Option<&str>,
        iat: i64,
    ) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": &self.jwk});
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("random jti");
        let mut claims =
            json!({"htm": method, "htu": url, "iat": iat, "jti": URL_SAFE_NO_PAD.encode(jti)});
        if let Some(token) = token {
            claims["ath"] = json!(sha256_b64url(token.as_bytes()));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// Whether a resource accepts DPoP (`DPOP`, step 10): `off` (bearer tokens only, the default, as
/// the blog teaches), `accepted` (DPoP-bound tokens with proofs, and plain bearer tokens), or
/// `required` (DPoP-bound tokens only; the metadata says `dpop_bound_access_tokens_required`).
/// In every mode a DPoP-bound token presented as `Bearer` is refused: no downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer tokens only.
    #[default]
    Off,
    /// DPoP and bearer tokens.
    Accepted,
    /// DPoP tokens only.
    Required,
}

impl DpopMode {
    /// `off`, `accepted` or `required`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "off" => Some(Self::Off),
            "accepted" => Some(Self::Accepted),
            "required" => Some(Self::Required),
            _ => None,
        }
    }

    /// The name `/health` and the printout use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Accepted => "accepted",
            Self::Required => "required",
        }
    }
}

/// The protected resource metadata members for `mode` (RFC 9728 §2):
/// `dpop_signing_alg_values_supported`, and `dpop_bound_access_tokens_required` when required.
pub fn metadata_members(mode: DpopMode) -> Vec<(&'static str, Value)> {
    match mode {
        DpopMode::Off => Vec::new(),
        DpopMode::Accepted | DpopMode::Required => vec![
            ("dpop_signing_alg_values_supported", json!(PROOF_ALGS)),
            (
                "dpop_bound_access_tokens_required",
                json!(mode == DpopMode::Required),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTU: &str = "http://localhost:3000/mcp";
    const NOW: i64 = 1_800_000_000;

    fn check(
        checker: &ProofChecker,
        key: &ProofKey,
        proof: &str,
        method: &str,
    ) -> Result<(), ProofError> {
        let jkt = key.thumbprint();
        checker.check(
            ProofRequest {
                method,
                proof,
                token: "tok",
                jkt: &jkt,
            },
            NOW,
        )
    }

    #[test]
    fn rfc7638_thumbprint_of_the_rfc_example_key() {
        // RFC 7638 §3.1's RSA key and its thumbprint.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(jwk_thumbprint(&json!({"kty": "oct", "k": "x"})), None);
    }

    #[test]
    fn a_good_proof_passes_once() {
        let checker = ProofChecker::new(HTU).unwrap();
        let key = ProofKey::generate();
        let proof = key.proof("POST", HTU, Some("tok"), None, NOW);
        assert_eq!(check(&checker, &key, &proof, "POST"), Ok(()));
        assert_eq!(
            check(&checker, &key, &proof, "POST"),
            Err("the proof's jti was used before (replay)".into())
        );
        assert_eq!(checker.remembered(), 1);
        // A query on htu is ignored (RFC 9449 §4.3 step 9).
        let with_query = key.proof(
            "POST",
            "http://localhost:3000/mcp?x=1",
            Some("tok"),
            None,
            NOW,
        );
        assert_eq!(check(&checker, &key, &with_query, "POST"), Ok(()));
    }

    #[test]
    fn each_check_has_its_error() {
        let checker = ProofChecker::new(HTU).unwrap();
        let key = ProofKey::generate();
        let other = ProofKey::generate();
        let cases: [(String, &str, &str); 7] = [
            (
                key.proof("GET", HTU, Some("tok"), None, NOW),
                "POST",
                "htm must be POST",
            ),
            (
                key.proof(
                    "POST",
                    "http://localhost:3000/other",
                    Some("tok"),
                    None,
                    NOW,
                ),
                "POST",
                "htu must be http://localhost:3000/mcp",
            ),
            (
                key.proof("POST", HTU, Some("tok"), None, NOW - 61),
                "POST",
                "iat is more than 60 s from the server's clock",
            ),
            (
                key.proof("POST", HTU, Some("tok"), None, NOW + 61),
                "POST",
                "iat is more than 60 s from the server's clock",
            ),
            (
                key.proof("POST", HTU, Some("other"), None, NOW),
                "POST",
                "ath is not the SHA-256 of the access token",
            ),
            (
                key.proof("POST", HTU, None, None, NOW),
                "POST",
                "ath is not the SHA-256 of the access token",
            ),
            (
                other.proof("POST", HTU, Some("tok"), None, NOW),
                "POST",
                "the proof's key is not the key the token is bound to (cnf.jkt)",
            ),
        ];
        for (proof, method, error) in cases {
            assert_eq!(
                check(&checker, &key, &proof, method),
                Err(error.to_string())
            );
        }
        assert_eq!(checker.remembered(), 0, "refused proofs are not remembered");
    }

    #[test]
    fn malformed_proofs() {
        let checker = ProofChecker::new(HTU).unwrap();
        let key = ProofKey::generate();
        let good = key.proof("POST", HTU, Some("tok"), None, NOW);
        let (_, rest) = good.split_once('.').unwrap();
        let with_header = |h: Value| format!("{}.{rest}", URL_SAFE_NO_PAD.encode(h.to_string()));
        let jwk = key.jwk();
        let mut private = jwk.clone();
        private["d"] = json!("AAAA");
        let cases = [
            (
                "a.b".to_string(),
                "the proof is not a JWS compact serialization",
            ),
            ("!.b.c".to_string(), "the proof's header is not JSON"),
            (
                with_header(json!({"typ": "JWT", "alg": "ES256", "jwk": jwk})),
                "typ must be dpop+jwt",
            ),
            (
                with_header(json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk})),
                "alg \"none\" is not accepted (ES256 RS256)",
            ),
            (
                with_header(json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk})),
                "alg \"HS256\" is not accepted (ES256 RS256)",
            ),
            (
                with_header(json!({"typ": "dpop+jwt", "alg": "ES256"})),
                "the proof has no jwk",
            ),
            (
                with_header(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private})),
                "the proof's jwk holds private key members",
            ),
            (
                with_header(json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk})),
                "the proof's jwk is not a key for its alg",
            ),
            (
                with_header(
                    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ProofKey::generate().jwk()}),
                ),
                "the proof's signature does not verify with its jwk",
            ),
        ];
        for (proof, error) in cases {
            assert_eq!(
                check(&checker, &key, &proof, "POST"),
                Err(error.to_string()),
                "{proof}"
            );
        }
    }

    #[test]
    fn the_replay_store_is_bounded() {
        let checker = ProofChecker::new(HTU).unwrap();
        let started = std::time::Instant::now();
        for i in 0..(3 * REPLAY_STORE_ENTRIES) {
            checker.remember(&format!("jti-{i}"), NOW).unwrap();
        }
        assert_eq!(checker.remembered(), REPLAY_STORE_ENTRIES);
        // O(1) per proof when full: 300,000 proofs in well under the time an O(n) scan would take.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        // The newest are kept, the oldest evicted.
        assert!(
            checker
                .remember(&format!("jti-{}", 3 * REPLAY_STORE_ENTRIES - 1), NOW)
                .is_err()
        );
        assert!(checker.remember("jti-0", NOW).is_ok());
        // Entries past their window go first.
        checker.remember("late", NOW + 3 * IAT_WINDOW_SECS).unwrap();
        assert_eq!(checker.remembered(), 1);
    }

    #[test]
    fn modes() {
        assert_eq!(DpopMode::parse("required"), Some(DpopMode::Required));
        assert_eq!(DpopMode::parse("yes"), None);
        assert!(metadata_members(DpopMode::Off).is_empty());
        assert_eq!(
            metadata_members(DpopMode::Required),
            vec![
                (
                    "dpop_signing_alg_values_supported",
                    json!(["ES256", "RS256"])
                ),
                ("dpop_bound_access_tokens_required", json!(true)),
            ]
        );
    }
}
