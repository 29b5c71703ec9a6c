//! Step 2: the MCP lifecycle — protocol versions, `initialize`, `ping`.
//!
//! Everything that depends on the protocol revision lives here, so that adding the stateless
//! 2026-07-28 revision (`server/discover`, no `initialize`) is a change to this module only.

use serde_json::{Map, Value, json};

use crate::mcp::jsonrpc::{self, RpcError};

/// The revisions this server speaks, newest first.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// What we answer when the client asks for a revision we do not speak.
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];

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

/// Checks the `MCP-Protocol-Version` header. Absent is fine (2025-03-26 clients do not send it).
pub fn check_version_header(value: Option<&str>) -> Result<(), RpcError> {
    match value {
        None => Ok(()),
        Some(v) if SUPPORTED_VERSIONS.contains(&v.trim()) => Ok(()),
        Some(v) => {
            let shown: String = v.chars().take(64).collect();
            Err(RpcError::new(
                jsonrpc::UNSUPPORTED_VERSION,
                format!(
                    "Unsupported MCP-Protocol-Version {shown:?}; supported: {}",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            )
            .with_data(json!({"supported": SUPPORTED_VERSIONS, "requested": shown})))
        }
    }
}

/// Version negotiation: echo a version we speak, otherwise offer our latest. Never an error,
/// except when `protocolVersion` is missing or not a string.
pub fn negotiate(params: Option<&Value>) -> Result<&'static str, RpcError> {
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::invalid_params("initialize: protocolVersion (a string) is required")
        })?;
    Ok(SUPPORTED_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST_VERSION))
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

/// `ping` → `{}`, whatever its params.
pub fn ping() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_is_echoed() {
        for v in SUPPORTED_VERSIONS {
            assert_eq!(negotiate(Some(&json!({"protocolVersion": v}))).unwrap(), v);
        }
    }

    #[test]
    fn unknown_versions_get_our_latest() {
        for v in ["2024-11-05", "2026-07-28", "banana", ""] {
            assert_eq!(
                negotiate(Some(&json!({"protocolVersion": v}))).unwrap(),
                LATEST_VERSION
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
    fn header_check() {
        assert!(check_version_header(None).is_ok());
        assert!(check_version_header(Some("2025-06-18")).is_ok());
        let e = check_version_header(Some("2026-07-28")).unwrap_err();
        assert_eq!(e.code, jsonrpc::UNSUPPORTED_VERSION);
        assert!(e.message.contains("2025-11-25, 2025-06-18, 2025-03-26"));
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
