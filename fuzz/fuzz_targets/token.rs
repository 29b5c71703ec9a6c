//! The access-token check (`auth::bearer_auth::TokenValidator::verify`, steps 6-10) on any
//! string, differential: it never accepts a token that `jsonwebtoken::decode` refuses with the
//! same key (the step 5 demo key), issuer, audience, algorithm, leeway and required claims. It
//! checks the header and `iat` itself before and after that decode; whatever it accepts must
//! have passed the reference check too, and carry the claims the identity is made of.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::auth::bearer_auth::{KeySource, LEEWAY_SECONDS, TokenValidator};
use mcp_auth_steps::auth::keys;
use std::sync::{Arc, OnceLock};

const ISSUER: &str = "http://localhost:9000";
const AUDIENCE: &str = "http://localhost:9000/mcp";
const PUBLIC_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/mcp_public_key.pem");

struct Checkers {
    ours: TokenValidator,
    reference_key: jsonwebtoken::DecodingKey,
    reference: jsonwebtoken::Validation,
    runtime: tokio::runtime::Runtime,
}

fn checkers() -> &'static Checkers {
    static CHECKERS: OnceLock<Checkers> = OnceLock::new();
    CHECKERS.get_or_init(|| {
        keys::install_crypto_provider();
        let key = keys::load_public_key(std::path::Path::new(PUBLIC_KEY)).expect("demo key");
        let ours = TokenValidator::new(KeySource::Local(Arc::new(key)), ISSUER, AUDIENCE);
        let pem = std::fs::read(PUBLIC_KEY).expect("demo key");
        let mut reference = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        reference.leeway = LEEWAY_SECONDS;
        reference.set_issuer(&[ISSUER]);
        reference.set_audience(&[AUDIENCE]);
        reference.set_required_spec_claims(&["exp", "iss", "aud"]);
        Checkers {
            ours,
            reference_key: jsonwebtoken::DecodingKey::from_rsa_pem(&pem).expect("demo key"),
            reference,
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let c = checkers();
    if let Ok(verified) = c.runtime.block_on(c.ours.verify(token)) {
        let reference =
            jsonwebtoken::decode::<serde_json::Value>(token, &c.reference_key, &c.reference);
        let claims = match reference {
            Ok(data) => data.claims,
            Err(e) => panic!("accepted a token the reference refuses: {e:?}"),
        };
        assert_eq!(claims["iss"], ISSUER);
        assert!(verified.exp >= claims["exp"].as_f64().unwrap_or(f64::MAX).floor() as i64 - 1);
        if let Some(sub) = claims["sub"].as_str() {
            assert_eq!(verified.identity.subject.as_deref(), Some(sub));
        }
    }
});
