//! `client::challenge::parse_www_authenticate` on whatever a server sends. What must hold: it
//! never panics, and it never returns a scheme, a parameter name or a value that the input does
//! not contain (values compared with quoted-string escapes removed from both).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::client::challenge::parse_www_authenticate;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let lower = value.to_ascii_lowercase();
    let unescaped = value.replace('\\', "");
    for challenge in parse_www_authenticate(value) {
        assert!(!challenge.scheme.is_empty());
        assert!(
            value.contains(&challenge.scheme),
            "scheme {:?}",
            challenge.scheme
        );
        if let Some(t) = &challenge.token68 {
            assert!(value.contains(t.as_str()), "token68 {t:?}");
        }
        for (name, v) in &challenge.params {
            assert!(!name.is_empty());
            assert!(lower.contains(name.as_str()), "param name {name:?}");
            assert!(
                unescaped.contains(&v.replace('\\', "")),
                "value {v:?} of {name}"
            );
        }
    }
});
