#!/usr/bin/env bash
# Step 4: dispatch — tools/call and prompts/get run. See docs/step04-dispatch.md.
source "$(dirname "$0")/lib.sh"
build_once

# call ID PARAMS-JSON [CURL ARGS...]: tools/call with these params.
call() {
  local id="$1" params="$2"
  shift 2
  rpc "{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"tools/call\",\"params\":$params}" "$@"
}

# expect_tool_error ID SUBSTRING DESCRIPTION: a tools/call *result* with isError true whose only
# text item says what is wrong.
expect_tool_error() {
  expect_status 200 "$3"
  expect_jq ".id == $1 and (has(\"error\") | not) and .result.isError == true" "$3: a result with isError true"
  expect_jq "(.result.content | length) == 1 and .result.content[0].type == \"text\" and (.result.content[0].text | startswith(\"Invalid arguments for echo: \") and contains(\"$2\"))" \
    "$3: the text says $2"
  expect_jq '.result | has("structuredContent") | not' "$3: no structuredContent on an error"
}

start_server step4

section "GET /health"
request GET /health
expect_status 200 "health answers"
expect_jq '.status == "healthy" and .step == 4' "health says step 4"

section "tools/call echo"
call 1 '{"name":"echo","arguments":{"message":"hi"}}'
expect_status 200 "echo hi"
expect_header Content-Type '^application/json$' "application/json"
expect_no_header Mcp-Session-Id "no session id"
expect_jq '.id == 1 and .result.content == [{"type":"text","text":"hi"}]' "content[0] is the text hi"
expect_jq '.result.structuredContent == {"text":"hi"}' "structuredContent.text is hi (the outputSchema's promise)"
expect_jq '.result.isError == false' "isError is false"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere"
call 2 '{"name":"echo","arguments":{"message":"ab","repeat_count":3}}'
expect_jq '.result.content[0].text == "ababab" and .result.structuredContent.text == "ababab"' "repeat_count 3 repeats"
call 3 '{"name":"echo","arguments":{"message":"x","repeat_count":10}}'
expect_jq '.result.content[0].text == "xxxxxxxxxx"' "repeat_count 10 (the maximum) is allowed"
call 4 '{"name":"echo","arguments":{"message":"x","repeat_count":1}}'
expect_jq '.result.content[0].text == "x"' "repeat_count 1 (the minimum) is allowed"
call 5 '{"name":"echo","arguments":{"message":"héllo 👋"}}'
expect_jq '.result.structuredContent.text == "héllo 👋"' "non-ASCII text survives"
call 6 '{"name":"echo","arguments":{"message":""}}'
expect_jq '.result.isError == false and .result.content[0].text == ""' "an empty message is a valid string"
call '"s"' '{"name":"echo","arguments":{"message":"y","repeat_count":2.0},"_meta":{"progressToken":"t"}}'
expect_jq '.id == "s" and .result.content[0].text == "yy"' "2.0 counts as the integer 2; _meta is ignored"

section "the result is capped at 65536 bytes (64 KiB)"
M16K="$(head -c 16384 /dev/zero | tr '\0' 'a')"
call 7 "{\"name\":\"echo\",\"arguments\":{\"message\":\"$M16K\",\"repeat_count\":4}}"
expect_jq '.result.isError == false and (.result.content[0].text | length) == 65536' "16384 bytes x 4 = 65536 bytes: exactly at the cap, allowed"
call 8 "{\"name\":\"echo\",\"arguments\":{\"message\":\"${M16K}b\",\"repeat_count\":4}}"
expect_tool_error 8 'the result would be 65540 bytes (16385 bytes x 4); the limit is 65536 bytes' "16385 bytes x 4: over the cap"
M1M="$(head -c 1000000 /dev/zero | tr '\0' 'a')"
printf '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"%s","repeat_count":10}}}' "$M1M" >"$WORK/big.json"
STATUS="$(curl -sS -o "$BODY" -w '%{http_code} %{size_download}' --max-time 20 -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" "$BASE/mcp")"
size="${STATUS#* }"; STATUS="${STATUS%% *}"
expect_tool_error 9 'the result would be 10000000 bytes (1000000 bytes x 10); the limit is 65536 bytes' "a 1 MB message x 10"
if [ "$size" -lt 1000 ]; then pass "… answered in $size bytes, not 20 MB"; else fail "answered in $size bytes"; fi

section "argument errors are isError results (the model can correct them)"
call 10 '{"name":"echo","arguments":{}}'
expect_tool_error 10 '\"message\" is required' "missing message"
call 11 '{"name":"echo"}'
expect_tool_error 11 '\"message\" is required' "arguments absent (= {}) and so message missing"
call 12 '{"name":"echo","arguments":{"message":"x","repeat_count":0}}'
expect_tool_error 12 'between 1 and 10, not 0' "repeat_count 0"
call 13 '{"name":"echo","arguments":{"message":"x","repeat_count":11}}'
expect_tool_error 13 'between 1 and 10, not 11' "repeat_count 11"
call 14 '{"name":"echo","arguments":{"message":"x","repeat_count":"2"}}'
expect_tool_error 14 '\"repeat_count\" must be an integer, not a string' "repeat_count as a string"
call 15 '{"name":"echo","arguments":{"message":"x","repeat_count":1.5}}'
expect_tool_error 15 '\"repeat_count\" must be an integer, not 1.5' "repeat_count 1.5"
call 16 '{"name":"echo","arguments":{"message":5}}'
expect_tool_error 16 '\"message\" must be a string, not a number' "message as a number"
call 17 '{"name":"echo","arguments":{"message":null}}'
expect_tool_error 17 '\"message\" must be a string, not null' "message null"
call 18 '{"name":"echo","arguments":{"message":"x","loud":true}}'
expect_tool_error 18 'unknown argument \"loud\"' "an unknown property"

section "protocol errors are JSON-RPC -32602"
call 20 '{"name":"nope","arguments":{}}'
expect_status 200 "an unknown tool"
expect_jq '.id == 20 and .error.code == -32602 and .error.message == "Unknown tool: nope"' "unknown tool is -32602 naming it"
call 21 '{"arguments":{"message":"x"}}'
expect_jq '.id == 21 and .error.code == -32602 and .error.message == "tools/call: name is required"' "missing name is -32602"
call 22 '{"name":7}'
expect_jq '.id == 22 and .error.code == -32602 and (.error.message | contains("name must be a string"))' "a numeric name is -32602"
call 23 '{"name":"echo","arguments":["x"]}'
expect_jq '.id == 23 and .error.code == -32602 and (.error.message | contains("arguments must be an object"))' "array arguments are -32602"
rpc '{"jsonrpc":"2.0","id":24,"method":"tools/call"}'
expect_jq '.id == 24 and .error.code == -32602' "tools/call without params is -32602"
call 25 '{"name":"whoami"}'
expect_jq '.id == 25 and .error.code == -32602' "whoami does not exist before step 6"

section "prompts/get echo_prompt"
rpc '{"jsonrpc":"2.0","id":30,"method":"prompts/get","params":{"name":"echo_prompt","arguments":{"message":"hi"}}}'
expect_status 200 "prompts/get echo_prompt"
expect_jq '.id == 30 and (.result.description | type == "string")' "a description"
expect_jq '.result.messages == [{"role":"user","content":{"type":"text","text":"Please echo: hi"}}]' "one user message: Please echo: hi"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere"
rpc '{"jsonrpc":"2.0","id":31,"method":"prompts/get","params":{"name":"nope","arguments":{"message":"hi"}}}'
expect_jq '.id == 31 and .error.code == -32602 and .error.message == "Unknown prompt: nope"' "an unknown prompt is -32602"
rpc '{"jsonrpc":"2.0","id":32,"method":"prompts/get","params":{"name":"echo_prompt"}}'
expect_jq '.id == 32 and .error.code == -32602 and (.error.message | contains("\"message\" is required"))' "a missing required argument is -32602"
rpc '{"jsonrpc":"2.0","id":33,"method":"prompts/get","params":{"name":"echo_prompt","arguments":{"message":3}}}'
expect_jq '.id == 33 and .error.code == -32602 and (.error.message | contains("must be a string"))' "a non-string argument is -32602"
rpc '{"jsonrpc":"2.0","id":34,"method":"prompts/get","params":{"arguments":{"message":"hi"}}}'
expect_jq '.id == 34 and .error.code == -32602 and .error.message == "prompts/get: name is required"' "prompts/get without name is -32602"

section "a whole session, as an MCP client runs it"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test_step4","version":"1"}}}'
expect_jq '.result.protocolVersion == "2025-06-18" and .result.capabilities.tools.listChanged == false and .result.serverInfo.name == "mcp-auth-steps-step4"' "initialize (2025-06-18)"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H 'MCP-Protocol-Version: 2025-06-18'
expect_status 202 "notifications/initialized"
expect_empty_body "notifications/initialized: empty body"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-06-18' -H 'Accept: application/json, text/event-stream'
expect_jq '.result.tools[0].name == "echo"' "tools/list"
call 3 '{"name":"echo","arguments":{"message":"ok"}}' -H 'MCP-Protocol-Version: 2025-06-18' -H 'Accept: application/json, text/event-stream'
expect_jq '.result.content[0].text == "ok"' "tools/call"

section "modern era (2026-07-28): tools/call and prompts/get with Mcp-Name"
modern_rpc 50 tools/call '{"name":"echo","arguments":{"message":"ab","repeat_count":2}}'
expect_status 200 "modern tools/call"
expect_jq '.result.content == [{"type":"text","text":"abab"}] and .result.structuredContent == {"text":"abab"} and .result.isError == false' "echo runs"
expect_jq '.result.resultType == "complete" and (.result | has("ttlMs") | not)' "resultType complete, no cache hints on a call"
expect_log "$SERVER_LOG" 'rpc_method="tools/call".* era="modern" client="test-script"' "the log line: era modern, client test-script"
modern_rpc 51 prompts/get '{"name":"echo_prompt","arguments":{"message":"m"}}'
expect_jq '.result.messages[0].content.text == "Please echo: m" and .result.resultType == "complete"' "modern prompts/get"
CALL='{"jsonrpc":"2.0","id":52,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
MODERN=(-H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call')
rpc "$CALL" "${MODERN[@]}"
expect_status 400 "Mcp-Name missing"
expect_jq '.id == 52 and .error.code == -32020 and (.error.message | contains("Mcp-Name header is required"))' "  -32020, the message names Mcp-Name"
rpc "$CALL" "${MODERN[@]}" -H 'Mcp-Name: whoami'
expect_jq '.error.code == -32020 and .error.message == "Header mismatch: Mcp-Name header \"whoami\" does not match params.name \"echo\""' "Mcp-Name differs: -32020 naming both"
rpc "$CALL" "${MODERN[@]}" -H "Mcp-Name: =?base64?$(printf echo | base64)?="
expect_jq '.result.content[0].text == "x"' "Mcp-Name as =?base64?ZWNobw==?= is decoded and matches"
rpc "$CALL" "${MODERN[@]}" -H 'Mcp-Name: =?base64?ZWNobw?='
expect_jq '.error.code == -32020' "non-canonical base64 (no padding) never matches: -32020"
rpc "$CALL" "${MODERN[@]}" -H 'Mcp-Name: =?BASE64?ZWNobw==?='
expect_jq '.error.code == -32020' "the sentinel is case-sensitive: =?BASE64?…?= is a plain value"
modern_rpc 53 tools/call '{"name":"nope","arguments":{}}'
expect_status 200 "an unknown tool: the method's own error"
expect_jq '.error.code == -32602' "  -32602"
modern_rpc 54 tools/call '{"name":"echo","arguments":{"repeat_count":0}}'
expect_jq '.result.isError == true' "a schema error is an isError result in the modern era too"

section "regressions: guard and transport"
call 40 '{"name":"echo","arguments":{"message":"hi"}}' -H 'Origin: http://localhost.evil.com'
expect_status 403 "a look-alike Origin is refused before dispatch"
expect_jq '(has("id") | not) and .error.code == -32001' "403: JSON-RPC error without id"
call 41 '{"name":"echo","arguments":{"message":"hi"}}' -H 'Host: evil.com'
expect_status 403 "a foreign Host is refused"
call 42 '{"name":"echo","arguments":{"message":"hi"}}' -H 'Origin: http://127.0.0.1:1'
expect_status 200 "a loopback Origin is served"
rpc '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
expect_status 400 "a batch"
expect_jq '.error.code == -32600 and .id == null' "a batch is -32600, id null"
rpc '{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}'
expect_status 400 "id null is not a notification"
rpc '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}'
expect_status 202 "a tools/call notification gets 202"
expect_empty_body "a tools/call notification: empty body"
rpc '{"jsonrpc":"2.0","id":43,"method":"nope"}'
expect_jq '.id == 43 and .error.code == -32601' "an unknown method is -32601"
request POST /mcp -H 'Content-Type: text/plain' --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 415 "text/plain"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Accept: text/event-stream'
expect_status 406 "Accept: text/event-stream"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'MCP-Protocol-Version: banana'
expect_status 400 "MCP-Protocol-Version: banana"
request DELETE /mcp
expect_status 405 "DELETE /mcp"
expect_header Allow '^POST$' "DELETE /mcp: Allow: POST"

section "configuration and shutdown"
expect_exit 1 "MCP_SERVER_URL=notaurl stops step4" timeout 10 env MCP_SERVER_URL=notaurl "$BIN/step4" --port 0
expect_output 'MCP_SERVER_URL' "the message names MCP_SERVER_URL"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
if [ "$rc" -eq 0 ]; then pass "SIGTERM: exit status 0"; else fail "SIGTERM: exit status $rc"; fi

# slow PORT MODE ARGS...: scripts/slow_clients.py's one JSON line about what the server did.
slow() { python3 "$ROOT/scripts/slow_clients.py" "$@" >"$WORK/slow.json"; cat "$WORK/slow.json"; }

section "a client that never reads its answers is dropped after --write-timeout (2 s)"
start_server step4 --write-timeout 2 --header-timeout 10
slow "${BASE##*:}" reader 300 - >/dev/null
if jq -e '.closed == true and .after_s >= 1.9 and .after_s <= 6 and .bytes < 1000000' "$WORK/slow.json" >/dev/null; then
  pass "300 pipelined 64 KiB echo calls, nothing read: the connection is dropped at about 2 s, $(jq .bytes "$WORK/slow.json") bytes delivered (of about 39 MB)"
else fail "stuck reader: $(cat "$WORK/slow.json")"; fi

finish
