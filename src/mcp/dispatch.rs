//! Steps 2–4 (and 8): from a JSON-RPC method to its answer.
//!
//! [`McpService`] grows with the steps: step 2 knows the lifecycle (`initialize`, `ping`); step 3
//! adds a [`Catalog`] (listing); step 4 switches on execution (`tools/call`, `prompts/get`);
//! step 8 adds a [`MethodPolicy`] (its scope policy) that is checked before any method runs.
//!
//! What the request brought with it — step 6's verified identity, for one — reaches the policy
//! and the tools as the request's [`Extensions`]: this part defines the places, the later parts
//! fill them, and nothing here depends on them.

use std::sync::Arc;

use axum::http::Extensions;
use serde_json::{Map, Value};

use crate::mcp::catalog::{CallContext, Catalog};
use crate::mcp::jsonrpc::RpcError;
use crate::mcp::lifecycle::{self, CacheScope, Era, ServerInfo};

/// A method refused before it ran: HTTP 403 with this `WWW-Authenticate` challenge and this
/// JSON-RPC error in the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// The `WWW-Authenticate` value.
    pub challenge: String,
    /// The JSON-RPC error for the body.
    pub error: RpcError,
}

/// Decides, before anything runs, whether this request may call this method (step 8's scope
/// policy, `auth::policy::Policy`, is one).
pub trait MethodPolicy: Send + Sync + std::fmt::Debug {
    /// `Ok` to go on; `Err` refuses with a 403. `request` holds what earlier layers established.
    fn check(&self, method: &str, request: &Extensions) -> Result<(), Denial>;
}

/// What a request comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A JSON-RPC result (HTTP 200).
    Result(Value),
    /// A JSON-RPC error (HTTP 200).
    Error(RpcError),
    /// Refused by the policy (HTTP 403 with an `insufficient_scope` challenge).
    Forbidden(Denial),
}

/// The MCP methods a step serves.
#[derive(Debug, Clone)]
pub struct McpService {
    info: ServerInfo,
    catalog: Option<Catalog>,
    executes: bool,
    policy: Option<Arc<dyn MethodPolicy>>,
    cache_scope: CacheScope,
}

impl McpService {
    /// Step 2: the lifecycle only.
    pub fn new(info: ServerInfo) -> Self {
        Self {
            info,
            catalog: None,
            executes: false,
            policy: None,
            cache_scope: CacheScope::Public,
        }
    }

    /// Step 3: describe these tools and prompts.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Step 4: run them too.
    pub fn with_dispatch(mut self) -> Self {
        self.executes = true;
        self
    }

    /// Step 6 on: answers depend on who asks, so modern list results say `cacheScope: private`.
    pub fn per_caller(mut self) -> Self {
        self.cache_scope = CacheScope::Private;
        self
    }

    /// Step 8: check scopes and roles before any method runs.
    pub fn with_policy(mut self, policy: impl MethodPolicy + 'static) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// May this request send this method at all (requests and notifications alike)?
    pub fn authorize(&self, method: &str, request: &Extensions) -> Result<(), Denial> {
        match &self.policy {
            Some(policy) => policy.check(method, request),
            None => Ok(()),
        }
    }

    /// Answers one request of `era`; `request` is what earlier layers put in its extensions.
    /// The policy runs first, the same way in both eras.
    pub fn handle(
        &self,
        era: Era,
        method: &str,
        params: Option<&Value>,
        request: &Extensions,
    ) -> Outcome {
        if let Err(denial) = self.authorize(method, request) {
            return Outcome::Forbidden(denial);
        }
        if !lifecycle::has_method(era, method) {
            return Outcome::Error(RpcError::method_not_found(method));
        }
        let ctx = CallContext { request };
        match (self.route(method, params, &ctx), era) {
            (Ok(value), Era::Legacy) => Outcome::Result(value),
            (Ok(value), Era::Modern) => Outcome::Result(lifecycle::complete(
                method,
                value,
                &self.info,
                self.cache_scope,
            )),
            (Err(error), _) => Outcome::Error(error),
        }
    }

    fn route(
        &self,
        method: &str,
        params: Option<&Value>,
        ctx: &CallContext<'_>,
    ) -> Result<Value, RpcError> {
        let catalog = self.catalog.as_ref();
        let caps = || catalog.map(Catalog::capabilities).unwrap_or_default();
        match (method, catalog) {
            ("initialize", _) => lifecycle::initialize(&self.info, params, caps()),
            ("ping", _) => Ok(lifecycle::ping()),
            ("server/discover", _) => Ok(lifecycle::discover(&self.info, caps())),
            ("tools/list", Some(c)) => list_params(params).map(|()| c.list_tools()),
            ("prompts/list", Some(c)) => list_params(params).map(|()| c.list_prompts()),
            ("tools/call", Some(c)) if self.executes => call_tool(c, params, ctx),
            ("prompts/get", Some(c)) if self.executes => get_prompt(c, params),
            _ => Err(RpcError::method_not_found(method)),
        }
    }
}

/// `params` as an object (absent = `{}`).
fn object_params(params: Option<&Value>) -> Result<Map<String, Value>, RpcError> {
    match params {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(RpcError::invalid_params("params must be an object")),
    }
}

/// List methods take an optional string `cursor`; there is only one page.
fn list_params(params: Option<&Value>) -> Result<(), RpcError> {
    let params = object_params(params)?;
    match params.get("cursor") {
        None | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(RpcError::invalid_params("cursor must be a string")),
    }
}

/// `name` (required string) and `arguments` (optional object).
fn name_and_arguments(
    params: Option<&Value>,
    what: &str,
) -> Result<(String, Map<String, Value>), RpcError> {
    let params = object_params(params)?;
    let name = match params.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "{what}: name must be a string"
            )));
        }
        None => {
            return Err(RpcError::invalid_params(format!(
                "{what}: name is required"
            )));
        }
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "{what}: arguments must be an object"
            )));
        }
    };
    Ok((name, arguments))
}

fn call_tool(
    catalog: &Catalog,
    params: Option<&Value>,
    ctx: &CallContext<'_>,
) -> Result<Value, RpcError> {
    let (name, arguments) = name_and_arguments(params, "tools/call")?;
    let tool = catalog
        .tool(&name)
        .ok_or_else(|| RpcError::invalid_params(format!("Unknown tool: {}", shorten(&name))))?;
    Ok((tool.run)(&arguments, ctx).to_value())
}

fn get_prompt(catalog: &Catalog, params: Option<&Value>) -> Result<Value, RpcError> {
    let (name, arguments) = name_and_arguments(params, "prompts/get")?;
    let prompt = catalog
        .prompt(&name)
        .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {}", shorten(&name))))?;
    (prompt.render)(&arguments).map_err(RpcError::invalid_params)
}

fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND};
    use serde_json::json;

    fn none() -> Extensions {
        Extensions::new()
    }

    fn step(n: u8) -> McpService {
        let s = McpService::new(ServerInfo::new("t", "T"));
        match n {
            2 => s,
            3 => s.with_catalog(Catalog::echo()),
            _ => s.with_catalog(Catalog::echo()).with_dispatch(),
        }
    }

    fn error_code(o: Outcome) -> i64 {
        match o {
            Outcome::Error(e) => e.code,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn result(o: Outcome) -> Value {
        match o {
            Outcome::Result(v) => v,
            other => panic!("expected a result, got {other:?}"),
        }
    }

    #[test]
    fn the_modern_era_has_its_own_methods_and_shape() {
        let s = step(4);
        for m in ["initialize", "ping", "logging/setLevel", "no/such"] {
            assert_eq!(
                error_code(s.handle(Era::Modern, m, Some(&json!({})), &none())),
                METHOD_NOT_FOUND,
                "{m}"
            );
        }
        let found = result(s.handle(Era::Modern, "server/discover", None, &none()));
        assert_eq!(found["supportedVersions"][0], "2026-07-28");
        assert_eq!(
            found["capabilities"]["tools"],
            json!({"listChanged": false})
        );
        assert_eq!(found["resultType"], "complete");
        assert_eq!(found["cacheScope"], "public");
        let list = result(s.handle(Era::Modern, "tools/list", None, &none()));
        assert_eq!(list["tools"][0]["name"], "echo");
        assert_eq!(list["ttlMs"], lifecycle::LIST_TTL_MS);
        assert_eq!(list["_meta"][lifecycle::META_SERVER_INFO]["name"], "t");
        let private = step(4).per_caller();
        let list = result(private.handle(Era::Modern, "prompts/list", None, &none()));
        assert_eq!(list["cacheScope"], "private");
        let call = json!({"name": "echo", "arguments": {"message": "x"}});
        let out = result(s.handle(Era::Modern, "tools/call", Some(&call), &none()));
        assert_eq!(out["resultType"], "complete");
        assert!(out.get("cacheScope").is_none());
        // Legacy answers stay exactly as they were.
        let legacy = result(s.handle(Era::Legacy, "tools/list", None, &none()));
        assert!(legacy.get("resultType").is_none() && legacy.get("_meta").is_none());
    }

    #[test]
    fn each_step_knows_its_methods() {
        let list = json!({});
        assert_eq!(
            error_code(step(2).handle(Era::Legacy, "tools/list", Some(&list), &none())),
            METHOD_NOT_FOUND
        );
        assert!(
            result(step(3).handle(Era::Legacy, "tools/list", None, &none()))["tools"].is_array()
        );
        let call = json!({"name": "echo", "arguments": {"message": "x"}});
        assert_eq!(
            error_code(step(3).handle(Era::Legacy, "tools/call", Some(&call), &none())),
            METHOD_NOT_FOUND
        );
        assert_eq!(
            result(step(4).handle(Era::Legacy, "tools/call", Some(&call), &none()))["content"][0]["text"],
            "x"
        );
        assert_eq!(
            error_code(step(4).handle(Era::Legacy, "server/discover", None, &none())),
            METHOD_NOT_FOUND
        );
        assert_eq!(
            result(step(2).handle(Era::Legacy, "ping", Some(&json!({"extra": 1})), &none())),
            json!({})
        );
    }

    #[test]
    fn initialize_declares_what_the_step_has() {
        let p = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
        assert_eq!(
            result(step(2).handle(Era::Legacy, "initialize", Some(&p), &none()))["capabilities"],
            json!({})
        );
        assert_eq!(
            result(step(3).handle(Era::Legacy, "initialize", Some(&p), &none()))["capabilities"],
            json!({"tools": {"listChanged": false}, "prompts": {"listChanged": false}})
        );
    }

    #[test]
    fn protocol_errors_are_invalid_params() {
        let s = step(4);
        for p in [
            json!({"name": "nope"}),
            json!({}),
            json!({"name": 3}),
            json!({"name": "echo", "arguments": [1]}),
        ] {
            assert_eq!(
                error_code(s.handle(Era::Legacy, "tools/call", Some(&p), &none())),
                INVALID_PARAMS,
                "{p}"
            );
        }
        assert_eq!(
            error_code(s.handle(Era::Legacy, "tools/call", Some(&json!([1])), &none())),
            INVALID_PARAMS
        );
        assert_eq!(
            error_code(s.handle(
                Era::Legacy,
                "prompts/get",
                Some(&json!({"name": "x"})),
                &none()
            )),
            INVALID_PARAMS
        );
        assert_eq!(
            error_code(s.handle(
                Era::Legacy,
                "prompts/get",
                Some(&json!({"name": "echo_prompt"})),
                &none()
            )),
            INVALID_PARAMS
        );
        assert_eq!(
            error_code(s.handle(
                Era::Legacy,
                "tools/list",
                Some(&json!({"cursor": 1})),
                &none()
            )),
            INVALID_PARAMS
        );
        assert!(matches!(
            s.handle(
                Era::Legacy,
                "tools/list",
                Some(&json!({"cursor": "abc"})),
                &none()
            ),
            Outcome::Result(_)
        ));
    }

    #[test]
    fn arguments_are_optional() {
        let out = result(step(4).handle(
            Era::Legacy,
            "tools/call",
            Some(&json!({"name": "echo"})),
            &none(),
        ));
        assert_eq!(out["isError"], true);
        assert!(
            out["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("\"message\" is required")
        );
    }

    /// A policy for this test only: `tools/call` needs a `Caller("admin")` in the extensions.
    #[derive(Debug)]
    struct AdminsCall;

    #[derive(Clone)]
    struct Caller(&'static str);

    impl MethodPolicy for AdminsCall {
        fn check(&self, method: &str, request: &Extensions) -> Result<(), Denial> {
            if method != "tools/call" || matches!(request.get::<Caller>(), Some(Caller("admin"))) {
                return Ok(());
            }
            Err(Denial {
                challenge: "Bearer error=\"insufficient_scope\"".into(),
                error: RpcError::new(-32003, "no"),
            })
        }
    }

    #[test]
    fn the_policy_runs_before_the_method_and_sees_the_extensions() {
        let s = step(4).with_policy(AdminsCall);
        let mut bob = Extensions::new();
        bob.insert(Caller("bob"));
        let mut admin = Extensions::new();
        admin.insert(Caller("admin"));
        let call = json!({"name": "echo", "arguments": {"message": "x"}});
        assert!(matches!(
            s.handle(Era::Legacy, "tools/call", Some(&call), &bob),
            Outcome::Forbidden(_)
        ));
        assert!(matches!(
            s.handle(Era::Legacy, "tools/call", Some(&call), &none()),
            Outcome::Forbidden(_)
        ));
        assert!(matches!(
            s.handle(Era::Legacy, "tools/call", Some(&call), &admin),
            Outcome::Result(_)
        ));
        assert!(matches!(
            s.handle(Era::Legacy, "tools/list", None, &bob),
            Outcome::Result(_)
        ));
        assert_eq!(
            s.authorize("tools/call", &bob).unwrap_err().error.code,
            -32003
        );
    }
}
