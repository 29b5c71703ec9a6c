//! Step 11: the session the host runs once it may ([`McpHost::run`]) — the protocol era
//! (`server/discover` in the 2026-07-28 shape; for a legacy server, `initialize` →
//! `notifications/initialized` instead), then `tools/list` → `tools/call` → `prompts/list` →
//! `prompts/get`, each on the numbered trace. What a `401` or `403` leads to is `client::host`.

use serde_json::{Map, Value, json};

use crate::client::host::{ECHO_MESSAGE, HostError, McpHost, Summary};
use crate::client::trace::{Trace, untrusted};
use crate::client::transport::McpError;
use crate::mcp::jsonrpc::{HEADER_MISMATCH, UNSUPPORTED_VERSION};
use crate::mcp::lifecycle::{LATEST_LEGACY_VERSION, LEGACY_VERSIONS, MODERN_VERSION};

impl McpHost {
    /// server/discover (2026-07-28; on a legacy server: initialize → notifications/initialized) →
    /// tools/list → tools/call → prompts/list.
    pub async fn run(&mut self, trace: &mut Trace) -> Result<Summary, HostError> {
        let mut summary = Summary::default();
        let capabilities = match self.discover(trace).await? {
            Some(capabilities) => {
                summary.protocol_version = MODERN_VERSION.to_string();
                capabilities
            }
            None => {
                let (version, capabilities) = self.initialize(trace).await?;
                summary.protocol_version = version;
                capabilities
            }
        };

        let listed = self.request(trace, "tools/list", Some(json!({}))).await?;
        let tools: Vec<Value> = listed["tools"].as_array().cloned().unwrap_or_default();
        summary.tools = tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        trace.step(format_args!(
            "{} → 200: {} tool(s): {}",
            self.label("tools/list"),
            summary.tools.len(),
            untrusted(&summary.tools.join(", "))
        ));

        summary.called = self.call_a_tool(trace, &summary.tools).await?;
        if capabilities.contains_key("prompts") {
            summary.prompts = Some(self.use_a_prompt(trace).await?);
        }
        summary.authorizations = self.authorizations;
        summary.refreshes = self.refreshes;
        Ok(summary)
    }

    /// `tools/call`: `echo` when the server has it, else its first tool with no arguments.
    async fn call_a_tool(
        &mut self,
        trace: &mut Trace,
        tools: &[String],
    ) -> Result<Option<String>, HostError> {
        let choice = if tools.iter().any(|t| t == "echo") {
            Some(("echo".to_string(), json!({"message": ECHO_MESSAGE})))
        } else {
            tools.first().map(|t| (t.clone(), json!({})))
        };
        if let Some((name, arguments)) = choice {
            let params = json!({"name": name, "arguments": arguments});
            let result = self.request(trace, "tools/call", Some(params)).await?;
            let text = result["content"]
                .as_array()
                .and_then(|items| items.iter().find_map(|i| i["text"].as_str()))
                .unwrap_or("(no text content)");
            let text: String = text.chars().take(200).collect();
            let error = if result["isError"] == json!(true) {
                " (the tool reported an error)"
            } else {
                ""
            };
            trace.step(format_args!(
                "{} {name} {arguments} → 200: {text:?}{error}",
                self.label("tools/call")
            ));
            return Ok(Some(name));
        }
        trace.detail("the server lists no tools: nothing to call");
        Ok(None)
    }

    /// `prompts/list`, then `prompts/get` of the first prompt with its required arguments
    /// filled in with the echo message; the prompt names.
    async fn use_a_prompt(&mut self, trace: &mut Trace) -> Result<Vec<String>, HostError> {
        let listed = self.request(trace, "prompts/list", Some(json!({}))).await?;
        let prompts: Vec<String> = listed["prompts"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        trace.step(format_args!(
            "{} → 200: {} prompt(s): {}",
            self.label("prompts/list"),
            prompts.len(),
            prompts.join(", ")
        ));
        // The first prompt, its required arguments filled in with the echo message.
        if let Some(prompt) = listed["prompts"].as_array().and_then(|p| p.first()) {
            let name = prompt["name"].as_str().unwrap_or_default().to_string();
            let arguments: Map<String, Value> = prompt["arguments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["required"] == json!(true))
                .filter_map(|a| a["name"].as_str())
                .map(|a| (a.to_string(), json!(ECHO_MESSAGE)))
                .collect();
            let params = json!({"name": name, "arguments": arguments});
            let got = self.request(trace, "prompts/get", Some(params)).await?;
            let messages = got["messages"].as_array().map_or(0, Vec::len);
            let text: String = got["messages"]
                .as_array()
                .and_then(|m| m.iter().find_map(|m| m["content"]["text"].as_str()))
                .unwrap_or("(no text)")
                .chars()
                .take(200)
                .collect();
            trace.step(format_args!(
                "{} {name} {} → 200: {messages} message(s), first: {text:?}",
                self.label("prompts/get"),
                Value::Object(arguments)
            ));
        }
        Ok(prompts)
    }

    /// The modern era first (2026-07-28, "Streamable HTTP › Backward Compatibility"):
    /// `server/discover` in the 2026-07-28 shape. `Some(capabilities)` when the server speaks it;
    /// `None` (back to the legacy era) when the answer is not a recognised modern one: a 4xx
    /// without -32020/-32022 in its body, a JSON-RPC error such as -32601, or a list of versions
    /// without 2026-07-28. Auth refusals are handled on the way, as for any request.
    async fn discover(
        &mut self,
        trace: &mut Trace,
    ) -> Result<Option<Map<String, Value>>, HostError> {
        self.mcp.speak_modern(&self.opts.client_name);
        let mut retried = false;
        let why_legacy = loop {
            break match self
                .request(trace, "server/discover", Some(json!({})))
                .await
            {
                Ok(found) => {
                    let versions: Vec<&str> = found["supportedVersions"]
                        .as_array()
                        .map(|v| v.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let capabilities = found["capabilities"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let server = &found["_meta"]["io.modelcontextprotocol/serverInfo"];
                    trace.step(format_args!(
                        "{} → 200: supportedVersions [{}], server {} {}, capabilities [{}]",
                        self.label("server/discover"),
                        untrusted(&versions.join(", ")),
                        untrusted(server["name"].as_str().unwrap_or("?")),
                        untrusted(server["version"].as_str().unwrap_or("")),
                        untrusted(&capabilities.keys().cloned().collect::<Vec<_>>().join(", "))
                    ));
                    if versions.contains(&MODERN_VERSION) {
                        return Ok(Some(capabilities));
                    }
                    "its supportedVersions lack 2026-07-28".to_string()
                }
                Err(HostError::Rpc { code, message, .. }) => {
                    format!("JSON-RPC error {code}: {message}")
                }
                Err(HostError::Mcp(McpError::Status {
                    status, rpc_error, ..
                })) if (400..500).contains(&status) => {
                    let code = rpc_error.as_ref().and_then(|e| e["code"].as_i64());
                    if matches!(code, Some(HEADER_MISMATCH | UNSUPPORTED_VERSION)) {
                        let error = rpc_error.unwrap_or_default();
                        let supported = &error["data"]["supported"];
                        let offers_modern = supported
                            .as_array()
                            .is_some_and(|v| v.iter().any(|x| x == MODERN_VERSION));
                        if code == Some(HEADER_MISMATCH) || offers_modern {
                            trace.step(format_args!(
                                "{} → {status}: {}",
                                self.label("server/discover"),
                                untrusted(error["message"].as_str().unwrap_or_default())
                            ));
                            // "Basic › Versioning": a -32022 lists what the server supports; when
                            // that includes 2026-07-28, the one version this client speaks, the
                            // client tries it again, once.
                            if code == Some(UNSUPPORTED_VERSION) && !retried {
                                retried = true;
                                trace.detail(format_args!(
                                "its supported versions include {MODERN_VERSION}: trying once more"
                            ));
                                continue;
                            }
                            return Err(HostError::Mcp(McpError::Protocol {
                                method: "server/discover".into(),
                                reason: format!(
                                    "the server speaks 2026-07-28 but refused this request ({status}, {})",
                                    untrusted(&error.to_string())
                                ),
                            }));
                        }
                    }
                    format!("HTTP {status} without a modern error")
                }
                Err(other) => return Err(other),
            };
        };
        trace.step(format_args!(
            "{}: not a 2026-07-28 server ({why_legacy}); falling back to initialize",
            self.label("server/discover")
        ));
        self.mcp.speak_legacy();
        Ok(None)
    }

    /// The legacy handshake: initialize → notifications/initialized. The chosen version and the
    /// server's capabilities.
    async fn initialize(
        &mut self,
        trace: &mut Trace,
    ) -> Result<(String, Map<String, Value>), HostError> {
        let init = self
            .request(
                trace,
                "initialize",
                Some(json!({
                    "protocolVersion": LATEST_LEGACY_VERSION,
                    "capabilities": self.mcp.capabilities(),
                    "clientInfo": {"name": self.opts.client_name, "version": env!("CARGO_PKG_VERSION")},
                })),
            )
            .await?;
        let version = init["protocolVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let capabilities = init["capabilities"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        trace.step(format_args!(
            "{} → 200: protocolVersion {version}, server {} {}, capabilities [{}]",
            self.label("initialize"),
            untrusted(init["serverInfo"]["name"].as_str().unwrap_or("?")),
            untrusted(init["serverInfo"]["version"].as_str().unwrap_or("")),
            untrusted(&capabilities.keys().cloned().collect::<Vec<_>>().join(", "))
        ));
        if !LEGACY_VERSIONS.contains(&version.as_str()) {
            return Err(HostError::Mcp(McpError::Protocol {
                method: "initialize".into(),
                reason: format!(
                    "the server chose protocol version {version:?}, which this client does not speak"
                ),
            }));
        }
        self.mcp.set_protocol_version(&version);
        if let Some(session) = self.mcp.session_id() {
            trace.detail(format_args!(
                "Mcp-Session-Id {session} (sent back on every request)"
            ));
        }
        self.notify(trace, "notifications/initialized").await?;
        trace.step(format_args!(
            "{} → 202",
            self.label("notifications/initialized")
        ));
        Ok((version, capabilities))
    }
}
