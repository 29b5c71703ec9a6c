//! Integration tests: each step's layers, composed as its binary composes them, served on a real
//! socket (`127.0.0.1:0`) and called over HTTP with reqwest.
//!
//! The fixture follows one pattern: [`spawn`] binds a free port, hands the listener to the
//! library's [`serve`](mcp_auth_steps::http::server::serve) (the same function the binaries reach through
//! `server::run`), and returns a [`TestServer`] that knows its base URL and has a client without
//! proxies. Each test then reads Arrange / Act / Assert.

mod auth_fixture;
mod layout;
mod properties;
mod step1;
mod step10;
mod step2;
mod step3;
mod step4;
mod step6;
mod step7;
mod step8;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;

/// A server running in the background of the current test.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    client: reqwest::Client,
}

/// What came back: status, headers, the raw body and, when it parsed, the JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Serves `router` on a free loopback port until the test ends.
pub async fn spawn(router: impl mcp_auth_steps::http::service::HttpService) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        mcp_auth_steps::http::server::serve(listener, router, std::future::pending())
            .await
            .expect("serve");
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client");
    TestServer {
        base: format!("http://{addr}"),
        client,
    }
}

impl TestServer {
    /// `POST /mcp` with a JSON body and `Content-Type: application/json`.
    pub async fn post_mcp(&self, json: Value) -> Reply {
        self.post_raw(json.to_string(), &[("content-type", "application/json")])
            .await
    }

    /// `POST /mcp` with a raw body and exactly these extra headers.
    pub async fn post_raw(&self, body: impl Into<String>, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/mcp", self.base))
            .body(body.into());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("POST /mcp")).await
    }

    /// A request with any method to `path`, with these headers and no body.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("request")).await
    }

    /// A JSON-RPC request with id 1; returns the whole reply.
    pub async fn call(&self, method: &str, params: Value) -> Reply {
        self.post_mcp(
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .await
    }
}

impl TestServer {
    /// A modern (2026-07-28) request with id 1: `params._meta` with the version, capabilities and
    /// client info, and the headers `MCP-Protocol-Version`, `Mcp-Method` and (for named methods)
    /// `Mcp-Name`, plus `extra` headers.
    pub async fn call_modern(&self, method: &str, params: Value, extra: &[(&str, &str)]) -> Reply {
        let body = modern_body(method, params);
        let name = body["params"]["name"].as_str().map(str::to_string);
        let mut headers = vec![
            ("content-type", "application/json"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if let Some(name) = name.as_deref() {
            headers.push(("mcp-name", name));
        }
        headers.extend_from_slice(extra);
        self.post_raw(body.to_string(), &headers).await
    }
}

/// A modern request body: `params` with the 2026-07-28 `_meta` added.
pub fn modern_body(method: &str, mut params: Value) -> Value {
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "integration-test", "version": "1"}
    });
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// The `initialize` params an MCP client sends.
pub fn initialize_params(version: &str) -> Value {
    serde_json::json!({
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "integration-test", "version": "1"}
    })
}

/// True when some value anywhere inside `value` is JSON `null`.
pub fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(contains_null),
        Value::Object(map) => map.values().any(contains_null),
        _ => false,
    }
}
