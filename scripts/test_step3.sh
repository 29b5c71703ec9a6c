#!/usr/bin/env bash
# Step 3: tools and prompts, described (tools/list, prompts/list). See docs/step03-tools-and-prompts.md.
source "$(dirname "$0")/lib.sh"
build_once

start_server step3

section "GET /health"
request GET /health
expect_status 200 "health answers"
expect_jq '.status == "healthy" and .step == 3' "health says step 3"

section "initialize declares tools and prompts"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test_step3","version":"1"}}}'
expect_status 200 "initialize"
expect_jq '.result.capabilities.tools.listChanged == false' "capabilities.tools.listChanged is false"
expect_jq '.result.capabilities.prompts.listChanged == false' "capabilities.prompts.listChanged is false"
expect_jq '.result.capabilities | keys == ["prompts","tools"]' "only tools and prompts are declared"
expect_jq '.result.serverInfo.name == "mcp-auth-steps-step3"' "serverInfo names step 3"

section "tools/list: the echo definition"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect_status 200 "tools/list"
expect_header Content-Type '^application/json$' "tools/list is application/json"
expect_jq '.id == 2 and (.result.tools | length) == 1' "one tool"
expect_jq '.result | has("nextCursor") | not' "one page: no nextCursor"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere"
expect_jq '.result.tools[0] | keys == ["annotations","description","inputSchema","name","outputSchema","title"]' "exactly the expected fields"
expect_jq '.result.tools[0] | .name == "echo" and .title == "Echo"' "name echo, title Echo"
expect_jq '.result.tools[0].description | type == "string" and length > 0' "a description"
# shellcheck disable=SC2016 # "$schema" is a JSON key, not a shell variable
expect_jq '.result.tools[0].inputSchema | ."$schema" == "https://json-schema.org/draft/2020-12/schema" and .type == "object"' "inputSchema: a 2020-12 object schema"
expect_jq '.result.tools[0].inputSchema | .required == ["message"] and .additionalProperties == false' "inputSchema: message required, additionalProperties false"
expect_jq '.result.tools[0].inputSchema.properties | keys == ["message","repeat_count"]' "inputSchema: two properties"
expect_jq '.result.tools[0].inputSchema.properties.message.type == "string"' "message is a string"
expect_jq '.result.tools[0].inputSchema.properties.repeat_count | .type == "integer" and .minimum == 1 and .maximum == 10 and .default == 1' "repeat_count: integer 1..10, default 1"
expect_jq '.result.tools[0].inputSchema.properties | [.[] | .description | type == "string"] | all' "every property has a description"
expect_jq '.result.tools[0].outputSchema | .type == "object" and .properties.text.type == "string" and .required == ["text"]' "outputSchema: object with a text string"
expect_jq '.result.tools[0].annotations == {"readOnlyHint":true,"destructiveHint":false,"idempotentHint":true,"openWorldHint":false}' "annotations: read-only, not destructive, idempotent, closed world"

section "prompts/list: echo_prompt"
rpc '{"jsonrpc":"2.0","id":3,"method":"prompts/list"}'
expect_status 200 "prompts/list"
expect_jq '(.result.prompts | length) == 1 and .result.prompts[0].name == "echo_prompt"' "one prompt, echo_prompt"
expect_jq '.result.prompts[0].description | type == "string" and length > 0' "a description"
expect_jq '.result.prompts[0].arguments | length == 1 and .[0].name == "message" and .[0].required == true' "one required argument, message"
expect_jq '.result.prompts[0].arguments[0].description | type == "string" and length > 0' "the argument has a description"
expect_jq '.result | has("nextCursor") | not' "one page: no nextCursor"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere"

section "cursor"
rpc '{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"anything"}}'
expect_status 200 "tools/list with a cursor"
expect_jq '.id == 4 and (.result.tools | length) == 1' "the cursor is accepted (one page)"
rpc '{"jsonrpc":"2.0","id":5,"method":"prompts/list","params":{"cursor":"x","_meta":{}}}'
expect_jq '.id == 5 and (.result.prompts | length) == 1' "prompts/list with a cursor"
rpc '{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"cursor":7}}'
expect_status 200 "a numeric cursor"
expect_jq '.id == 6 and .error.code == -32602 and (.error.message | contains("cursor must be a string"))' "a numeric cursor is -32602"
rpc '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":["x"]}'
expect_jq '.id == 7 and .error.code == -32602' "array params to tools/list is -32602"

section "describing is not executing (-32601)"
rpc '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
expect_status 200 "tools/call"
expect_jq '.id == 8 and .error.code == -32601 and .error.message == "Method not found: tools/call"' "tools/call is -32601 in step 3"
rpc '{"jsonrpc":"2.0","id":9,"method":"prompts/get","params":{"name":"echo_prompt","arguments":{"message":"hi"}}}'
expect_jq '.id == 9 and .error.code == -32601' "prompts/get is -32601 in step 3"

section "modern era (2026-07-28): the same catalog, complete and cacheable"
modern_rpc 30 server/discover '{}'
expect_jq '.result.capabilities == {"prompts":{"listChanged":false},"tools":{"listChanged":false}}' "server/discover declares tools and prompts"
modern_rpc 31 tools/list '{}'
expect_status 200 "modern tools/list"
expect_jq '.result.tools[0].name == "echo" and (.result.tools | length) == 1' "the echo definition"
expect_jq '.result.resultType == "complete" and .result.ttlMs == 3600000 and .result.cacheScope == "public"' "resultType complete, ttlMs 3600000, cacheScope public"
expect_jq '.result._meta["io.modelcontextprotocol/serverInfo"].name == "mcp-auth-steps-step3"' "serverInfo in _meta"
rpc '{"jsonrpc":"2.0","id":32,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-11-25'
expect_jq '.result | (has("resultType") or has("ttlMs") or has("_meta")) | not' "the legacy answer has none of the modern fields"
modern_rpc 33 prompts/list '{}'
expect_jq '.result.prompts[0].name == "echo_prompt" and .result.cacheScope == "public"' "modern prompts/list"
modern_rpc 34 tools/call '{"name":"echo","arguments":{"message":"hi"}}'
expect_status 404 "modern tools/call in step 3: 404 (this step does not execute)"
expect_jq '.id == 34 and .error.code == -32601' "  -32601"

section "regressions: lifecycle, transport, guard"
rpc '{"jsonrpc":"2.0","id":10,"method":"ping"}'
expect_jq '.result == {}' "ping"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_status 202 "notification"
expect_empty_body "notification: empty body"
rpc '{nope'
expect_status 400 "parse error"
expect_jq '.error.code == -32700 and .id == null' "parse error is -32700, id null"
rpc '{"jsonrpc":"2.0","id":11,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2099-01-01'
expect_status 400 "an unsupported MCP-Protocol-Version"
expect_jq '.error.code == -32022' "  -32022"
request GET /mcp
expect_status 405 "GET /mcp"
expect_header Allow '^POST$' "Allow: POST"
rpc '{"jsonrpc":"2.0","id":12,"method":"tools/list"}' -H 'Origin: http://localhost.evil.com'
expect_status 403 "a look-alike Origin"
rpc '{"jsonrpc":"2.0","id":12,"method":"tools/list"}' -H 'Origin: http://[::1]:3000'
expect_status 200 "an IPv6 loopback Origin"

finish
