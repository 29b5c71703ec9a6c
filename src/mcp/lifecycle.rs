//! Steps 2–11: the MCP lifecycle and its two eras.
//!
//! The era is a property of each request (MCP 2026-07-28, "Basic › Versioning › Backward
//! Compatibility"). A request whose `MCP-Protocol-Version` header is `2026-07-28` is **modern**:
//! it carries its version and capabilities in `params._meta`, mirrors `method` (and the tool or
//! prompt name) in the `Mcp-Method` / `Mcp-Name` headers, and needs no handshake. A request
//! without the header, or with a legacy version, is **legacy** and is served as 2025-11-25 and
//! earlier describe (`initialize`, `ping`). Everything that depends on the revision lives here:
//! the endpoint asks [`classify`] one question per request, the dispatcher asks [`has_method`]
//! and [`complete`] for the modern shape of a result.
//!
//! | modern request | HTTP | JSON-RPC |
//! |---|---|---|
//! | `_meta` not an object, or without `…/protocolVersion` / `…/clientCapabilities` | 400 | -32602, naming the missing keys |
//! | `_meta` protocol version ≠ the header | 400 | -32020 |
//! | `Mcp-Method` missing, repeated or ≠ `method` | 400 | -32020 |
//! | `Mcp-Name` missing, repeated or ≠ `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`), after decoding `=?base64?…?=` | 400 | -32020 |
//! | `initialize`, `ping`, `logging/setLevel`, or a method nobody has | 404 | -32601 |
//! | notification | 202 | none (this revision defines no headers for them) |
//! | `Mcp-Session-Id`, `Last-Event-ID` | ignored | |
//!
//! Every version or header refusal uses the modern codes (-32022, -32020), in both eras: they are
//! what a modern client recognises, and anything else in a 400 makes it fall back to `initialize`.

use axum::http::{HeaderMap, HeaderName, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::mcp::jsonrpc::{self, RpcError};

/// The stateless revision: per-request `_meta`, `server/discover`, no `initialize`.
pub const MODERN_VERSION: &str = "2026-07-28";

/// The handshake revisions we serve through `initialize`, newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// Every revision this server speaks, newest first (`server/discover`'s `supportedVersions` and
/// the `supported` list of a -32022 error).
pub const SUPPORTED_VERSIONS: [&str; 4] = [
    MODERN_VERSION,
    LEGACY_VERSIONS[0],
    LEGACY_VERSIONS[1],
    LEGACY_VERSIONS[2],
];

/// What `initialize` answers when the client asks for a revision it cannot negotiate.
pub const LATEST_LEGACY_VERSION: &str = LEGACY_VERSIONS[0];

/// `_meta` key: the request's protocol version (modern era; equal to the header).
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: the client's capabilities (modern era; required).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: the client's name and version (modern era; optional, logged, never trusted).
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of every modern result: our name and version.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// The header that selects the era.
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// Modern era: mirrors `method`.
pub const METHOD_HEADER: &str = "mcp-method";
/// Modern era: mirrors `params.name` / `params.uri` of the methods in [`NAME_PARAM`].
pub const NAME_HEADER: &str = "mcp-name";

/// The methods whose target is mirrored in `Mcp-Name`, and the param that holds it.
pub const NAME_PARAM: [(&str, &str); 3] = [
    ("tools/call", "name"),
    ("prompts/get", "name"),
    ("resources/read", "uri"),
];

/// Legacy methods the modern revision removed: there they are unknown (404, -32601).
pub const REMOVED_METHODS: [&str; 3] = ["initialize", "ping", "logging/setLevel"];

/// How long a client may reuse a list or discover answer: the catalog never changes while the
/// server runs, so an hour.
pub const LIST_TTL_MS: u64 = 3_600_000;

/// Which revision a request is served under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25 and earlier: `initialize`, `ping`, plain results.
    Legacy,
    /// 2026-07-28: stateless, `_meta` on every request and result.
    Modern,
}

impl Era {
    /// `"legacy"` or `"modern"`, for the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Legacy => "legacy",
            Era::Modern => "modern",
        }
    }
}

/// Who may cache a modern list result (`cacheScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheScope {
    /// The answer is the same for everyone (steps 2–5).
    Public,
    /// The answer is for this caller only (step 6 on: it depends on who asks).
    Private,
}

impl CacheScope {
    fn as_str(self) -> &'static str {
        match self {
            CacheScope::Public => "public",
            CacheScope::Private => "private",
        }
    }
}

/// The era of one message, and the name its client gave (`clientInfo.name`), for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The era the message is served under.
    pub era: Era,
    /// `clientInfo.name` (legacy: `initialize`'s params; modern: `_meta`), at most 64 characters.
    pub client: Option<String>,
}

/// A message refused before its method runs: the HTTP status and the JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// 400.
    pub status: StatusCode,
    /// -32022, -32020 or -32602.
    pub error: RpcError,
    /// The era the header asked for, when it named one we speak (for the log line).
    pub era: Option<Era>,
}

impl Refusal {
    fn new(code: i64, message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: RpcError::new(code, message),
            era: None,
        }
    }
}

/// The endpoint's one question: under which era is this message served, or why is it refused?
/// `is_request` is false for a notification.
// ANCHOR: classify_era
pub fn classify(
    headers: &HeaderMap,
    method: &str,
    params: Option<&Value>,
    is_request: bool,
) -> Result<Served, Refusal> {
    let version = match single(headers, VERSION_NAME) {
        Header::Absent => None,
        Header::Several => {
            return Err(Refusal::new(
                jsonrpc::HEADER_MISMATCH,
                "Header mismatch: MCP-Protocol-Version was sent more than once".into(),
            ));
        }
        Header::Value(v) => Some(v.trim()),
        Header::NotText => Some("(not ASCII)"),
    };
    match version {
        None => Ok(legacy(method, params)),
        Some(v) if LEGACY_VERSIONS.contains(&v) => Ok(legacy(method, params)),
        Some(MODERN_VERSION) if !is_request => Ok(Served {
            era: Era::Modern,
            client: None,
        }),
        Some(MODERN_VERSION) => modern(headers, method, params).map_err(|mut refusal| {
            refusal.era = Some(Era::Modern);
            refusal
        }),
        Some(v) => Err(unsupported(v)),
    }
}
// ANCHOR_END: classify_era

/// -32022 with `data: {"supported": […], "requested": …}`.
pub fn unsupported(requested: &str) -> Refusal {
    let shown: String = requested.chars().take(64).collect();
    let mut refusal = Refusal::new(
        jsonrpc::UNSUPPORTED_VERSION,
        format!(
            "Unsupported protocol version {shown:?}; supported: {}",
            SUPPORTED_VERSIONS.join(", ")
        ),
    );
    refusal.error = refusal
        .error
        .with_data(json!({"supported": SUPPORTED_VERSIONS, "requested": shown}));
    refusal
}

fn legacy(method: &str, params: Option<&Value>) -> Served {
    let client = match method {
        "initialize" => params.and_then(|p| client_name(p.get("clientInfo"))),
        _ => None,
    };
    Served {
        era: Era::Legacy,
        client,
    }
}

fn client_name(info: Option<&Value>) -> Option<String> {
    let name = info?.get("name")?.as_str()?;
    Some(name.chars().take(64).collect())
}

/// The checks of a modern request, in the order a client can act on them: the `_meta` envelope
/// (-32602), then each mirrored header against the body (-32020).
fn modern(headers: &HeaderMap, method: &str, params: Option<&Value>) -> Result<Served, Refusal> {
    let meta = params
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object);
    let Some(meta) = meta else {
        return Err(Refusal::new(
            jsonrpc::INVALID_PARAMS,
            format!(
                "params._meta must be an object carrying {META_PROTOCOL_VERSION} and \
                 {META_CLIENT_CAPABILITIES} (MCP 2026-07-28)"
            ),
        ));
    };
    let missing: Vec<&str> = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES]
        .into_iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::new(
            jsonrpc::INVALID_PARAMS,
            format!("params._meta is missing {}", missing.join(" and ")),
        ));
    }
    if !meta[META_CLIENT_CAPABILITIES].is_object() {
        return Err(Refusal::new(
            jsonrpc::INVALID_PARAMS,
            format!("params._meta[{META_CLIENT_CAPABILITIES:?}] must be an object"),
        ));
    }
    if meta[META_PROTOCOL_VERSION].as_str() != Some(MODERN_VERSION) {
        return Err(mismatch(format!(
            "MCP-Protocol-Version header {MODERN_VERSION:?} does not match \
             _meta[{META_PROTOCOL_VERSION:?}] {}",
            shown(&meta[META_PROTOCOL_VERSION])
        )));
    }
    match single(headers, METHOD_NAME) {
        Header::Value(v) if v == method => {}
        Header::Value(v) => {
            return Err(mismatch(format!(
                "Mcp-Method header {} does not match method {}",
                shown(&v.into()),
                shown(&method.into())
            )));
        }
        other => return Err(mismatch(other.problem("Mcp-Method"))),
    }
    let named = NAME_PARAM.iter().find(|(m, _)| *m == method);
    if let Some((_, key)) = named {
        // A name that is absent or not a string is the method's own -32602, not a header error.
        if let Some(body) = params.and_then(|p| p.get(*key)).and_then(Value::as_str) {
            match single(headers, NAME_NAME) {
                Header::Value(v) => match decode_name(v) {
                    Some(decoded) if decoded == body => {}
                    Some(decoded) => {
                        return Err(mismatch(format!(
                            "Mcp-Name header {} does not match params.{key} {}",
                            shown(&decoded.into()),
                            shown(&body.into())
                        )));
                    }
                    None => {
                        return Err(mismatch(
                            "Mcp-Name header is not valid =?base64?…?= (canonical base64 of UTF-8)"
                                .into(),
                        ));
                    }
                },
                other => return Err(mismatch(other.problem("Mcp-Name"))),
            }
        }
    }
    Ok(Served {
        era: Era::Modern,
        client: client_name(meta.get(META_CLIENT_INFO)),
    })
}

fn mismatch(detail: String) -> Refusal {
    Refusal::new(
        jsonrpc::HEADER_MISMATCH,
        format!("Header mismatch: {detail}"),
    )
}

/// A JSON value for an error message, cut to 64 characters.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 64 {
        format!("{}…", text.chars().take(64).collect::<String>())
    } else {
        text
    }
}

/// One header, as the checks need to tell its cases apart.
enum Header<'a> {
    Absent,
    Several,
    NotText,
    Value(&'a str),
}

impl Header<'_> {
    fn problem(&self, name: &str) -> String {
        match self {
            Header::Absent => format!("the {name} header is required (MCP 2026-07-28)"),
            Header::Several => format!("{name} was sent more than once"),
            Header::NotText => {
                format!("{name} holds characters outside visible ASCII; use =?base64?…?=")
            }
            Header::Value(_) => unreachable!("a present value is compared, not refused"),
        }
    }
}

/// The three header names, parsed once (a `&str` name is parsed again on every lookup).
const VERSION_NAME: HeaderName = HeaderName::from_static(VERSION_HEADER);
const METHOD_NAME: HeaderName = HeaderName::from_static(METHOD_HEADER);
const NAME_NAME: HeaderName = HeaderName::from_static(NAME_HEADER);

fn single(headers: &HeaderMap, name: HeaderName) -> Header<'_> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Header::Absent,
        (Some(_), Some(_)) => Header::Several,
        (Some(v), None) => v.to_str().map_or(Header::NotText, Header::Value),
    }
}

/// The value of `Mcp-Name`: verbatim, or the UTF-8 inside the `=?base64?…?=` sentinel. A sentinel
/// whose payload is not canonical base64 of UTF-8 is `None`: it can never match a body value.
pub fn decode_name(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_string());
    };
    let bytes = STANDARD.decode(payload).ok()?;
    if STANDARD.encode(&bytes) != payload {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// The HTTP status of a JSON-RPC error a method returned: 200 (the exchange worked), except a
/// modern request for a method the server does not have, which is 404 (2026-07-28, "Streamable
/// HTTP › Protocol Version Header": the server "MUST respond with 404 Not Found").
pub fn error_status(era: Era, error: &RpcError) -> StatusCode {
    match era {
        Era::Modern if error.code == jsonrpc::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// Does the modern revision have this method? (`initialize`, `ping` and `logging/setLevel` were
/// removed; everything else is up to the step's catalog.)
pub fn has_method(era: Era, method: &str) -> bool {
    match era {
        Era::Legacy => method != "server/discover",
        Era::Modern => !REMOVED_METHODS.contains(&method),
    }
}

/// `server/discover` (modern era): the versions, capabilities and instructions; [`complete`] adds
/// `resultType`, the cache hints and `serverInfo`.
pub fn discover(info: &ServerInfo, capabilities: Map<String, Value>) -> Value {
    let mut result = Map::new();
    result.insert("supportedVersions".into(), json!(SUPPORTED_VERSIONS));
    result.insert("capabilities".into(), Value::Object(capabilities));
    if let Some(text) = &info.instructions {
        result.insert("instructions".into(), text.clone().into());
    }
    Value::Object(result)
}

/// The results a client may cache (2026-07-28 `CacheableResult`): they carry `ttlMs` and
/// `cacheScope`.
pub const CACHEABLE_METHODS: [&str; 3] = ["tools/list", "prompts/list", "server/discover"];

/// The modern shape of `method`'s result: `"resultType": "complete"`, our `serverInfo` in `_meta`,
/// and for the [`CACHEABLE_METHODS`] `ttlMs` and `cacheScope` (`scope`).
pub fn complete(method: &str, result: Value, info: &ServerInfo, scope: CacheScope) -> Value {
    let Value::Object(mut map) = result else {
        return result;
    };
    map.insert("resultType".into(), "complete".into());
    if CACHEABLE_METHODS.contains(&method) {
        map.insert("ttlMs".into(), LIST_TTL_MS.into());
        map.insert("cacheScope".into(), scope.as_str().into());
    }
    let meta = map
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(
            META_SERVER_INFO.into(),
            json!({"name": info.name, "version": info.version}),
        );
    }
    Value::Object(map)
}

/// The name and version in `serverInfo`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Machine-readable name.
    pub name: String,
    /// Human-readable title (2025-06-18+).
    pub title: String,
    /// Our crate version.
    pub version: String,
    /// Optional `instructions` for the model.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// `name` and `title`, with the crate version.
    pub fn new(name: &str, title: &str) -> Self {
        Self {
            name: name.to_string(),
            title: title.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            instructions: None,
        }
    }

    /// Sets `instructions`.
    pub fn with_instructions(mut self, text: &str) -> Self {
        self.instructions = Some(text.to_string());
        self
    }
}

/// Version negotiation (legacy era): echo a handshake version we speak, otherwise offer
/// 2025-11-25 (a client asking `initialize` for 2026-07-28 gets it too: that revision has no
/// handshake). Never an error, except when `protocolVersion` is missing or not a string.
pub fn negotiate(params: Option<&Value>) -> Result<&'static str, RpcError> {
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::invalid_params("initialize: protocolVersion (a string) is required")
        })?;
    Ok(LEGACY_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST_LEGACY_VERSION))
}

/// The `initialize` result.
pub fn initialize(
    info: &ServerInfo,
    params: Option<&Value>,
    capabilities: Map<String, Value>,
) -> Result<Value, RpcError> {
    let version = negotiate(params)?;
    let mut server_info = Map::new();
    server_info.insert("name".into(), info.name.clone().into());
    // `title` in Implementation arrived in 2025-06-18; older clients get exactly what they know.
    if version != "2025-03-26" {
        server_info.insert("title".into(), info.title.clone().into());
    }
    server_info.insert("version".into(), info.version.clone().into());
    let mut result = Map::new();
    result.insert("protocolVersion".into(), version.into());
    result.insert("capabilities".into(), Value::Object(capabilities));
    result.insert("serverInfo".into(), Value::Object(server_info));
    if let Some(text) = &info.instructions {
        result.insert("instructions".into(), text.clone().into());
    }
    Ok(Value::Object(result))
}

/// `ping` → `{}`, whatever its params (legacy era).
pub fn ping() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn meta() -> Value {
        json!({META_PROTOCOL_VERSION: MODERN_VERSION, META_CLIENT_CAPABILITIES: {},
               META_CLIENT_INFO: {"name": "probe", "version": "1"}})
    }

    fn modern_headers(method: &str) -> Vec<(&'static str, String)> {
        vec![
            (VERSION_HEADER, MODERN_VERSION.to_string()),
            (METHOD_HEADER, method.to_string()),
        ]
    }

    fn classify_with(
        extra: &[(&'static str, &str)],
        method: &str,
        params: Value,
    ) -> Result<Served, Refusal> {
        let mut pairs: Vec<(&'static str, String)> = modern_headers(method);
        pairs.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
        let borrowed: Vec<(&'static str, &str)> =
            pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        classify(&headers(&borrowed), method, Some(&params), true)
    }

    fn code(r: Result<Served, Refusal>) -> i64 {
        let refusal = r.unwrap_err();
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
        refusal.error.code
    }

    #[test]
    fn every_legacy_version_is_echoed() {
        for v in LEGACY_VERSIONS {
            assert_eq!(negotiate(Some(&json!({"protocolVersion": v}))).unwrap(), v);
        }
    }

    #[test]
    fn unknown_versions_get_our_latest_legacy() {
        for v in ["2024-11-05", MODERN_VERSION, "banana", ""] {
            assert_eq!(
                negotiate(Some(&json!({"protocolVersion": v}))).unwrap(),
                LATEST_LEGACY_VERSION
            );
        }
    }

    #[test]
    fn missing_or_non_string_version_is_invalid_params() {
        for p in [
            None,
            Some(json!({})),
            Some(json!({"protocolVersion": 20250618})),
        ] {
            assert_eq!(
                negotiate(p.as_ref()).unwrap_err().code,
                jsonrpc::INVALID_PARAMS
            );
        }
    }

    #[test]
    fn the_header_selects_the_era() {
        let legacy = classify(&HeaderMap::new(), "tools/list", None, true).unwrap();
        assert_eq!(legacy.era, Era::Legacy);
        for v in LEGACY_VERSIONS {
            let h = headers(&[(VERSION_HEADER, v)]);
            assert_eq!(classify(&h, "ping", None, true).unwrap().era, Era::Legacy);
        }
        let init = json!({"protocolVersion": "2025-11-25", "clientInfo": {"name": "old-client"}});
        let served = classify(&HeaderMap::new(), "initialize", Some(&init), true).unwrap();
        assert_eq!(served.client.as_deref(), Some("old-client"));
        let modern = classify_with(&[], "tools/list", json!({"_meta": meta()})).unwrap();
        assert_eq!(
            modern,
            Served {
                era: Era::Modern,
                client: Some("probe".into())
            }
        );
        // A modern notification: no header rules in this revision.
        let h = headers(&[(VERSION_HEADER, MODERN_VERSION)]);
        assert_eq!(
            classify(&h, "notifications/x", None, false).unwrap().era,
            Era::Modern
        );
    }

    #[test]
    fn unsupported_versions_get_32022_with_the_list() {
        for v in ["2024-11-05", "2026-07-29", "banana"] {
            let h = headers(&[(VERSION_HEADER, v)]);
            let refusal = classify(&h, "tools/list", None, true).unwrap_err();
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
            assert_eq!(refusal.error.code, jsonrpc::UNSUPPORTED_VERSION);
            assert_eq!(
                refusal.error.data,
                Some(json!({"supported": SUPPORTED_VERSIONS, "requested": v}))
            );
        }
        let twice = headers(&[
            (VERSION_HEADER, "2025-11-25"),
            (VERSION_HEADER, "2025-11-25"),
        ]);
        assert_eq!(
            code(classify(&twice, "ping", None, true)),
            jsonrpc::HEADER_MISMATCH
        );
    }

    #[test]
    fn the_meta_envelope_is_required() {
        for params in [
            json!({}),
            json!({"_meta": []}),
            json!({"_meta": {META_CLIENT_CAPABILITIES: {}}}),
            json!({"_meta": {META_PROTOCOL_VERSION: MODERN_VERSION}}),
            json!({"_meta": {META_PROTOCOL_VERSION: MODERN_VERSION, META_CLIENT_CAPABILITIES: 1}}),
        ] {
            assert_eq!(
                code(classify_with(&[], "tools/list", params.clone())),
                jsonrpc::INVALID_PARAMS,
                "{params}"
            );
        }
        let r = classify_with(&[], "tools/list", json!({"_meta": {}})).unwrap_err();
        assert!(r.error.message.contains(META_PROTOCOL_VERSION));
        assert!(r.error.message.contains(META_CLIENT_CAPABILITIES));
    }

    #[test]
    fn meta_version_must_equal_the_header() {
        for v in [json!("2025-11-25"), json!(20260728), Value::Null] {
            let mut m = meta();
            m[META_PROTOCOL_VERSION] = v;
            assert_eq!(
                code(classify_with(&[], "tools/list", json!({"_meta": m}))),
                jsonrpc::HEADER_MISMATCH
            );
        }
    }

    #[test]
    fn mcp_method_must_mirror_the_body() {
        let params = json!({"_meta": meta()});
        let h = headers(&[(VERSION_HEADER, MODERN_VERSION)]);
        let r = classify(&h, "tools/list", Some(&params), true).unwrap_err();
        assert_eq!(r.error.code, jsonrpc::HEADER_MISMATCH);
        assert!(r.error.message.contains("Mcp-Method header is required"));
        let h = headers(&[
            (VERSION_HEADER, MODERN_VERSION),
            (METHOD_HEADER, "prompts/list"),
        ]);
        let r = classify(&h, "tools/list", Some(&params), true).unwrap_err();
        assert_eq!(r.error.code, jsonrpc::HEADER_MISMATCH);
        assert!(r.error.message.contains("\"prompts/list\""));
        // Values are case-sensitive.
        let h = headers(&[
            (VERSION_HEADER, MODERN_VERSION),
            (METHOD_HEADER, "Tools/List"),
        ]);
        assert_eq!(
            code(classify(&h, "tools/list", Some(&params), true)),
            jsonrpc::HEADER_MISMATCH
        );
    }

    #[test]
    fn mcp_name_must_mirror_the_target() {
        let call = |name: &str| json!({"name": name, "arguments": {}, "_meta": meta()});
        assert!(classify_with(&[(NAME_HEADER, "echo")], "tools/call", call("echo")).is_ok());
        assert!(
            classify_with(
                &[(NAME_HEADER, "echo_prompt")],
                "prompts/get",
                call("echo_prompt")
            )
            .is_ok()
        );
        for (extra, body) in [
            (vec![], "echo"),
            (vec![(NAME_HEADER, "other")], "echo"),
            (vec![(NAME_HEADER, "echo"), (NAME_HEADER, "echo")], "echo"),
            (vec![(NAME_HEADER, "=?base64?ZWNobw?=")], "echo"), // unpadded: not canonical
            (vec![(NAME_HEADER, "=?base64?//79?=")], "echo"),   // not UTF-8
        ] {
            assert_eq!(
                code(classify_with(&extra, "tools/call", call(body))),
                jsonrpc::HEADER_MISMATCH,
                "{extra:?}"
            );
        }
        // The base64 sentinel is decoded before comparing.
        let sentinel = format!("=?base64?{}?=", STANDARD.encode("écho"));
        assert!(classify_with(&[(NAME_HEADER, &sentinel)], "tools/call", call("écho")).is_ok());
        let uri = json!({"uri": "file:///a", "_meta": meta()});
        assert!(classify_with(&[(NAME_HEADER, "file:///a")], "resources/read", uri).is_ok());
        // No name in the body: the method's own -32602 decides, not the header.
        assert!(classify_with(&[], "tools/call", json!({"_meta": meta()})).is_ok());
    }

    #[test]
    fn base64_sentinel() {
        assert_eq!(decode_name("plain").as_deref(), Some("plain"));
        assert_eq!(
            decode_name("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(
            decode_name("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(),
            Some("=?base64?literal?=")
        );
        assert_eq!(decode_name("=?base64?not base64?="), None);
    }

    #[test]
    fn only_a_modern_unknown_method_is_404() {
        let unknown = RpcError::method_not_found("x");
        assert_eq!(error_status(Era::Modern, &unknown), StatusCode::NOT_FOUND);
        assert_eq!(error_status(Era::Legacy, &unknown), StatusCode::OK);
        let params = RpcError::invalid_params("x");
        assert_eq!(error_status(Era::Modern, &params), StatusCode::OK);
    }

    #[test]
    fn removed_methods_are_unknown_in_the_modern_era() {
        for m in REMOVED_METHODS {
            assert!(!has_method(Era::Modern, m));
            assert!(has_method(Era::Legacy, m));
        }
        assert!(has_method(Era::Modern, "server/discover"));
        assert!(!has_method(Era::Legacy, "server/discover"));
    }

    #[test]
    fn modern_results_are_complete() {
        let info = ServerInfo::new("n", "T").with_instructions("be nice");
        let caps = Map::from_iter([("tools".to_string(), json!({"listChanged": false}))]);
        let found = complete(
            "server/discover",
            discover(&info, caps),
            &info,
            CacheScope::Public,
        );
        assert_eq!(
            found,
            json!({
                "supportedVersions": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
                "capabilities": {"tools": {"listChanged": false}},
                "instructions": "be nice",
                "resultType": "complete",
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "public",
                "_meta": {META_SERVER_INFO: {"name": "n", "version": env!("CARGO_PKG_VERSION")}}
            })
        );
        let call = complete(
            "tools/call",
            json!({"content": [], "_meta": {"x": 1}}),
            &info,
            CacheScope::Private,
        );
        assert_eq!(call["resultType"], "complete");
        assert_eq!(call["_meta"]["x"], 1);
        assert!(call.get("ttlMs").is_none());
        let private = complete(
            "tools/list",
            json!({"tools": []}),
            &info,
            CacheScope::Private,
        );
        assert_eq!(private["cacheScope"], "private");
    }

    #[test]
    fn initialize_result_shape() {
        let info = ServerInfo::new("n", "T").with_instructions("be nice");
        let r = initialize(
            &info,
            Some(&json!({"protocolVersion": "2025-11-25"})),
            Map::new(),
        )
        .unwrap();
        assert_eq!(r["protocolVersion"], "2025-11-25");
        assert_eq!(
            r["serverInfo"],
            json!({"name": "n", "title": "T", "version": env!("CARGO_PKG_VERSION")})
        );
        assert_eq!(r["capabilities"], json!({}));
        assert_eq!(r["instructions"], "be nice");
        let old = initialize(
            &info,
            Some(&json!({"protocolVersion": "2025-03-26"})),
            Map::new(),
        )
        .unwrap();
        assert!(old["serverInfo"].get("title").is_none());
    }
}
