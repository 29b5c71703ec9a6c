//! `OriginGuard::check_origin` on any string, with an allow-list of one origin. What must hold:
//! it never accepts an Origin that an independent model refuses. The model: an origin is
//! accepted only when it is exactly `http://` or `https://`, then a loopback host (`localhost`,
//! `127.0.0.1`, `[::1]`), then nothing or `:` and a port; or exactly the allowed origin.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::http::origin_guard::{GuardArgs, OriginGuard};
use std::sync::OnceLock;

const ALLOWED: &str = "https://app.example.com:8443";

fn guard() -> &'static OriginGuard {
    static GUARD: OnceLock<OriginGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        OriginGuard::from_args(&GuardArgs {
            allow_origins: vec![ALLOWED.into()],
            allow_hosts: vec![],
        })
        .expect("the allow-list is valid")
    })
}

/// The independent model of an acceptable Origin header.
fn model_accepts(value: &str) -> bool {
    if value == ALLOWED {
        return true;
    }
    let Some(rest) = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
    else {
        return false;
    };
    ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
        rest.strip_prefix(host).is_some_and(|port| {
            port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if guard().check_origin(value).is_ok() {
        assert!(model_accepts(value), "accepted Origin {value:?}");
    }
});
