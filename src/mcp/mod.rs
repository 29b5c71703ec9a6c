//! Part 1, steps 2–4: the MCP protocol — JSON-RPC, the lifecycle and protocol versions, the
//! catalog of tools and prompts, dispatch, and the `/mcp` endpoint.

pub mod catalog;
pub mod dispatch;
pub mod endpoint;
pub mod jsonrpc;
pub mod lifecycle;
