//! `OriginGuard::check_host` on any string, with an allow-list of one name and one name:port.
//! What must hold: it never accepts a Host that an independent model refuses. The model: after
//! trimming spaces and tabs, `host` or `host:port` (1 to 5 digits) where host is, ignoring case,
//! a loopback name (`localhost`, `127.0.0.1`, `[::1]`) or the allowed name; or the allowed
//! `name:port` itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::http::origin_guard::{GuardArgs, OriginGuard};
use std::sync::OnceLock;

fn guard() -> &'static OriginGuard {
    static GUARD: OnceLock<OriginGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        OriginGuard::from_args(&GuardArgs {
            allow_origins: vec![],
            allow_hosts: vec!["mcp.example.com".into(), "api.example.com:8443".into()],
        })
        .expect("the allow-list is valid")
    })
}

fn model_accepts(value: &str) -> bool {
    let value = value.trim();
    if value.eq_ignore_ascii_case("api.example.com:8443") {
        return true;
    }
    ["localhost", "127.0.0.1", "[::1]", "mcp.example.com"]
        .iter()
        .any(|host| {
            value.len() >= host.len()
                && value.is_char_boundary(host.len())
                && value[..host.len()].eq_ignore_ascii_case(host)
                && {
                    let port = &value[host.len()..];
                    port.is_empty()
                        || port.strip_prefix(':').is_some_and(|p| {
                            (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
                        })
                }
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if guard().check_host(value).is_ok() {
        assert!(model_accepts(value), "accepted Host {value:?}");
    }
});
