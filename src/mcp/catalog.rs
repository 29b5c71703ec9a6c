//! Step 3: what the server offers — tool and prompt definitions (MCP 2025-11-25, Server features).
//!
//! Each entry pairs its definition (what `tools/list` and `prompts/list` show) with the function
//! that runs it; step 3 only lists, step 4 (`dispatch`) runs. Optional fields are left out
//! when absent, never sent as `null`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use axum::http::Extensions;

/// A tool definition as `tools/list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDef {
    /// Unique name, used by `tools/call`.
    pub name: &'static str,
    /// Human-readable title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'static str>,
    /// What it does, for the model.
    pub description: &'static str,
    /// JSON Schema (2020-12) of `arguments`.
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

/// A prompt argument.
#[derive(Debug, Clone, Serialize)]
pub struct PromptArg {
    /// Name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Must the client send it?
    pub required: bool,
}

/// A prompt definition as `prompts/list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PromptDef {
    /// Unique name, used by `prompts/get`.
    pub name: &'static str,
    /// Human-readable title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'static str>,
    /// What it is for.
    pub description: &'static str,
    /// Its arguments.
    pub arguments: Vec<PromptArg>,
}

/// What a tool call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The text content item.
    pub text: String,
    /// `structuredContent`, matching the tool's `outputSchema`.
    pub structured: Option<Value>,
    /// `true` for errors the model can read and correct (bad arguments).
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful result with its structured form.
    pub fn ok(text: String, structured: Value) -> Self {
        Self {
            text,
            structured: Some(structured),
            is_error: false,
        }
    }

    /// An `isError` result: the text says what is wrong.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            structured: None,
            is_error: true,
        }
    }

    /// The `tools/call` result.
    pub fn to_value(&self) -> Value {
        let mut result = Map::new();
        result.insert(
            "content".into(),
            json!([{"type": "text", "text": self.text}]),
        );
        if let Some(structured) = &self.structured {
            result.insert("structuredContent".into(), structured.clone());
        }
        result.insert("isError".into(), self.is_error.into());
        Value::Object(result)
    }
}

/// What a tool can see of the request that called it.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The request's extensions: what earlier layers established (from step 6 on, the verified
    /// caller, which the `whoami` tool of `auth::identity` reads).
    pub request: &'a Extensions,
}

/// Runs a tool on its (already object-shaped) arguments.
pub type ToolFn = fn(&Map<String, Value>, &CallContext<'_>) -> ToolOutput;
/// Renders a prompt from its string arguments; `Err` is a -32602 message.
pub type PromptFn = fn(&Map<String, Value>) -> Result<Value, String>;

/// A tool and its implementation.
#[derive(Debug, Clone)]
pub struct Tool {
    /// What `tools/list` shows.
    pub def: ToolDef,
    /// What `tools/call` runs.
    pub run: ToolFn,
}

/// A prompt and its implementation.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What `prompts/list` shows.
    pub def: PromptDef,
    /// What `prompts/get` renders.
    pub render: PromptFn,
}

/// The server's tools and prompts.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Tools, in listing order.
    pub tools: Vec<Tool>,
    /// Prompts, in listing order.
    pub prompts: Vec<Prompt>,
}

impl Catalog {
    /// The `echo` tool and the `echo_prompt` prompt (steps 3–5).
    pub fn echo() -> Self {
        Self {
            tools: vec![echo_tool()],
            prompts: vec![echo_prompt()],
        }
    }

    /// Adds a tool after the ones already listed (step 6 adds `whoami`).
    pub fn with_tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// The `capabilities` this catalog declares in `initialize`.
    pub fn capabilities(&self) -> Map<String, Value> {
        let mut caps = Map::new();
        if !self.tools.is_empty() {
            caps.insert("tools".into(), json!({"listChanged": false}));
        }
        if !self.prompts.is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": false}));
        }
        caps
    }

    /// `tools/list` result (one page: no `nextCursor`).
    pub fn list_tools(&self) -> Value {
        json!({"tools": self.tools.iter().map(|t| &t.def).collect::<Vec<_>>()})
    }

    /// `prompts/list` result (one page: no `nextCursor`).
    pub fn list_prompts(&self) -> Value {
        json!({"prompts": self.prompts.iter().map(|p| &p.def).collect::<Vec<_>>()})
    }

    /// Finds a tool by name.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.def.name == name)
    }

    /// Finds a prompt by name.
    pub fn prompt(&self, name: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|p| p.def.name == name)
    }
}

/// The largest `repeat_count` echo accepts.
pub const MAX_REPEAT: i64 = 10;

/// The largest text echo returns, in bytes (after repetition). A request body may be 1 MiB, and
/// the text appears twice in the result (`content` and `structuredContent`), so without a cap one
/// request could make the server build a 20 MB answer. The tool's description states it.
pub const MAX_ECHO_BYTES: usize = 64 * 1024;

fn echo_tool() -> Tool {
    Tool {
        def: ToolDef {
            name: "echo",
            title: Some("Echo"),
            description: "Returns the message, repeated repeat_count times (default 1). The result is at most 65536 bytes (64 KiB); a longer one is refused with an error.",
            // ANCHOR: echo_input_schema
            input_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "message": {"type": "string", "description": "The text to echo back."},
                    "repeat_count": {
                        "type": "integer", "minimum": 1, "maximum": MAX_REPEAT, "default": 1,
                        "description": "How many times to repeat the message."
                    }
                },
                "required": ["message"],
                "additionalProperties": false
            }),
            // ANCHOR_END: echo_input_schema
            output_schema: Some(json!({
                "type": "object",
                "properties": {"text": {"type": "string", "description": "The echoed text."}},
                "required": ["text"],
                "additionalProperties": false
            })),
            annotations: Some(json!({
                "readOnlyHint": true,
                "destructiveHint": false,
                "idempotentHint": true,
                "openWorldHint": false
            })),
        },
        run: run_echo,
    }
}

/// Checks echo's arguments against its input schema; the error text is what the model reads.
// ANCHOR: echo_args
pub fn echo_args(args: &Map<String, Value>) -> Result<(String, usize), String> {
    if let Some(unknown) = args
        .keys()
        .find(|k| *k != "message" && *k != "repeat_count")
    {
        return Err(format!(
            "unknown argument {unknown:?}: echo takes only \"message\" and \"repeat_count\""
        ));
    }
    let message = match args.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("\"message\" must be a string, not {}", kind(other))),
        None => return Err("\"message\" is required".into()),
    };
    let count = match args.get("repeat_count") {
        None => 1,
        Some(Value::Number(n)) => match integer(n) {
            Some(c) if (1..=MAX_REPEAT).contains(&c) => c,
            Some(c) => {
                return Err(format!(
                    "\"repeat_count\" must be between 1 and {MAX_REPEAT}, not {c}"
                ));
            }
            None => return Err(format!("\"repeat_count\" must be an integer, not {n}")),
        },
        Some(other) => {
            return Err(format!(
                "\"repeat_count\" must be an integer, not {}",
                kind(other)
            ));
        }
    };
    Ok((message, count as usize))
}
// ANCHOR_END: echo_args

/// A JSON Schema integer: a number with no fractional part (2 and 2.0 alike).
fn integer(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn run_echo(args: &Map<String, Value>, _ctx: &CallContext<'_>) -> ToolOutput {
    match echo_args(args) {
        // Checked before anything is built: the cost of a refused call stays that of its request.
        Ok((message, count)) if message.len().saturating_mul(count) > MAX_ECHO_BYTES => {
            ToolOutput::error(format!(
                "Invalid arguments for echo: the result would be {} bytes ({} bytes x {count}); the limit is {MAX_ECHO_BYTES} bytes",
                message.len().saturating_mul(count),
                message.len()
            ))
        }
        Ok((message, count)) => {
            let text = message.repeat(count);
            ToolOutput::ok(text.clone(), json!({"text": text}))
        }
        Err(why) => ToolOutput::error(format!("Invalid arguments for echo: {why}")),
    }
}

fn echo_prompt() -> Prompt {
    Prompt {
        def: PromptDef {
            name: "echo_prompt",
            title: Some("Echo prompt"),
            description: "A user message that asks the model to echo the given text.",
            arguments: vec![PromptArg {
                name: "message",
                description: "The text to be echoed.",
                required: true,
            }],
        },
        render: render_echo_prompt,
    }
}

fn render_echo_prompt(args: &Map<String, Value>) -> Result<Value, String> {
    let message = match args.get("message") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("echo_prompt: argument \"message\" must be a string".into()),
        None => return Err("echo_prompt: argument \"message\" is required".into()),
    };
    Ok(json!({
        "description": "Asks the model to echo a message",
        "messages": [{"role": "user", "content": {"type": "text", "text": format!("Please echo: {message}")}}]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn echo_repeats() {
        let out = run_echo(
            &args(json!({"message": "ab", "repeat_count": 3})),
            &CallContext {
                request: &Extensions::new(),
            },
        );
        assert_eq!(
            out,
            ToolOutput::ok("ababab".into(), json!({"text": "ababab"}))
        );
        let once = run_echo(
            &args(json!({"message": "x"})),
            &CallContext {
                request: &Extensions::new(),
            },
        );
        assert_eq!(once.text, "x");
        assert_eq!(
            echo_args(&args(json!({"message": "x", "repeat_count": 2.0})))
                .unwrap()
                .1,
            2
        );
    }

    #[test]
    fn echo_argument_errors_say_what_is_wrong() {
        let cases = [
            (json!({}), "\"message\" is required"),
            (
                json!({"message": 5}),
                "\"message\" must be a string, not a number",
            ),
            (
                json!({"message": "x", "repeat_count": 0}),
                "between 1 and 10, not 0",
            ),
            (
                json!({"message": "x", "repeat_count": 11}),
                "between 1 and 10, not 11",
            ),
            (
                json!({"message": "x", "repeat_count": 1.5}),
                "must be an integer, not 1.5",
            ),
            (
                json!({"message": "x", "repeat_count": "2"}),
                "must be an integer, not a string",
            ),
            (
                json!({"message": "x", "loud": true}),
                "unknown argument \"loud\"",
            ),
        ];
        for (input, expected) in cases {
            let out = run_echo(
                &args(input.clone()),
                &CallContext {
                    request: &Extensions::new(),
                },
            );
            assert!(out.is_error, "{input}");
            assert!(out.text.contains(expected), "{input}: {}", out.text);
            assert_eq!(out.structured, None);
        }
    }

    #[test]
    fn definitions_have_no_nulls_and_every_entry_a_description() {
        let listed = Catalog::echo().list_tools().to_string();
        assert!(!listed.contains("null"), "{listed}");
        let c = Catalog::echo();
        assert!(c.tools.iter().all(|t| !t.def.description.is_empty()));
        assert!(c.prompts.iter().all(|p| !p.def.description.is_empty()));
        let caps = Value::Object(c.capabilities());
        assert_eq!(
            caps,
            json!({"tools": {"listChanged": false}, "prompts": {"listChanged": false}})
        );
        assert_eq!(Value::Object(Catalog::default().capabilities()), json!({}));
    }

    #[test]
    fn echo_prompt_renders_and_checks_its_argument() {
        let r = render_echo_prompt(&args(json!({"message": "hi"}))).unwrap();
        assert_eq!(r["messages"][0]["content"]["text"], "Please echo: hi");
        assert_eq!(r["messages"][0]["role"], "user");
        assert!(
            render_echo_prompt(&Map::new())
                .unwrap_err()
                .contains("required")
        );
        assert!(
            render_echo_prompt(&args(json!({"message": 1})))
                .unwrap_err()
                .contains("string")
        );
    }

    #[test]
    fn echo_output_is_capped_before_it_is_built() {
        let ctx = CallContext {
            request: &Extensions::new(),
        };
        let at_limit = "x".repeat(MAX_ECHO_BYTES / 4);
        let out = run_echo(&args(json!({"message": at_limit, "repeat_count": 4})), &ctx);
        assert!(!out.is_error);
        assert_eq!(out.text.len(), MAX_ECHO_BYTES);
        let over = "x".repeat(MAX_ECHO_BYTES / 4 + 1);
        let out = run_echo(&args(json!({"message": over, "repeat_count": 4})), &ctx);
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "Invalid arguments for echo: the result would be 65540 bytes (16385 bytes x 4); the limit is 65536 bytes"
        );
        assert_eq!(out.structured, None);
    }
}
