//! Step 10's judgement of an RFC 7662 introspection answer (`keycloak::introspection::
//! Introspector::judge`) on any JSON. What must hold: it accepts only an answer that is
//! `active: true`, from the expected issuer, for the expected audience (a string or in an array),
//! not expired, and of token type Bearer; and the identity it makes names the answer's `sub`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::keycloak::introspection::{IntrospectionSettings, Introspector};
use serde_json::Value;
use std::sync::OnceLock;

const ISSUER: &str = "http://kc/realms/r";
const AUDIENCE: &str = "http://localhost:9000/mcp";
const NOW: u64 = 1_000;

fn introspector() -> &'static Introspector {
    static ONE: OnceLock<Introspector> = OnceLock::new();
    ONE.get_or_init(|| {
        Introspector::new(
            ISSUER,
            AUDIENCE,
            "echo-mcp-server",
            IntrospectionSettings {
                client_id: "echo-mcp-server".into(),
                client_secret: "fuzz-not-a-secret".into(),
                ttl: std::time::Duration::from_secs(10),
                max_entries: 16,
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok((identity, exp)) = introspector().judge(&answer, NOW) {
        assert_eq!(answer["active"], Value::Bool(true));
        assert_eq!(answer["iss"], ISSUER);
        let aud_ok = match &answer["aud"] {
            Value::String(one) => one == AUDIENCE,
            Value::Array(many) => many.iter().any(|a| a == AUDIENCE),
            _ => false,
        };
        assert!(aud_ok, "audience {:?}", answer["aud"]);
        assert!(exp > NOW && answer["exp"].as_u64() == Some(exp));
        let kind = answer["token_type"]
            .as_str()
            .or(answer["typ"].as_str())
            .unwrap_or("");
        assert!(kind.eq_ignore_ascii_case("bearer"));
        assert_eq!(identity.subject.as_deref(), answer["sub"].as_str());
    }
});
