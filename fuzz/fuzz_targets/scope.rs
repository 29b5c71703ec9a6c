//! `auth::identity::parse_scope` on any string. What must hold: every scope is non-empty, holds
//! no space and appears once; joining them with single spaces and parsing again gives the same
//! list (the round trip a server does when it names the scopes in a challenge); and every scope
//! was in the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::auth::identity::parse_scope;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let scopes = parse_scope(raw);
    for (i, s) in scopes.iter().enumerate() {
        assert!(!s.is_empty() && !s.contains(' '), "{s:?}");
        assert!(!scopes[..i].contains(s), "{s:?} twice");
        assert!(
            raw.split(' ').any(|part| part == s),
            "{s:?} not in the input"
        );
    }
    assert_eq!(parse_scope(&scopes.join(" ")), scopes);
});
