//! Property tests (proptest) of everything that reads untrusted input before a token is trusted:
//! the JSON-RPC parser and dispatcher, the `Authorization` header parser, token validation, and on
//! the client side (step 11) the `WWW-Authenticate` parser and its choice of the `Bearer` or
//! `DPoP` challenge.
//!
//! The properties: no input panics; every body gets a well-formed JSON-RPC answer (or 202 with an
//! empty body) and never a 5xx; every `Authorization` value gets 400 or 401 with an RFC 6750
//! challenge unless it carries a valid token; no string that is not a validly signed token is
//! ever accepted, with or without the verified-token cache; every `WWW-Authenticate` value parses
//! into well-shaped challenges, a well-formed one into exactly the challenges written, and step 11
//! picks the challenge an independent model picks (the first `Bearer` or `DPoP` one with an
//! `error`, else the first `Bearer`, else the first `DPoP`) and its first `scope`, `error` and
//! `resource_metadata`.
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
use mcp_auth_steps::auth::bearer_auth::{
    AuthError, BearerAuth, Challenge, KeySource, TokenValidator, bearer_token,
};
use mcp_auth_steps::auth::identity::{self, Identity};
use mcp_auth_steps::auth::keys::{self, SigningKey};
use mcp_auth_steps::auth::policy::Policy;
use mcp_auth_steps::auth::token::{self, TokenSpec};
use mcp_auth_steps::auth::token_cache::TokenCache;
use mcp_auth_steps::client::authorization::select_scope;
use mcp_auth_steps::client::challenge::{self, BearerChallenge, parse_www_authenticate};
use mcp_auth_steps::mcp::catalog::Catalog;
use mcp_auth_steps::mcp::dispatch::{McpService, Outcome};
use mcp_auth_steps::mcp::jsonrpc::{self, Incoming};
use mcp_auth_steps::mcp::lifecycle::{Era, ServerInfo};
use mcp_auth_steps::{auth::token_cache, mcp::endpoint};
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
        .with_catalog(Catalog::echo().with_tool(identity::whoami_tool()))
        .with_dispatch()
        .with_policy(Policy::new("http://localhost:9000/prm".into()).admin_allows_everything())
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
                    let mut request = axum::http::Extensions::new();
                    if let Some(identity) = &identity {
                        request.insert(std::sync::Arc::new(identity.clone()));
                    }
                    for era in [Era::Legacy, Era::Modern] {
                        let answer = match service.handle(era, &method, params.as_ref(), &request) {
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
                            tally.add(format!(
                                "{} answered error {}",
                                era.as_str(),
                                answer["error"]["code"]
                            ));
                        } else {
                            tally.add(format!("{} answered result", era.as_str()));
                            if era == Era::Modern {
                                prop_assert_eq!(&answer["result"]["resultType"], "complete");
                            }
                        }
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
            let mut router = endpoint::router(step8_service());
            if let Some(identity) = identity {
                router = router.layer(axum::Extension(std::sync::Arc::new(identity)));
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

// ------------------------------------------------------------------ WWW-Authenticate (step 11)

/// Schemes as servers spell them, plus `Bearerx`, which is not Bearer.
const SCHEMES: [&str; 8] = [
    "Bearer",
    "bearer",
    "BEARER",
    "Basic",
    "DPoP",
    "Negotiate",
    "Newauth",
    "Bearerx",
];

/// The parameters step 11 reads, and one it does not.
const PARAM_NAMES: [&str; 6] = [
    "realm",
    "scope",
    "error",
    "error_description",
    "resource_metadata",
    "type",
];

/// Values that matter to step 11 or to the quoted-string grammar.
const PARAM_VALUES: [&str; 10] = [
    "mcp",
    "insufficient_scope",
    "invalid_token",
    "mcp:read mcp:tools",
    "  mcp:read \t mcp:prompts ",
    " ",
    "http://localhost:9000/.well-known/oauth-protected-resource/mcp",
    "a, b=c",
    "say \"hi\" \\ bye",
    "",
];

/// Parameters as step 11 meets them (written with the name in any case).
const STEP11_PARAMS: [(&str, &str); 8] = [
    ("error", "insufficient_scope"),
    ("error", "invalid_token"),
    ("scope", "mcp:read mcp:tools"),
    ("scope", "  mcp:tools\t"),
    ("scope", ""),
    (
        "resource_metadata",
        "http://localhost:9000/.well-known/oauth-protected-resource/mcp",
    ),
    ("error_description", "tools/call requires mcp:tools"),
    ("realm", "mcp"),
];

/// Pieces of challenges, glued in any order by [`arb_fragments`].
const FRAGMENTS: [&str; 27] = [
    "Bearer",
    "bearer",
    "Basic",
    "DPoP",
    "Bearerx",
    "x",
    " ",
    "  ",
    "\t",
    ",",
    ", ",
    "=",
    "==",
    "\"",
    "\\",
    "\\\"",
    "realm",
    "scope",
    "error",
    "resource_metadata",
    "insufficient_scope",
    "abc+/",
    "é",
    "\u{0}",
    ";",
    "(",
    "@",
];

/// A tchar (RFC 9110 §5.6.2).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// An RFC 9110 token.
fn arb_www_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}"
}

/// Letters whose bit is set in `mask` upper-cased.
fn mixed_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if (mask >> (i % 64)) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// A quoted-string holding `value`: `"` and `\` escaped, and every other character whose bit is
/// set in `extra` escaped too (a quoted-pair may escape any character).
fn quote(value: &str, extra: u64) -> String {
    let mut out = String::from('"');
    for (i, c) in value.chars().enumerate() {
        if c == '"' || c == '\\' || (extra >> (i % 64)) & 1 == 1 {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The comma between two list elements, with optional whitespace and empty elements.
fn arb_list_separator() -> impl Strategy<Value = String> {
    "[ \t]{0,2},([ \t]{0,2},){0,2}[ \t]{0,2}"
}

/// One auth-param as written, and what the parser must return for it: the name lower-cased and
/// the value unescaped.
fn arb_auth_param() -> impl Strategy<Value = (String, (String, String))> {
    let mask = || prop_oneof![3 => Just(0u64), 1 => any::<u64>()];
    let name = prop_oneof![
        3 => proptest::sample::select(&PARAM_NAMES[..]).prop_map(String::from),
        1 => arb_www_token(),
    ];
    let value = prop_oneof![
        3 => proptest::sample::select(&PARAM_VALUES[..]).prop_map(String::from),
        2 => ".{0,12}",
        2 => arb_www_token(),
    ];
    let name_value = prop_oneof![
        2 => proptest::sample::select(&STEP11_PARAMS[..])
            .prop_map(|(n, v)| (n.to_string(), v.to_string())),
        3 => (name, value),
    ];
    (
        name_value,
        mask(),
        "[ \t]?",
        "[ \t]?",
        any::<bool>(),
        mask(),
    )
        .prop_map(|((name, value), case, bws1, bws2, bare, escapes)| {
            let name = mixed_case(&name, case);
            let written = if bare && !value.is_empty() && value.chars().all(is_tchar) {
                value.clone()
            } else {
                quote(&value, escapes)
            };
            (
                format!("{name}{bws1}={bws2}{written}"),
                (name.to_ascii_lowercase(), value),
            )
        })
}

/// One well-formed challenge as written, and the [`challenge::Challenge`] it is: a bare scheme,
/// a scheme and a token68, or a scheme and 1–4 auth-params (sometimes after an empty list
/// element).
fn arb_challenge() -> impl Strategy<Value = (String, challenge::Challenge)> {
    let scheme = prop_oneof![
        3 => proptest::sample::select(&SCHEMES[..]).prop_map(String::from),
        1 => arb_www_token(),
    ];
    let space = " [ \t]{0,2}";
    let body = prop_oneof![
        1 => "[ \t]{0,2}".prop_map(|ws| (ws, None, Vec::new())),
        1 => (space, "[A-Za-z0-9._~+/-]{1,20}={0,2}", "[ \t]{0,2}")
            .prop_map(|(sp, t, ws)| (format!("{sp}{t}{ws}"), Some(t), Vec::new())),
        3 => (
            space,
            prop_oneof![3 => Just(""), 1 => Just(", ")],
            proptest::collection::vec(arb_auth_param(), 1..5),
            proptest::collection::vec(arb_list_separator(), 4),
            "[ \t]{0,2}",
        )
            .prop_map(|(sp, empty, params, seps, ws)| {
                let mut text = format!("{sp}{empty}");
                for (i, (written, _)) in params.iter().enumerate() {
                    if i > 0 {
                        text.push_str(&seps[i - 1]);
                    }
                    text.push_str(written);
                }
                text.push_str(&ws);
                (text, None, params.into_iter().map(|(_, p)| p).collect())
            }),
    ];
    (scheme, body).prop_map(|(scheme, (text, token68, params))| {
        (
            format!("{scheme}{text}"),
            challenge::Challenge {
                scheme,
                token68,
                params,
            },
        )
    })
}

/// A well-formed `WWW-Authenticate` field value holding 0–4 challenges, and those challenges.
fn arb_www_field() -> impl Strategy<Value = (String, Vec<challenge::Challenge>)> {
    (
        "[ \t,]{0,3}",
        proptest::collection::vec(arb_challenge(), 0..5),
        proptest::collection::vec(arb_list_separator(), 4),
        "[ \t,]{0,3}",
    )
        .prop_map(|(lead, challenges, seps, trail)| {
            let mut text = lead;
            let mut expected = Vec::new();
            for (i, (written, challenge)) in challenges.into_iter().enumerate() {
                if i > 0 {
                    text.push_str(&seps[i - 1]);
                }
                text.push_str(&written);
                expected.push(challenge);
            }
            text.push_str(&trail);
            (text, expected)
        })
}

/// [`FRAGMENTS`] glued together.
fn arb_fragments() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(&FRAGMENTS[..]), 0..16)
        .prop_map(|parts| parts.concat())
}

/// The `WWW-Authenticate` field values of one response.
#[derive(Debug, Clone)]
enum WwwInput {
    /// Well-formed fields with the challenges each holds, and text to append after a comma.
    WellFormed(Vec<(String, Vec<challenge::Challenge>)>, String),
    /// Anything else: what kind of input, and the field values.
    Other(&'static str, Vec<String>),
}

fn arb_www_input() -> impl Strategy<Value = WwwInput> {
    let fields = |s: BoxedStrategy<String>, kind: &'static str| {
        proptest::collection::vec(s, 1..4).prop_map(move |f| WwwInput::Other(kind, f))
    };
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let cut = (arb_www_field(), any::<prop::sample::Index>())
        .prop_map(move |((text, _), at)| lossy(&text.as_bytes()[..at.index(text.len() + 1)]))
        .boxed();
    let changed = (arb_www_field(), any::<prop::sample::Index>(), any::<u8>())
        .prop_map(move |((text, _), at, byte)| {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            lossy(&bytes)
        })
        .boxed();
    let bytes = proptest::collection::vec(any::<u8>(), 0..80)
        .prop_map(move |b| lossy(&b))
        .boxed();
    prop_oneof![
        6 => (
            proptest::collection::vec(arb_www_field(), 1..4),
            prop_oneof![".{0,20}", arb_fragments()],
        )
            .prop_map(|(fields, junk)| WwwInput::WellFormed(fields, junk)),
        1 => fields(".{0,60}".boxed(), "any text"),
        1 => fields("[ -~]{0,60}".boxed(), "printable ASCII"),
        1 => fields(bytes, "bytes as lossy UTF-8"),
        2 => fields(arb_fragments().boxed(), "fragments"),
        2 => fields(cut, "well-formed, cut short"),
        2 => fields(changed, "well-formed, a byte changed"),
    ]
}

/// Challenges written back in one canonical form: one space after the scheme, every value quoted.
fn render_challenges(challenges: &[challenge::Challenge]) -> String {
    let one = |c: &challenge::Challenge| {
        let mut text = c.scheme.clone();
        if let Some(t) = &c.token68 {
            text.push(' ');
            text.push_str(t);
        } else if !c.params.is_empty() {
            let params: Vec<String> = c
                .params
                .iter()
                .map(|(n, v)| format!("{n}={}", quote(v, 0)))
                .collect();
            text.push(' ');
            text.push_str(&params.join(", "));
        }
        text
    };
    challenges.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// What any parsed challenge looks like, whatever the input: a non-empty token scheme, either a
/// token68 or params, lower-case token names, and nothing that is not in the field.
fn assert_challenge_shape(field: &str, c: &challenge::Challenge) -> Result<(), TestCaseError> {
    prop_assert!(
        !c.scheme.is_empty() && c.scheme.chars().all(is_tchar),
        "scheme {:?} from {:?}",
        c.scheme,
        field
    );
    prop_assert!(field.contains(c.scheme.as_str()));
    if let Some(t) = &c.token68 {
        prop_assert!(c.params.is_empty(), "token68 and params: {:?}", c);
        let body = t.trim_end_matches('=');
        prop_assert!(
            !body.is_empty()
                && body
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-._~+/".contains(ch)),
            "token68 {:?} from {:?}",
            t,
            field
        );
        prop_assert!(field.contains(t.as_str()));
    }
    let lower = field.to_ascii_lowercase();
    for (name, _) in &c.params {
        prop_assert!(
            !name.is_empty()
                && name.chars().all(is_tchar)
                && !name.chars().any(|ch| ch.is_ascii_uppercase()),
            "param name {:?} from {:?}",
            name,
            field
        );
        prop_assert!(lower.contains(name.as_str()));
    }
    Ok(())
}

/// What step 11 must take from the challenges: of the `Bearer` and `DPoP` ones, the first with
/// an `error`, else the first `Bearer`, else the first `DPoP`; the first of each parameter (names
/// are already lower-case here); `dpop` when any `DPoP` challenge is there.
fn expected_bearer(challenges: &[challenge::Challenge]) -> Option<BearerChallenge> {
    let is = |c: &challenge::Challenge, scheme: &str| c.scheme.eq_ignore_ascii_case(scheme);
    let mut with_error = None;
    let mut first_bearer = None;
    let mut first_dpop = None;
    for c in challenges {
        let ours = is(c, "bearer") || is(c, "dpop");
        if ours && with_error.is_none() && c.params.iter().any(|(n, _)| n == "error") {
            with_error = Some(c);
        }
        if is(c, "bearer") && first_bearer.is_none() {
            first_bearer = Some(c);
        }
        if is(c, "dpop") && first_dpop.is_none() {
            first_dpop = Some(c);
        }
    }
    let c = with_error.or(first_bearer).or(first_dpop)?;
    let first = |name: &str| {
        c.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    Some(BearerChallenge {
        error: first("error"),
        error_description: first("error_description"),
        scope: first("scope"),
        resource_metadata: first("resource_metadata"),
        dpop: first_dpop.is_some(),
    })
}

#[test]
fn www_authenticate_parser_is_total_and_reads_back_what_was_written() {
    let tally = Tally::default();
    check("www_authenticate", arb_www_input(), |input| {
        let (kind, fields) = match &input {
            WwwInput::WellFormed(generated, _) => (
                "well-formed",
                generated.iter().map(|(t, _)| t.clone()).collect(),
            ),
            WwwInput::Other(kind, fields) => (*kind, fields.clone()),
        };
        tally.add(format!("input {kind}"));

        // Any input: the shape of every challenge, and one canonical re-writing reads back the
        // same challenges.
        let mut all = Vec::new();
        for field in &fields {
            let parsed = parse_www_authenticate(field);
            for c in &parsed {
                assert_challenge_shape(field, c)?;
            }
            if !field.chars().any(is_tchar) {
                prop_assert!(parsed.is_empty(), "{:?} → {:?}", field, parsed);
            }
            prop_assert_eq!(
                &parse_www_authenticate(&render_challenges(&parsed)),
                &parsed,
                "re-written from {:?}",
                field
            );
            all.extend(parsed);
        }
        tally.add(match all.len() {
            0 => "0 challenges",
            1 => "1 challenge",
            2 | 3 => "2-3 challenges",
            _ => "4+ challenges",
        });
        if all.iter().any(|c| c.token68.is_some()) {
            tally.add("a token68");
        }

        // The selection: of the Bearer and DPoP challenges (any case), the first with an error,
        // else the first Bearer, else the first DPoP; its first params.
        let selected = BearerChallenge::from_header_values(fields.iter().map(String::as_str));
        prop_assert_eq!(&selected, &expected_bearer(&all));
        match &selected {
            None => tally.add("no Bearer or DPoP"),
            Some(b) => {
                tally.add("Bearer or DPoP found");
                if b.dpop {
                    tally.add("a DPoP challenge");
                }
                if b.resource_metadata.is_some() {
                    tally.add("Bearer with resource_metadata");
                }
                if b.scope().is_some() {
                    tally.add("Bearer with a scope");
                }
                if b.is_insufficient_scope() {
                    tally.add("Bearer insufficient_scope");
                }
            }
        }

        let WwwInput::WellFormed(generated, junk) = &input else {
            return Ok(());
        };
        // Round trip: each field gives back exactly the challenges written into it, and so do
        // the fields joined with ", " (one field may carry what several did, RFC 9110 §5.3).
        let mut expected = Vec::new();
        for (text, challenges) in generated {
            prop_assert_eq!(&parse_www_authenticate(text), challenges, "from {:?}", text);
            expected.extend(challenges.iter().cloned());
        }
        let joined = fields.join(", ");
        prop_assert_eq!(&parse_www_authenticate(&joined), &expected);

        // Step 11 finds the challenge the model picks among those written.
        let model = expected_bearer(&expected);
        prop_assert_eq!(&selected, &model);
        prop_assert_eq!(
            &BearerChallenge::from_header_values([joined.as_str()]),
            &model
        );
        if let Some(b) = &model {
            let words: Vec<&str> = b
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let scope = (!words.is_empty()).then(|| words.join(" "));
            prop_assert_eq!(
                select_scope(
                    None,
                    selected.as_ref().and_then(BearerChallenge::scope),
                    &[]
                ),
                scope
            );
            prop_assert_eq!(
                selected
                    .as_ref()
                    .is_some_and(BearerChallenge::is_insufficient_scope),
                b.error.as_deref() == Some("insufficient_scope")
            );
        }

        // Lenient: whatever follows a comma never changes what came before it. The challenges
        // stay; only the last one may gain params.
        let longer = parse_www_authenticate(&format!("{joined}, {junk}"));
        prop_assert!(longer.len() >= expected.len());
        if let Some((last, before)) = expected.split_last() {
            prop_assert_eq!(&longer[..before.len()], before);
            let grown = &longer[before.len()];
            prop_assert_eq!(&grown.scheme, &last.scheme);
            prop_assert_eq!(&grown.token68, &last.token68);
            prop_assert!(
                grown.params.starts_with(&last.params),
                "{:?} after {:?}",
                grown,
                junk
            );
        }
        Ok(())
    });
    tally.print("www_authenticate");
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
                let leeway = mcp_auth_steps::auth::bearer_auth::LEEWAY_SECONDS as f64;
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
    let router: Router = auth.protect(endpoint::router(step8_service()));
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
