//! `mcp::jsonrpc::parse` on any bytes. What must hold: a message it accepts says back exactly what
//! the input JSON holds (id, method, params, through `jsonrpc::success`'s envelope), and a refusal
//! is -32700 exactly when the bytes are not JSON, else -32600.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_steps::mcp::jsonrpc::{self, Incoming};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let as_json = serde_json::from_slice::<Value>(data).ok();
    match jsonrpc::parse(data) {
        Ok(Incoming::Request { id, method, params }) => {
            let input = as_json.expect("a request was read from bytes that are not JSON");
            assert_eq!(input["jsonrpc"], "2.0");
            assert_eq!(input["method"], Value::String(method));
            // The id goes back out as it came in (the envelope of every answer).
            assert_eq!(jsonrpc::success(&id, Value::Null)["id"], input["id"]);
            assert!(input["id"].is_string() || input["id"].is_i64() || input["id"].is_u64());
            match params {
                Some(p) => {
                    assert!(p.is_object() || p.is_array());
                    assert_eq!(input["params"], p);
                }
                None => assert!(input.get("params").is_none()),
            }
        }
        Ok(Incoming::Notification { method }) => {
            let input = as_json.expect("a notification was read from bytes that are not JSON");
            assert_eq!(input["method"], Value::String(method));
            assert!(input.get("id").is_none());
        }
        Ok(Incoming::Response) => {
            let input = as_json.expect("a response was read from bytes that are not JSON");
            assert!(input.get("method").is_none());
            assert!(input.get("result").is_some() != input.get("error").is_some());
        }
        Err(malformed) => {
            let expected = if as_json.is_some() {
                jsonrpc::INVALID_REQUEST
            } else {
                jsonrpc::PARSE_ERROR
            };
            assert_eq!(
                malformed.error.code, expected,
                "{}",
                malformed.error.message
            );
            assert!(!malformed.error.message.is_empty());
        }
    }
});
