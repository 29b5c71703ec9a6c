//! Property tests (proptest) of everything that reads untrusted input before a token is trusted:
//! the JSON-RPC parser and dispatcher, the `Authorization` header parser, and token validation.
//!
//! The properties: no input panics; every body gets a well-formed JSON-RPC answer (or 202 with an
//! empty body) and never a 5xx; every `Authorization` value gets 400 or 401 with an RFC 6750
//! challenge unless it carries a valid token; no string that is not a validly signed token is
//! ever accepted, with or without the verified-token cache.
//!
//! Short run (part of `cargo test`): 2,000 cases per property. Each property prints
//! `property NAME: N cases, 0 failures` (see it with `-- --nocapture`). Long run:
//!
//! ```text
//! PROPTEST_CASES=200000 cargo test --release --test steps properties -- --nocapture
//! ```
//!
//! A failure prints the shrunk input; nothing is written to the repository
//! (`failure_persistence` is off so that a run never leaves files behind).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use mcp_auth_steps::bearer_auth::{
    AuthError, BearerAuth, Challenge, KeySource, TokenValidator, bearer_token,
};
use mcp_auth_steps::catalog::Catalog;
use mcp_auth_steps::dispatch::{McpService, Outcome};
use mcp_auth_steps::identity::Identity;
use mcp_auth_steps::jsonrpc::{self, Incoming};
use mcp_auth_steps::keys::{self, SigningKey};
use mcp_auth_steps::lifecycle::ServerInfo;
use mcp_auth_steps::policy::Policy;
use mcp_auth_steps::token::{self, TokenSpec};
use mcp_auth_steps::token_cache::TokenCache;
use mcp_auth_steps::{mcp_http, token_cache};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const ISSUER: &str = "http://localhost:9000";
const AUDIENCE: &str = "http://localhost:9000/mcp";

/// Cases per property: `PROPTEST_CASES`, else 2,000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Runs one property and reports how many cases ran.
fn check<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    let ran = ran.load(Ordering::Relaxed);
    match result {
        Ok(()) => eprintln!("property {name}: {ran} cases, 0 failures"),
        Err(e) => panic!("property {name} failed after {ran} cases: {e}"),
    }
}

/// How often each kind of outcome came up, so a run shows that the generators reach the deep
/// paths (dispatch, policy, signature checks), not only the first rejection.
#[derive(Default)]
struct Tally(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl Tally {
    fn add(&self, label: impl Into<String>) {
        *self.0.lock().unwrap().entry(label.into()).or_default() += 1;
    }

    fn print(&self, name: &str) {
        let shown: Vec<String> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        eprintln!("property {name} outcomes: {}", shown.join(", "));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The demo key pair (the one `generate-token` uses).
fn demo_key() -> SigningKey {
    keys::install_crypto_provider();
    keys::load_private_key(std::path::Path::new(keys::DEFAULT_PRIVATE_KEY)).unwrap()
}

fn alice_token(key: &SigningKey) -> String {
    let spec = TokenSpec::demo("alice", ISSUER, AUDIENCE).expect("alice is a demo user");
    token::mint(key, &spec).unwrap().0
}

fn step8_service() -> McpService {
    McpService::new(ServerInfo::new("t", "T"))
        .with_catalog(Catalog::echo().with_whoami())
        .with_dispatch()
        .with_policy(Policy::new("http://localhost:9000/prm".into()))
}

// ------------------------------------------------------------------ strategies

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("echo"),
            Just("whoami"),
            Just("echo_prompt"),
            Just("message"),
            Just("repeat_count")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("arguments".to_string()),
                    Just("message".to_string()),
                    Just("repeat_count".to_string()),
                    Just("cursor".to_string()),
                    Just("protocolVersion".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const METHODS: [&str; 10] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "notifications/initialized",
    "server/discover",
    "resources/list",
    "",
];

/// `params` that are often nearly right for `tools/call` / `prompts/get`.
fn arb_params() -> impl Strategy<Value = Value> {
    let arguments = prop_oneof![
        arb_json(),
        (
            ".{0,8}",
            prop_oneof![Just(None), (-3i64..14).prop_map(Some)]
        )
            .prop_map(|(message, repeat)| {
                let mut a = json!({"message": message});
                if let Some(r) = repeat {
                    a["repeat_count"] = r.into();
                }
                a
            }),
    ];
    prop_oneof![
        arb_json(),
        (
            prop_oneof![
                Just("echo"),
                Just("whoami"),
                Just("echo_prompt"),
                Just("nope")
            ],
            arguments
        )
            .prop_map(|(name, arguments)| json!({"name": name, "arguments": arguments})),
        prop_oneof![Just("2025-11-25"), Just("2025-06-18"), Just("1999-01-01")]
            .prop_map(|v| json!({"protocolVersion": v, "capabilities": {}})),
    ]
}

/// A message shaped like JSON-RPC, right or subtly wrong in every member.
fn arb_message() -> impl Strategy<Value = Value> {
    let jsonrpc = prop_oneof![
        12 => Just(Some(json!("2.0"))),
        1 => Just(None),
        1 => Just(Some(json!("1.0"))),
        1 => Just(Some(json!(2.0))),
    ];
    let id = prop_oneof![
        4 => Just(None),
        8 => any::<i64>().prop_map(|i| Some(json!(i))),
        4 => ".{0,6}".prop_map(|s| Some(json!(s))),
        1 => Just(Some(Value::Null)),
        1 => any::<f64>().prop_map(|f| Some(json!(f))),
        1 => any::<bool>().prop_map(|b| Some(json!(b))),
        1 => Just(Some(json!({"a": 1}))),
    ];
    let method = prop_oneof![
        12 => proptest::sample::select(&METHODS[..]).prop_map(|m| Some(json!(m))),
        1 => ".{0,20}".prop_map(|m| Some(json!(m))),
        1 => Just(None),
        1 => Just(Some(json!(42))),
    ];
    let params = prop_oneof![1 => Just(None), 4 => arb_params().prop_map(Some)];
    let reply = prop_oneof![
        12 => Just(None),
        1 => Just(Some(("result", json!({})))),
        1 => Just(Some(("error", json!({"code": 1, "message": "m"})))),
    ];
    (jsonrpc, id, method, params, reply).prop_map(|(jsonrpc, id, method, params, reply)| {
        let mut m = Map::new();
        for (k, v) in [
            ("jsonrpc", jsonrpc),
            ("id", id),
            ("method", method),
            ("params", params),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        }
        if let Some((k, v)) = reply {
            m.insert(k.into(), v);
        }
        Value::Object(m)
    })
}

/// Bodies: raw bytes, JSON-RPC-shaped messages, and those messages cut short or with a byte
/// changed.
fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    let shaped = arb_message()
        .prop_map(|v| serde_json::to_vec(&v).unwrap())
        .boxed();
    prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..256),
        12 => shaped.clone(),
        1 => (shaped.clone(), any::<prop::sample::Index>())
            .prop_map(|(b, cut)| b[..cut.index(b.len() + 1)].to_vec()),
        1 => (shaped, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut b, at, byte)| {
            if !b.is_empty() {
                let i = at.index(b.len());
                b[i] = byte;
            }
            b
        }),
    ]
}

fn arb_identity() -> impl Strategy<Value = Option<Identity>> {
    let scopes = proptest::sample::subsequence(vec!["mcp:read", "mcp:tools", "mcp:prompts"], 0..=3);
    let roles = proptest::sample::subsequence(vec!["user", "admin"], 0..=2);
    prop_oneof![
        1 => Just(None),
        6 => (scopes, roles).prop_map(|(s, r)| Some(Identity {
            username: Some("u".into()),
            scopes: s.into_iter().map(String::from).collect(),
            roles: r.into_iter().map(String::from).collect(),
            ..Identity::default()
        })),
    ]
}

// ------------------------------------------------------------------ JSON-RPC

/// A JSON-RPC answer: an object with `jsonrpc: "2.0"`, an `id` member, and exactly one of
/// `result` / `error` (an error has an integer `code` and a string `message`).
fn assert_answer(value: &Value) -> Result<(), TestCaseError> {
    let object = value
        .as_object()
        .ok_or_else(|| TestCaseError::fail(format!("not an object: {value}")))?;
    prop_assert_eq!(object.get("jsonrpc"), Some(&json!("2.0")));
    prop_assert!(object.contains_key("id"), "no id member: {}", value);
    prop_assert!(
        object.contains_key("result") ^ object.contains_key("error"),
        "{}",
        value
    );
    if let Some(error) = object.get("error") {
        prop_assert!(error["code"].is_i64(), "{}", value);
        prop_assert!(error["message"].is_string(), "{}", value);
    }
    Ok(())
}

#[test]
fn jsonrpc_parse_and_dispatch_answer_every_body() {
    let service = step8_service();
    let tally = Tally::default();
    check(
        "jsonrpc_parse_and_dispatch",
        (arb_body(), arb_identity()),
        |(body, identity)| {
            let parsed = jsonrpc::parse(&body);
            tally.add(match &parsed {
                Err(m) => format!("malformed {}", m.error.code),
                Ok(Incoming::Response) => "response".into(),
                Ok(Incoming::Notification { .. }) => "notification".into(),
                Ok(Incoming::Request { method, .. }) if METHODS.contains(&method.as_str()) => {
                    format!("request {method}")
                }
                Ok(Incoming::Request { .. }) => "request (other method)".into(),
            });
            match parsed {
                Err(malformed) => {
                    prop_assert!(
                        [jsonrpc::PARSE_ERROR, jsonrpc::INVALID_REQUEST]
                            .contains(&malformed.error.code)
                    );
                    assert_answer(&jsonrpc::failure(malformed.id.as_ref(), &malformed.error))?;
                }
                Ok(Incoming::Response | Incoming::Notification { .. }) => {}
                Ok(Incoming::Request { id, method, params }) => {
                    if let Some(p) = &params {
                        prop_assert!(p.is_object() || p.is_array());
                    }
                    let answer = match service.handle(&method, params.as_ref(), identity.as_ref()) {
                        Outcome::Result(result) => {
                            prop_assert!(result.is_object(), "{}", result);
                            jsonrpc::success(&id, result)
                        }
                        Outcome::Error(error) => {
                            prop_assert!(
                                [jsonrpc::METHOD_NOT_FOUND, jsonrpc::INVALID_PARAMS]
                                    .contains(&error.code),
                                "{:?}",
                                error
                            );
                            jsonrpc::failure(Some(&id), &error)
                        }
                        Outcome::Forbidden(denial) => {
                            prop_assert_eq!(denial.error.code, jsonrpc::INSUFFICIENT_SCOPE);
                            prop_assert!(denial.challenge.contains("insufficient_scope"));
                            jsonrpc::failure(Some(&id), &denial.error)
                        }
                    };
                    assert_answer(&answer)?;
                    prop_assert_eq!(&answer["id"], &id.to_value());
                    if answer.get("error").is_some() {
                        tally.add(format!("answered error {}", answer["error"]["code"]));
                    } else {
                        tally.add("answered result");
                    }
                }
            }
            Ok(())
        },
    );
    tally.print("jsonrpc_parse_and_dispatch");
}

#[test]
fn post_mcp_never_answers_5xx_and_always_in_json_rpc() {
    let rt = runtime();
    let tally = Tally::default();
    check(
        "post_mcp_http",
        (arb_body(), arb_identity(), any::<bool>()),
        |(body, identity, with_version)| {
            let mut router = mcp_http::router(step8_service());
            if let Some(identity) = identity {
                router = router.layer(axum::Extension(identity));
            }
            let mut request = Request::post("/mcp")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json, text/event-stream");
            if with_version {
                request = request.header("mcp-protocol-version", "2025-11-25");
            }
            let request = request.body(Body::from(body)).unwrap();
            let (status, headers, bytes) = rt.block_on(async {
                let response = router.oneshot(request).await.unwrap();
                let (parts, body) = response.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                (parts.status, parts.headers, bytes)
            });
            tally.add(format!("HTTP {}", status.as_u16()));
            prop_assert!(
                [200, 202, 400, 403].contains(&status.as_u16()),
                "status {}",
                status
            );
            if status == StatusCode::ACCEPTED {
                prop_assert!(bytes.is_empty());
                return Ok(());
            }
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("body is not JSON: {e}")))?;
            assert_answer(&value)?;
            match status.as_u16() {
                400 => prop_assert!(value.get("error").is_some()),
                403 => {
                    prop_assert_eq!(&value["error"]["code"], &json!(jsonrpc::INSUFFICIENT_SCOPE));
                    let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
                    prop_assert!(challenge.contains("error=\"insufficient_scope\""));
                }
                _ => prop_assert!(!value["id"].is_null()),
            }
            Ok(())
        },
    );
    tally.print("post_mcp_http");
}

// ------------------------------------------------------------------ Authorization header

fn arb_header_value() -> impl Strategy<Value = String> {
    let token = "[A-Za-z0-9._~+/=-]{0,40}";
    prop_oneof![
        ".{0,60}",
        "[ -~]{0,60}",
        (
            prop_oneof![
                Just("Bearer"),
                Just("bearer"),
                Just("BEARER"),
                Just("Basic"),
                Just("Bearerx"),
                Just("")
            ],
            "[ \t]{0,3}",
            token,
            "[ \t]{0,3}",
            prop_oneof![Just(""), Just(" extra"), Just(" a b")],
        )
            .prop_map(|(s, sp1, t, sp2, tail)| format!("{s}{sp1}{t}{sp2}{tail}")),
    ]
}

#[test]
fn authorization_header_parser_never_panics_and_is_strict() {
    check(
        "bearer_token",
        proptest::collection::vec(arb_header_value(), 0..3),
        |values| {
            let mut headers = axum::http::HeaderMap::new();
            for v in &values {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.append(header::AUTHORIZATION, v);
                }
            }
            let count = headers.get_all(header::AUTHORIZATION).iter().count();
            match bearer_token(&headers) {
                Ok(token) => {
                    prop_assert_eq!(count, 1);
                    prop_assert!(!token.is_empty());
                    prop_assert!(!token.contains(' '));
                    let value = headers[header::AUTHORIZATION].to_str().unwrap();
                    let mut words = value.split(' ').filter(|w| !w.is_empty());
                    prop_assert!(words.next().unwrap().eq_ignore_ascii_case("bearer"));
                    prop_assert_eq!(words.next(), Some(token));
                    prop_assert_eq!(words.next(), None);
                }
                Err(AuthError::Missing) => prop_assert!(count <= 1),
                Err(AuthError::InvalidRequest(_)) => {}
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
            Ok(())
        },
    );
}

// ------------------------------------------------------------------ token validation

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Token-like strings: anything, JWT-shaped with hostile headers, and a real token mutated.
fn arb_token(valid: String, kid: String) -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        Just(json!("RS256")),
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("RS512")),
        Just(json!("PS256")),
        Just(json!("ES256")),
        Just(json!(null)),
        Just(json!(256)),
        Just(json!("rs256")),
    ];
    let kid = prop_oneof![
        Just(json!(kid)),
        Just(Value::Null),
        Just(json!(7)),
        "[a-zA-Z0-9_-]{0,43}".prop_map(Value::from),
    ];
    let shaped = (
        alg,
        kid,
        arb_json(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(alg, kid, payload, signature)| {
            let mut header = json!({"typ": "JWT", "alg": alg});
            if !kid.is_null() {
                header["kid"] = kid;
            }
            format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(payload.to_string().as_bytes()),
                b64(&signature)
            )
        });
    let mutated = (
        any::<prop::sample::Index>(),
        prop_oneof![
            proptest::char::range('A', 'Z'),
            proptest::char::range('a', 'z'),
            proptest::char::range('0', '9'),
            Just('-'),
            Just('_'),
            Just('.'),
            Just('='),
            Just('+'),
            Just('é'),
        ],
        0u8..3,
    )
        .prop_map(move |(at, c, how)| {
            let mut chars: Vec<char> = valid.chars().collect();
            let i = at.index(chars.len());
            match how {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => chars.truncate(i),
            }
            chars.into_iter().collect::<String>()
        });
    prop_oneof![
        1 => ".{0,200}",
        1 => "[A-Za-z0-9._-]{0,400}",
        3 => shaped,
        4 => mutated,
    ]
}

#[test]
fn no_unsigned_or_altered_token_is_ever_accepted() {
    let key = demo_key();
    let valid = alice_token(&key);
    let keys = KeySource::Local(Arc::new(key.public.clone()));
    let validator = TokenValidator::new(keys, ISSUER, AUDIENCE);
    let cache = TokenCache::new(64);
    let rt = runtime();
    // The genuine token, verified once: from now on it sits in the cache.
    assert!(
        rt.block_on(validator.validate_cached(&valid, &cache))
            .is_ok()
    );
    let tally = Tally::default();
    check(
        "token_validation",
        arb_token(valid.clone(), key.kid.clone()),
        |candidate| {
            let (plain, cached) = rt.block_on(async {
                (
                    validator.validate(&candidate).await,
                    validator.validate_cached(&candidate, &cache).await,
                )
            });
            if candidate == valid {
                prop_assert!(plain.is_ok() && cached.is_ok());
                return Ok(());
            }
            for result in [plain, cached] {
                match result {
                    Err(AuthError::InvalidToken(reason)) => {
                        tally.add(reason.clone());
                        prop_assert!(!reason.is_empty());
                        prop_assert!(!reason.contains(&candidate) || candidate.len() < 8);
                    }
                    other => prop_assert!(false, "{:?} for {:?}", other, candidate),
                }
            }
            Ok(())
        },
    );
    tally.print("token_validation (plain + cached)");
    assert_eq!(
        cache.stats().entries,
        1,
        "only the genuine token was cached"
    );
}

/// Claims signed with the right key but arbitrary in content: accepted only when they satisfy
/// every rule; never a panic.
#[test]
fn signed_tokens_are_accepted_only_when_every_claim_checks_out() {
    let key = demo_key();
    let keys = KeySource::Local(Arc::new(key.public.clone()));
    let validator = TokenValidator::new(keys, ISSUER, AUDIENCE);
    let rt = runtime();
    let now = token::now();
    // Each claim is right most of the time, so that accepted tokens are a good share of the
    // cases and every rule gets to be the one that refuses.
    let time = |right: i64| {
        prop_oneof![
            2 => Just(None),
            12 => (-90i64..90).prop_map(move |d| Some(json!(now + right + d))),
            4 => (-7200i64..7200).prop_map(move |d| Some(json!(now + d))),
            1 => Just(Some(json!("soon"))),
            1 => Just(Some(json!(1.5))),
            1 => Just(Some(json!(-1))),
            1 => (0.0f64..2.0).prop_map(move |f| Some(json!(now as f64 + right as f64 + f))),
        ]
    };
    let iss = prop_oneof![
        1 => Just(None),
        12 => Just(Some(json!(ISSUER))),
        1 => Just(Some(json!("http://localhost:9000/"))),
        1 => Just(Some(json!(["http://localhost:9000"]))),
        1 => Just(Some(json!("HTTP://localhost:9000"))),
    ];
    let aud = prop_oneof![
        1 => Just(None),
        8 => Just(Some(json!(AUDIENCE))),
        4 => Just(Some(json!([AUDIENCE, "other"]))),
        1 => Just(Some(json!("other"))),
        1 => Just(Some(json!([]))),
        1 => Just(Some(json!(3))),
        1 => Just(Some(json!("http://localhost:9000/mcp/"))),
    ];
    // Signing is the slow part (RSA private-key operation): a quarter of the cases.
    let config_cases = (cases() / 4).max(1);
    let strategy = (time(600), time(-600), time(-600), iss, aud, arb_json());
    let mut runner = TestRunner::new(Config {
        cases: config_cases,
        failure_persistence: None,
        ..Config::default()
    });
    let ran = AtomicU64::new(0);
    let tally = Tally::default();
    let result = runner.run(&strategy, |(exp, nbf, iat, iss, aud, scope)| {
        ran.fetch_add(1, Ordering::Relaxed);
        let mut claims = Map::new();
        for (k, v) in [
            ("exp", exp),
            ("nbf", nbf),
            ("iat", iat),
            ("iss", iss),
            ("aud", aud),
            ("scope", Some(scope)),
        ] {
            if let Some(v) = v {
                claims.insert(k.into(), v);
            }
        }
        let claims = Value::Object(claims);
        let signed = token::sign(&key, &claims).unwrap();
        // The validator reads the clock itself: bound its "now" by readings around the call.
        let before = token::now() as f64;
        let outcome = rt.block_on(validator.validate(&signed));
        let after = token::now() as f64;
        tally.add(match &outcome {
            Ok(_) => "accepted".to_string(),
            Err(AuthError::InvalidToken(reason)) => reason.clone(),
            Err(other) => format!("{other:?}"),
        });
        match outcome {
            Ok(_) => {
                let leeway = mcp_auth_steps::bearer_auth::LEEWAY_SECONDS as f64;
                let exp = claims["exp"].as_f64();
                prop_assert!(exp.is_some_and(|e| e + leeway >= before), "{}", claims);
                prop_assert_eq!(&claims["iss"], &json!(ISSUER));
                let aud = &claims["aud"];
                prop_assert!(
                    aud == &json!(AUDIENCE)
                        || aud.as_array().is_some_and(|a| a.contains(&json!(AUDIENCE))),
                    "{}",
                    claims
                );
                if let Some(nbf) = claims.get("nbf") {
                    // A NumericDate may be fractional (RFC 7519 §2).
                    prop_assert!(
                        nbf.as_f64().is_some_and(|n| n <= after + leeway),
                        "{}",
                        claims
                    );
                }
                if let Some(iat) = claims.get("iat") {
                    prop_assert!(iat.as_f64().is_some_and(|i| i <= after + leeway));
                }
            }
            Err(AuthError::InvalidToken(_)) => {}
            Err(other) => prop_assert!(false, "{:?}", other),
        }
        Ok(())
    });
    let ran = ran.load(Ordering::Relaxed);
    match result {
        Ok(()) => {
            eprintln!("property signed_token_claims: {ran} cases, 0 failures");
            tally.print("signed_token_claims");
        }
        Err(e) => panic!("property signed_token_claims failed after {ran} cases: {e}"),
    }
}

/// Over HTTP: any `Authorization` header on a protected route → 400 or 401 with a challenge and
/// a JSON error body; never 5xx, never through to the handler.
#[test]
fn protected_route_answers_every_authorization_header_with_rfc6750() {
    let key = demo_key();
    let valid = alice_token(&key);
    let keys = KeySource::Local(Arc::new(key.public.clone()));
    let auth = BearerAuth::new(TokenValidator::new(keys, ISSUER, AUDIENCE))
        .with_challenge(Challenge::default())
        .with_token_cache(Arc::new(TokenCache::new(token_cache::DEFAULT_CAPACITY)));
    let router: Router = auth.protect(mcp_http::router(step8_service()));
    let rt = runtime();
    let values = prop_oneof![
        arb_header_value(),
        arb_token(valid.clone(), key.kid.clone()).prop_map(|t| format!("Bearer {t}")),
    ];
    let tally = Tally::default();
    check("authorization_http", values, |value| {
        let Ok(header_value) = HeaderValue::from_str(&value) else {
            tally.add("skipped: not a legal header value");
            return Ok(());
        };
        if value.split(' ').filter(|w| !w.is_empty()).nth(1) == Some(valid.as_str())
            && value.split(' ').filter(|w| !w.is_empty()).count() == 2
        {
            tally.add("skipped: the genuine token");
            return Ok(());
        }
        let request = Request::post("/mcp")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, header_value)
            .body(Body::from(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#))
            .unwrap();
        let (status, headers, bytes) = rt.block_on(async {
            let response = router.clone().oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            (parts.status, parts.headers, bytes)
        });
        tally.add(format!("HTTP {}", status.as_u16()));
        prop_assert!(
            [400, 401].contains(&status.as_u16()),
            "{} for {:?}",
            status,
            value
        );
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        prop_assert!(challenge.starts_with("Bearer realm=\"mcp\""));
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert!(body["error"].is_string());
        if status == StatusCode::BAD_REQUEST {
            prop_assert_eq!(&body["error"], &json!("invalid_request"));
        }
        Ok(())
    });
    tally.print("authorization_http");
}
