//! Step 5: the signing keys — loading, generating, and describing them as a JWK.
//!
//! **Demo only.** `keys/` holds a committed RSA 2048 pair so that the tutorial runs out of the box.
//! Anyone can read that private key: never trust tokens it signs outside this tutorial.
//!
//! The `kid` is the RFC 7638 thumbprint of the public key (SHA-256 over its required members
//! `e`, `kty`, `n`), so it is derived, stable and never typed by hand.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

use crate::http::config::ConfigError;

/// Default location of the demo public key.
pub const DEFAULT_PUBLIC_KEY: &str = "keys/mcp_public_key.pem";
/// Default location of the demo private key.
pub const DEFAULT_PRIVATE_KEY: &str = "keys/mcp_private_key.pem";

/// Selects jsonwebtoken's one crypto backend (aws-lc-rs) for this process. Call it at the start
/// of every program and test that signs or verifies; a second backend switched on by feature
/// unification makes this panic instead of silently changing the hot path.
pub fn install_crypto_provider() {
    let ours = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    if let Err(existing) = ours.install_default() {
        assert!(
            std::ptr::eq(existing, ours),
            "another jsonwebtoken crypto provider is installed"
        );
    }
}

/// `base64url(SHA-256(bytes))`, unpadded.
pub fn sha256_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256(bytes))
}

/// `SHA-256(bytes)`, raw.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// `n` random bytes from the system's secure generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random generator failed");
    buf
}

/// A public RSA key with everything a verifier and a JWKS need.
#[derive(Clone)]
pub struct PublicKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Exponent, base64url without padding.
    pub e: String,
    /// Ready for jsonwebtoken (parsed once, at start).
    pub decoding_key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// From an RSA key.
    pub fn from_rsa(key: &RsaPublicKey) -> Result<Self, String> {
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        Self::from_components(&n, &e)
    }

    /// From JWK members `n` and `e` (base64url).
    pub fn from_components(n: &str, e: &str) -> Result<Self, String> {
        let decoding_key = DecodingKey::from_rsa_components(n, e).map_err(|e| e.to_string())?;
        Ok(Self {
            kid: thumbprint(n, e),
            n: n.to_string(),
            e: e.to_string(),
            decoding_key,
        })
    }

    /// The key as a JWK (RFC 7517) for signature verification with RS256.
    pub fn jwk(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.n, "e": self.e})
    }
}

// ANCHOR: kid_thumbprint
/// RFC 7638 §3: SHA-256 over `{"e":…,"kty":"RSA","n":…}` (members sorted, no spaces).
pub fn thumbprint(n: &str, e: &str) -> String {
    sha256_b64url(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes())
}
// ANCHOR_END: kid_thumbprint

/// A private key ready to sign, with the `kid` of its public half.
#[derive(Clone)]
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public half.
    pub kid: String,
    /// Ready for jsonwebtoken.
    pub encoding_key: EncodingKey,
    /// The public half.
    pub public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn read(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        what,
        path: path.to_path_buf(),
        why: format!(
            "{e} (generate a demo pair with: cargo run --bin generate-token -- --generate-keys; --key and --public-key choose where it goes)"
        ),
    })
}

/// Loads a public key (SPKI `PUBLIC KEY` PEM). A missing or unreadable file stops the program.
pub fn load_public_key(path: &Path) -> Result<PublicKey, ConfigError> {
    let pem = read("public key", path)?;
    let bad = |why: String| ConfigError::File {
        what: "public key",
        path: path.to_path_buf(),
        why,
    };
    if !pem.contains("-----BEGIN") {
        return Err(bad("not an RSA public key in SPKI PEM form: no PEM block (expected -----BEGIN PUBLIC KEY-----)".into()));
    }
    let key = RsaPublicKey::from_public_key_pem(&pem)
        .map_err(|e| bad(format!("not an RSA public key in SPKI PEM form: {e}")))?;
    PublicKey::from_rsa(&key).map_err(bad)
}

/// Loads a private key (PKCS#8 `PRIVATE KEY` PEM).
pub fn load_private_key(path: &Path) -> Result<SigningKey, ConfigError> {
    let pem = read("private key", path)?;
    let bad = |why: String| ConfigError::File {
        what: "private key",
        path: path.to_path_buf(),
        why,
    };
    if !pem.contains("-----BEGIN") {
        return Err(bad("not an RSA private key in PKCS#8 PEM form: no PEM block (expected -----BEGIN PRIVATE KEY-----)".into()));
    }
    let key = RsaPrivateKey::from_pkcs8_pem(&pem)
        .map_err(|e| bad(format!("not an RSA private key in PKCS#8 PEM form: {e}")))?;
    signing_key(&key).map_err(bad)
}

/// Builds a [`SigningKey`] from an RSA private key.
pub fn signing_key(key: &RsaPrivateKey) -> Result<SigningKey, String> {
    let public = PublicKey::from_rsa(&key.to_public_key())?;
    // jsonwebtoken's aws-lc backend takes the RSA key itself (PKCS#1 DER).
    let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(key).map_err(|e| e.to_string())?;
    let encoding_key = EncodingKey::from_rsa_der(der.as_bytes());
    Ok(SigningKey {
        kid: public.kid.clone(),
        encoding_key,
        public,
    })
}

/// Generates a new RSA 2048 pair.
///
/// Note: the `rsa` crate's private-key operations have a known timing side channel
/// (RUSTSEC-2023-0071, "Marvin"). Generating a demo key locally is not exposed to it; a
/// production signer would use a constant-time implementation or an HSM/KMS.
pub fn generate() -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| e.to_string())
}

/// Writes `key` as `private` (PKCS#8 PEM, mode 0600) and `public` (SPKI PEM). Refuses to replace
/// existing files unless `force`.
pub fn write_pair(
    key: &RsaPrivateKey,
    private: &Path,
    public: &Path,
    force: bool,
) -> Result<(), String> {
    for path in [private, public] {
        if path.exists() && !force {
            return Err(format!(
                "{} exists; pass --force to replace it",
                path.display()
            ));
        }
    }
    for path in [private, public] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    write_private(private, private_pem.as_bytes())?;
    std::fs::write(public, public_pem).map_err(|e| format!("{}: {e}", public.display()))?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // `mode` applies only when the file is created: an existing file (replaced with --force)
    // keeps its mode unless it is set here, before the key is written into it.
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // The example key of RFC 7638 §3.1 and its published thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_generated_pair_round_trips_through_pem_files() {
        let dir = std::env::temp_dir().join(format!("keys-test-{}", std::process::id()));
        let (private, public) = (dir.join("p.pem"), dir.join("pub.pem"));
        let key = generate().unwrap();
        write_pair(&key, &private, &public, false).unwrap();
        let err = write_pair(&key, &private, &public, false).unwrap_err();
        assert!(err.contains("pass --force"), "{err}");
        let signing = load_private_key(&private).unwrap();
        let verifying = load_public_key(&public).unwrap();
        assert_eq!(signing.kid, verifying.kid);
        assert_eq!(verifying.jwk()["e"], "AQAB");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // Replacing a key file that is readable by others (0644, as in a fresh clone).
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
            write_pair(&key, &private, &public, true).unwrap();
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "--force leaves the private key 0600");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_and_malformed_key_files_name_the_file() {
        let err = load_public_key(Path::new("/nonexistent/k.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("public key /nonexistent/k.pem:"), "{err}");
        let junk = std::env::temp_dir().join(format!("junk-{}.pem", std::process::id()));
        std::fs::write(&junk, "hello").unwrap();
        let err = load_public_key(&junk).unwrap_err().to_string();
        assert!(err.contains("not an RSA public key"), "{err}");
        std::fs::remove_file(junk).unwrap();
    }
}
