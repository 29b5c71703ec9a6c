//! The DPoP proof check (`auth::dpop::ProofChecker::check`, RFC 9449 §4.3) on any string sent as
//! the `DPoP` header, for a token bound to one fixed key. What must hold: whatever it accepts,
//! read again here without its code, is a three-part JWS whose header has `typ` `dpop+jwt`, an
//! accepted `alg` and a public `jwk` with the bound thumbprint, and whose claims have `htm`
//! POST, `htu` the resource's URL (query and fragment aside), `ath` the token's SHA-256 and a
//! non-empty `jti`. The clock is set to the proof's own `iat`, so the acceptance path stays
//! reachable from the seeds whenever the fuzzer runs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::auth::dpop::{PROOF_ALGS, ProofChecker, ProofRequest};
use mcp_auth_steps::auth::keys::sha256_b64url;
use mcp_auth_steps::auth::token::decode_unverified;

const HTU: &str = "http://localhost:9000/mcp";
const TOKEN: &str = "fuzz-access-token";
/// The thumbprint of the key the seeds were signed with (`examples/dpop_proof.rs KEY --jkt`; that
/// key was not kept).
const JKT: &str = include_str!("../seeds/dpop_proof.jkt").trim_ascii();

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = std::str::from_utf8(data) else {
        return;
    };
    // Read here without the checker's code (a proof it accepts has no surrounding spaces, so the
    // trim in `decode_unverified` changes nothing for those).
    let read = decode_unverified(proof).ok();
    let now = read
        .as_ref()
        .and_then(|(_, c)| c["iat"].as_i64())
        .unwrap_or(0);
    let checker = ProofChecker::new(HTU).expect("a valid htu");
    let request = ProofRequest {
        method: "POST",
        proof,
        token: TOKEN,
        jkt: JKT,
    };
    match checker.check(request, now) {
        Ok(()) => {
            assert_eq!(proof.split('.').count(), 3);
            let (header, claims) = read.expect("an accepted proof has a JSON header and claims");
            assert_eq!(header["typ"], "dpop+jwt");
            assert!(PROOF_ALGS.contains(&header["alg"].as_str().unwrap_or("")));
            let jwk = &header["jwk"];
            assert!(jwk.get("d").is_none());
            assert_eq!(
                mcp_auth_steps::auth::dpop::jwk_thumbprint(jwk).as_deref(),
                Some(JKT)
            );
            assert_eq!(claims["htm"], "POST");
            let htu = claims["htu"].as_str().expect("htu");
            assert_eq!(htu.split(['?', '#']).next(), Some(HTU));
            assert_eq!(claims["ath"], sha256_b64url(TOKEN.as_bytes()).as_str());
            assert!(!claims["jti"].as_str().unwrap_or("").is_empty());
        }
        Err(why) => assert!(!why.is_empty()),
    }
});
