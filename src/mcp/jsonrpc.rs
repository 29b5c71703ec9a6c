//! Step 2: JSON-RPC 2.0 messages, parsed from raw bytes so that every failure is itself a
//! JSON-RPC answer (axum's `Json` extractor would answer plain text).
//!
//! What arrives on `POST /mcp` is one of:
//! - a **request** (`method` + `id`) → answered with a result or an error;
//! - a **notification** (`method`, no `id`) → 202 with an empty body, whatever the method;
//! - a **response** the client sends back (`result`/`error` + `id`) → 202, empty body.
//!
//! Batches (JSON arrays) were removed from MCP in 2025-06-18 and are refused.

use serde_json::{Map, Value, json};

/// -32700: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// -32600: JSON, but not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// -32601: no such method (in this step).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// -32602: the method exists but its params are wrong.
pub const INVALID_PARAMS: i64 = -32602;
/// -32603: the server failed; no internal detail is sent.
pub const INTERNAL_ERROR: i64 = -32603;
/// -32001 (server range): the Origin/Host guard refused the request (HTTP 403); defined by the
/// guard, which comes first (step 1).
pub use crate::http::origin_guard::ORIGIN_REJECTED;
/// -32022 `UnsupportedProtocolVersion` (MCP 2026-07-28, "Basic › Versioning"): the
/// `MCP-Protocol-Version` header names a version we do not speak (HTTP 400, `data.supported`). A
/// modern client recognises it and stays modern; it is used for every era.
pub const UNSUPPORTED_VERSION: i64 = -32022;
/// -32020 `HeaderMismatch` (MCP 2026-07-28, "Streamable HTTP › Server Validation"): a mirrored
/// header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) is missing, malformed or differs
/// from the body (HTTP 400).
pub const HEADER_MISMATCH: i64 = -32020;
/// -32003 (server range): the token lacks the scope this method needs (HTTP 403, step 8).
pub const INSUFFICIENT_SCOPE: i64 = -32003;

/// A request id: a string or an integer. `null`, booleans, fractions and objects are not ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    /// `"id": 7`
    Number(serde_json::Number),
    /// `"id": "abc"`
    String(String),
}

impl Id {
    fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::String(s) => Some(Id::String(s.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Id::Number(n.clone())),
            _ => None,
        }
    }

    /// The id as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => Value::Number(n.clone()),
            Id::String(s) => Value::String(s.clone()),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The code (see the constants in this module).
    pub code: i64,
    /// A short, specific message.
    pub message: String,
    /// Optional structured detail.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with no `data`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// -32602 with a reason.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// -32601 naming the method.
    pub fn method_not_found(method: &str) -> Self {
        let shown: String = method.chars().take(100).collect();
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {shown}"))
    }

    /// -32603, deliberately vague: the detail goes to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(INTERNAL_ERROR, "Internal error")
    }

    fn to_value(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.clone().into());
        if let Some(data) = &self.data {
            error.insert("data".into(), data.clone());
        }
        Value::Object(error)
    }
}

/// A valid message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Needs an answer.
    Request {
        /// Echoed in the answer.
        id: Id,
        /// e.g. `tools/call`.
        method: String,
        /// `params`, when present (an object or an array).
        params: Option<Value>,
    },
    /// Needs no answer.
    Notification {
        /// e.g. `notifications/initialized`.
        method: String,
    },
    /// A response or error the client sends to us (we never ask, so it is simply accepted).
    Response,
}

/// Why a body is not a valid JSON-RPC message: HTTP 400 with this error and (when readable) id.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// The id, when the message had a valid one.
    pub id: Option<Id>,
    /// -32700 or -32600, with the reason.
    pub error: RpcError,
}

/// Parses one JSON-RPC message from the raw body.
pub fn parse(body: &[u8]) -> Result<Incoming, Malformed> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Malformed {
        id: None,
        error: RpcError::new(PARSE_ERROR, format!("Parse error: {e}")),
    })?;
    let invalid = |id: Option<Id>, why: &str| Malformed {
        id,
        error: RpcError::new(INVALID_REQUEST, format!("Invalid Request: {why}")),
    };
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(invalid(
                None,
                "batches are not supported (removed in MCP 2025-06-18)",
            ));
        }
        _ => return Err(invalid(None, "a message must be a JSON object")),
    };
    let id = match object.get("id") {
        None => None,
        Some(raw) => match Id::from_value(raw) {
            Some(id) => Some(id),
            None => return Err(invalid(None, "id must be a string or an integer")),
        },
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id, "jsonrpc must be \"2.0\""));
    }
    // `remove`, not `get` + clone: the message is ours, and params can be large.
    match object.remove("method") {
        Some(Value::String(method)) => {
            let params = match object.remove("params") {
                None => None,
                Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
                Some(_) => return Err(invalid(id, "params must be an object or an array")),
            };
            Ok(match id {
                Some(id) => Incoming::Request { id, method, params },
                None => Incoming::Notification { method },
            })
        }
        Some(_) => Err(invalid(id, "method must be a string")),
        None => {
            let is_response = object.contains_key("result") ^ object.contains_key("error");
            match id {
                Some(_) if is_response => Ok(Incoming::Response),
                _ => Err(invalid(id, "method is required")),
            }
        }
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`
pub fn success(id: &Id, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result})
}

/// `{"jsonrpc":"2.0","id":…|null,"error":{…}}`
pub fn failure(id: Option<&Id>, error: &RpcError) -> Value {
    let id = id.map_or(Value::Null, Id::to_value);
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_value()})
}

/// An error object without `id`, for refusals made before the body was read (e.g. the Origin guard).
pub fn error_without_id(error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "error": error.to_value()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> (Option<Id>, i64) {
        let m = parse(body.as_bytes()).unwrap_err();
        (m.id, m.error.code)
    }

    #[test]
    fn requests_notifications_and_responses() {
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap(),
            Incoming::Request {
                id: Id::Number(1.into()),
                method: "ping".into(),
                params: None
            }
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":"a","method":"x","params":{"k":1}}"#).unwrap(),
            Incoming::Request {
                id: Id::String("a".into()),
                method: "x".into(),
                params: Some(json!({"k": 1}))
            }
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            Incoming::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#).unwrap(),
            Incoming::Response
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"m"}}"#).unwrap(),
            Incoming::Response
        );
    }

    #[test]
    fn malformed_messages() {
        assert_eq!(code("{"), (None, PARSE_ERROR));
        assert_eq!(code(""), (None, PARSE_ERROR));
        assert_eq!(code("[]"), (None, INVALID_REQUEST));
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(code("42"), (None, INVALID_REQUEST));
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#),
            (Some(Id::Number(5.into())), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"id":5,"method":"ping"}"#),
            (Some(Id::Number(5.into())), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":"x","method":7}"#),
            (Some(Id::String("x".into())), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1}"#),
            (Some(Id::Number(1.into())), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#).1,
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#).1,
            INVALID_REQUEST
        );
    }

    #[test]
    fn only_strings_and_integers_are_ids() {
        for bad in ["null", "true", "1.5", "{}", "[1]"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{bad},"method":"ping"}}"#);
            assert_eq!(code(&body), (None, INVALID_REQUEST), "id {bad}");
        }
        assert!(parse(br#"{"jsonrpc":"2.0","id":-3,"method":"ping"}"#).is_ok());
        assert!(parse(br#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#).is_ok());
    }

    #[test]
    fn answers_are_shaped_by_the_spec() {
        let id = Id::Number(9.into());
        assert_eq!(
            success(&id, json!({})),
            json!({"jsonrpc":"2.0","id":9,"result":{}})
        );
        let e = RpcError::method_not_found("nope");
        assert_eq!(
            failure(None, &e),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found: nope"}})
        );
        assert_eq!(
            error_without_id(&RpcError::new(1, "m").with_data(json!([1]))),
            json!({"jsonrpc":"2.0","error":{"code":1,"message":"m","data":[1]}})
        );
    }
}
