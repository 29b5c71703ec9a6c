#!/usr/bin/env bash
# Step 2: JSON-RPC over POST /mcp and the MCP lifecycle. See docs/step02-jsonrpc-lifecycle.md.
source "$(dirname "$0")/lib.sh"
build_once

PING='{"jsonrpc":"2.0","id":1,"method":"ping"}'

# initialize_body ID VERSION: an initialize request as an MCP client sends it.
initialize_body() {
  printf '{"jsonrpc":"2.0","id":%s,"method":"initialize","params":{"protocolVersion":"%s","capabilities":{},"clientInfo":{"name":"test_step2","version":"1"}}}' "$1" "$2"
}

# expect_rpc_error HTTP CODE ID DESCRIPTION: a JSON-RPC error answer (ID is JSON: 1, "a", null).
expect_rpc_error() {
  expect_status "$1" "$4"
  expect_header Content-Type '^application/json$' "$4: application/json"
  expect_jq ".jsonrpc == \"2.0\" and .error.code == $2 and .id == $3 and (has(\"result\") | not)" \
    "$4: error $2, id $3"
}

# expect_accepted DESCRIPTION: 202, empty body, no JSON content type.
expect_accepted() {
  expect_status 202 "$1"
  expect_empty_body "$1: empty body"
  expect_no_header Content-Type "$1: no Content-Type"
}

start_server step2

section "GET /health"
request GET /health
expect_status 200 "health answers"
expect_jq '.status == "healthy" and .step == 2' "health says step 2"

section "ping"
rpc "$PING"
expect_status 200 "ping"
expect_header Content-Type '^application/json$' "ping answer is application/json"
expect_jq '. == {"jsonrpc":"2.0","id":1,"result":{}}' "ping result is exactly {}"
expect_no_header Mcp-Session-Id "no session id"
rpc '{"jsonrpc":"2.0","id":"p-2","method":"ping","params":{"extra":true,"_meta":{"progressToken":1}}}'
expect_jq '.id == "p-2" and .result == {}' "ping with extra params still answers {} (string id echoed)"
rpc '{"jsonrpc":"2.0","id":-7,"method":"ping"}'
expect_jq '.id == -7 and .result == {}' "negative integer ids are ids"
rpc '{"jsonrpc":"2.0","id":"","method":"ping"}'
expect_jq '.id == "" and .result == {}' "the empty string is an id"

section "initialize and version negotiation"
for version in 2025-11-25 2025-06-18 2025-03-26; do
  rpc "$(initialize_body 1 "$version")"
  expect_status 200 "initialize $version"
  expect_jq ".result.protocolVersion == \"$version\"" "$version is echoed"
done
rpc "$(initialize_body 1 2025-11-25)"
expect_jq '.result.serverInfo.name == "mcp-auth-steps-step2" and (.result.serverInfo.version | type == "string") and (.result.serverInfo.title | type == "string")' "serverInfo has name, title, version"
expect_jq '.result.capabilities == {}' "step 2 declares no capabilities"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere in the result"
expect_no_header Mcp-Session-Id "initialize issues no Mcp-Session-Id"
rpc "$(initialize_body 1 2025-03-26)"
expect_jq '.result.serverInfo | has("title") | not' "2025-03-26 clients get serverInfo without title"
for version in 2024-11-05 2026-07-28 banana; do
  rpc "$(initialize_body 4 "$version")"
  expect_status 200 "initialize $version is a result, not an error"
  expect_jq '.id == 4 and .result.protocolVersion == "2025-11-25"' "$version → our latest, 2025-11-25"
done
rpc '{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"capabilities":{},"clientInfo":{"name":"c","version":"1"}}}'
expect_rpc_error 200 -32602 5 "initialize without protocolVersion"
expect_jq '.error.message | contains("protocolVersion")' "the message names protocolVersion"
rpc '{"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocolVersion":20251125}}'
expect_rpc_error 200 -32602 6 "initialize with a numeric protocolVersion"
rpc '{"jsonrpc":"2.0","id":7,"method":"initialize"}'
expect_rpc_error 200 -32602 7 "initialize without params"

section "methods step 2 does not have"
rpc '{"jsonrpc":"2.0","id":8,"method":"tools/list"}'
expect_rpc_error 200 -32601 8 "tools/list"
expect_jq '.error.message == "Method not found: tools/list"' "the message names the method"
rpc '{"jsonrpc":"2.0","id":"x","method":"prompts/list"}'
expect_rpc_error 200 -32601 '"x"' "prompts/list"
rpc '{"jsonrpc":"2.0","id":9,"method":"no/such/method","params":{}}'
expect_rpc_error 200 -32601 9 "an unknown method"
rpc '{"jsonrpc":"2.0","id":10,"method":"server/discover","params":{}}'
expect_rpc_error 200 -32601 10 "server/discover without MCP-Protocol-Version: 2026-07-28 (a 2025-03-26 request)"

section "malformed messages (HTTP 400)"
rpc '{"jsonrpc":"2.0","id":1,'
expect_rpc_error 400 -32700 null "truncated JSON"
expect_jq '.error.message | startswith("Parse error")' "parse error message"
rpc 'hello'
expect_rpc_error 400 -32700 null "not JSON at all"
rpc ''
expect_rpc_error 400 -32700 null "an empty body"
rpc '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
expect_rpc_error 400 -32600 null "a batch"
expect_jq '.error.message | contains("batches are not supported")' "the message says batches are not supported"
rpc '[]'
expect_rpc_error 400 -32600 null "an empty batch"
rpc '42'
expect_rpc_error 400 -32600 null "a number"
rpc '"ping"'
expect_rpc_error 400 -32600 null "a string"
rpc 'null'
expect_rpc_error 400 -32600 null "null"
rpc '{"jsonrpc":"1.0","id":11,"method":"ping"}'
expect_rpc_error 400 -32600 11 'jsonrpc "1.0" (id echoed)'
expect_jq '.error.message | contains("jsonrpc must be")' "the message names jsonrpc"
rpc '{"id":12,"method":"ping"}'
expect_rpc_error 400 -32600 12 "jsonrpc missing"
rpc '{"jsonrpc":2.0,"id":13,"method":"ping"}'
expect_rpc_error 400 -32600 13 "jsonrpc as a number"
rpc '{"jsonrpc":"2.0","id":14}'
expect_rpc_error 400 -32600 14 "method missing"
expect_jq '.error.message | contains("method is required")' "the message says method is required"
rpc '{"jsonrpc":"2.0","id":"m","method":7}'
expect_rpc_error 400 -32600 '"m"' "method not a string"
expect_jq '.error.message | contains("method must be a string")' "the message says method must be a string"
rpc '{"jsonrpc":"2.0","id":15,"method":"ping","params":"x"}'
expect_rpc_error 400 -32600 15 "params neither object nor array"
for id in null true 1.5 '{}' '[1]'; do
  rpc "{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"ping\"}"
  expect_rpc_error 400 -32600 null "id $id is not an id"
  expect_jq '.error.message | contains("id must be a string or an integer")' "id $id: the message says what an id is"
done
rpc '{"jsonrpc":"2.0","id":16,"result":{},"error":{"code":1,"message":"m"}}'
expect_rpc_error 400 -32600 16 "a response with both result and error"

section "notifications and client responses (202, empty body)"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_accepted "notifications/initialized"
rpc '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user"}}'
expect_accepted "notifications/cancelled"
rpc '{"jsonrpc":"2.0","method":"notifications/no-such-thing"}'
expect_accepted "an unknown notification"
rpc '{"jsonrpc":"2.0","method":"tools/list"}'
expect_accepted "a request method sent without id is a notification"
rpc '{"jsonrpc":"2.0","id":17,"result":{}}'
expect_accepted "a client response"
rpc '{"jsonrpc":"2.0","id":"s1","error":{"code":-1,"message":"user declined"}}'
expect_accepted "a client error response"

section "MCP-Protocol-Version header"
rpc "$PING"
expect_status 200 "absent"
for version in 2025-11-25 2025-06-18 2025-03-26; do
  rpc "$PING" -H "MCP-Protocol-Version: $version"
  expect_status 200 "MCP-Protocol-Version: $version"
  expect_jq '.result == {}' "$version: ping answered"
done
for version in 2099-01-01 banana 2024-11-05; do
  rpc "$PING" -H "MCP-Protocol-Version: $version"
  expect_rpc_error 400 -32022 1 "MCP-Protocol-Version: $version"
  expect_jq ".error.message | contains(\"$version\") and contains(\"supported: 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26\")" \
    "$version: the message names it and the supported versions"
  expect_jq ".error.data == {\"supported\":[\"2026-07-28\",\"2025-11-25\",\"2025-06-18\",\"2025-03-26\"],\"requested\":\"$version\"}" \
    "$version: data.supported lists them, data.requested names it"
done
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H 'MCP-Protocol-Version: banana'
expect_rpc_error 400 -32022 null "a notification with an unsupported version"
rpc "$PING" -H 'MCP-Protocol-Version: 2025-11-25' -H 'MCP-Protocol-Version: 2025-11-25'
expect_rpc_error 400 -32020 1 "MCP-Protocol-Version sent twice"

section "modern era (2026-07-28): server/discover"
modern_rpc 20 server/discover '{}'
expect_status 200 "server/discover"
expect_header Content-Type '^application/json$' "server/discover: application/json"
expect_jq '.id == 20 and .result.supportedVersions == ["2026-07-28","2025-11-25","2025-06-18","2025-03-26"]' "supportedVersions: the modern one first, then the legacy ones"
expect_jq '.result.capabilities == {} and .result.resultType == "complete"' "capabilities {} (step 2), resultType complete"
expect_jq '.result.ttlMs == 3600000 and .result.cacheScope == "public"' "ttlMs 3600000, cacheScope public"
expect_jq '.result._meta["io.modelcontextprotocol/serverInfo"].name == "mcp-auth-steps-step2" and (.result._meta["io.modelcontextprotocol/serverInfo"].version | type == "string")' "serverInfo in _meta"
expect_jq '[.. | select(. == null)] | length == 0' "no null anywhere in the result"
expect_no_header Mcp-Session-Id "no session id"
expect_log "$SERVER_LOG" 'rpc_method="server/discover".* era="modern" client="test-script"' "the log line names the era and clientInfo.name"
modern_rpc 21 server/discover '{}' -H 'Mcp-Session-Id: abc' -H 'Last-Event-ID: 3'
expect_status 200 "Mcp-Session-Id and Last-Event-ID are ignored"
expect_no_header Mcp-Session-Id "  and no session id is echoed"

section "modern era: methods 2026-07-28 removed (404, -32601)"
for method in initialize ping logging/setLevel no/such/method tools/list; do
  modern_rpc 22 "$method" '{"protocolVersion":"2026-07-28","capabilities":{},"clientInfo":{"name":"c","version":"1"}}'
  expect_rpc_error 404 -32601 22 "modern $method"
done
rpc "$(initialize_body 23 2025-11-25)"
expect_log "$SERVER_LOG" 'rpc_method="initialize".* era="legacy" client="test_step2"' "a legacy initialize logs era legacy and its clientInfo.name"

section "modern era: the _meta envelope (400, -32602)"
M='-H MCP-Protocol-Version:2026-07-28 -H Mcp-Method:server/discover'
rpc '{"jsonrpc":"2.0","id":24,"method":"server/discover"}' $M
expect_rpc_error 400 -32602 24 "no params at all"
expect_jq '.error.message | contains("io.modelcontextprotocol/protocolVersion") and contains("io.modelcontextprotocol/clientCapabilities")' "the message names both keys"
rpc '{"jsonrpc":"2.0","id":25,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}' $M
expect_rpc_error 400 -32602 25 "_meta without clientCapabilities"
expect_jq '.error.message == "params._meta is missing io.modelcontextprotocol/clientCapabilities"' "the message names the missing key"
rpc '{"jsonrpc":"2.0","id":26,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}' $M
expect_rpc_error 400 -32602 26 "_meta without protocolVersion"
rpc '{"jsonrpc":"2.0","id":27,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":[]}}}' $M
expect_rpc_error 400 -32602 27 "clientCapabilities not an object"

section "modern era: mirrored headers (400, -32020)"
rpc '{"jsonrpc":"2.0","id":28,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}}' $M
expect_rpc_error 400 -32020 28 "_meta protocolVersion differs from the header"
expect_jq '.error.message | startswith("Header mismatch: MCP-Protocol-Version")' "the message names the header"
D='{"jsonrpc":"2.0","id":29,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
rpc "$D" -H 'MCP-Protocol-Version: 2026-07-28'
expect_rpc_error 400 -32020 29 "Mcp-Method missing"
expect_jq '.error.message | contains("Mcp-Method header is required")' "the message says Mcp-Method is required"
rpc "$D" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/list'
expect_rpc_error 400 -32020 29 "Mcp-Method differs from method"
rpc "$D" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: Server/Discover'
expect_rpc_error 400 -32020 29 "Mcp-Method compared case-sensitively"
rpc "$D" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: server/discover' -H 'Mcp-Method: server/discover'
expect_rpc_error 400 -32020 29 "Mcp-Method sent twice"
rpc "$D" -H 'mcp-protocol-version: 2026-07-28' -H 'MCP-METHOD: server/discover'
expect_status 200 "header names are case-insensitive"

section "modern era: notifications (202)"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H 'MCP-Protocol-Version: 2026-07-28'
expect_accepted "a modern notification (no header rules in 2026-07-28)"

section "Content-Type (415)"
rpc "$PING" -H 'Content-Type: application/json; charset=utf-8'
expect_status 200 "application/json; charset=utf-8 is fine"
request POST /mcp -H 'Content-Type: text/plain' --data-binary "$PING"
expect_rpc_error 415 -32600 null "text/plain"
expect_jq '.error.message | contains("Content-Type must be application/json")' "415 says what is expected"
request POST /mcp -H 'Content-Type:' --data-binary "$PING"
expect_rpc_error 415 -32600 null "no Content-Type"
request POST /mcp -H 'Content-Type: application/jsonx' --data-binary "$PING"
expect_status 415 "application/jsonx"
expect_header Connection '^close$' "the 415 closes the connection (its body was not read)"

section "Accept (406)"
rpc "$PING" -H 'Accept: */*'
expect_status 200 "Accept: */*"
rpc "$PING" -H 'Accept: application/json, text/event-stream'
expect_status 200 "Accept: application/json, text/event-stream"
expect_header Content-Type '^application/json$' "answers JSON, not SSE"
rpc "$PING" -H 'Accept:'
expect_status 200 "no Accept"
rpc "$PING" -H 'Accept: text/event-stream'
expect_rpc_error 406 -32600 null "Accept: text/event-stream only"
expect_jq '.error.message | contains("Accept must allow application/json")' "406 says what is expected"
rpc "$PING" -H 'Accept: text/html'
expect_rpc_error 406 -32600 null "Accept: text/html"
expect_header Connection '^close$' "the 406 closes the connection (its body was not read)"
rpc "$PING" -H 'Accept: application/json;q=0, text/event-stream'
expect_status 406 "application/json;q=0"

section "body limit (413)"
big="$WORK/big.json"
printf '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' >"$big"
head -c 1048576 /dev/zero | tr '\0' 'a' >>"$big"
printf '"}}' >>"$big"
request POST /mcp -H 'Content-Type: application/json' --data-binary @"$big"
expect_rpc_error 413 -32600 null "a body over 1 MiB"
expect_jq '.error.message | contains("1048576 bytes")' "413 names the limit"
just="$WORK/just.json"
printf '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' >"$just"
head -c $((1048576 - 64)) /dev/zero | tr '\0' 'a' >>"$just"
printf '"}}' >>"$just"
request POST /mcp -H 'Content-Type: application/json' --data-binary @"$just"
expect_status 200 "a body just under 1 MiB is served"
expect_no_header Connection "… on a connection that stays open"

section "body errors: 413 before reading with Expect: 100-continue, 400 for broken framing"
raw_http "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n"
expect_status 413 "Expect: 100-continue with Content-Length 2000000: 413 at once, no 100 Continue first"
expect_header Connection '^close$' "… and Connection: close"
expect_jq '.error.code == -32600 and (.error.message | contains("1048576 bytes"))' "… the body names the limit"
raw_http "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
expect_status 400 "chunked framing with a size that is not hex: 400, not 413"
expect_jq '.error.code == -32600 and .error.message == "Bad Request: the request body could not be read (malformed framing or cut short)"' "… the body says the framing is broken"
expect_header Connection '^close$' "… and Connection: close"

section "other HTTP methods (405 Allow: POST)"
for method in GET DELETE PUT PATCH; do
  request "$method" /mcp
  expect_rpc_error 405 -32600 null "$method /mcp"
  expect_header Allow '^POST$' "$method /mcp: Allow: POST"
  expect_no_header Mcp-Session-Id "$method /mcp: no session id"
done
request GET /mcp -H 'Accept: text/event-stream'
expect_status 405 "GET /mcp for an SSE stream"

section "the guard still runs first"
rpc "$PING" -H 'Origin: http://localhost:6274'
expect_status 200 "a loopback Origin is served"
rpc "$PING" -H 'Origin: http://localhost.evil.com'
expect_status 403 "a look-alike Origin"
expect_jq '(has("id") | not) and .error.code == -32001 and (.error.message | contains("http://localhost.evil.com"))' "403 names the Origin, no id"
rpc "$PING" -H 'Host: evil.com'
expect_status 403 "a foreign Host"
expect_jq '(has("id") | not) and (.error.message | contains("evil.com"))' "403 names the Host, no id"
request POST /mcp -H 'Origin: null' -H 'Content-Type: text/plain' --data-binary 'x'
expect_status 403 "the guard answers before the 415 check"

section "request log"
rpc "$PING"
expect_log "$SERVER_LOG" 'rpc_method="ping"' "the log line names the JSON-RPC method"

# slow PORT MODE ARGS...: scripts/slow_clients.py's one JSON line about what the server did.
slow() { python3 "$ROOT/scripts/slow_clients.py" "$@" >"$WORK/slow.json"; cat "$WORK/slow.json"; }

section "a body dribbled too slowly: 408 after --body-timeout (3 s)"
start_server step2 --body-timeout 3
slow "${BASE##*:}" body >/dev/null
if jq -e '.first_line == "HTTP/1.1 408 Request Timeout" and .closed == true and .after_s >= 2.9 and .after_s <= 5' "$WORK/slow.json" >/dev/null; then
  pass "10 of 100 announced bytes, then nothing: 408 Request Timeout and the connection closed at about 3 s"
else fail "slow body: $(cat "$WORK/slow.json")"; fi
expect_log "$SERVER_LOG" 'status=408' "the request log records the 408"

finish
