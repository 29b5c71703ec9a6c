#!/usr/bin/env bash
# Step 8: scope and role checks. Every cell of the SPEC policy matrix with the generate-token --demo
# users, the 403 insufficient_scope challenge (RFC 6750 §3.1, MCP 2025-11-25 "Scope Challenge
# Handling") with a JSON-RPC body that keeps the request id, and the step 6 bad-token corpus.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/token_corpus.sh
source "$(dirname "$0")/token_corpus.sh"
build_once

start_server step8
PRM="http://localhost:9000/.well-known/oauth-protected-resource/mcp"

eval "$(cd "$ROOT" && "$BIN/generate-token" --demo 2>/dev/null)"
for name in ALICE BOB ADMIN GUEST; do
  var="${name}_TOKEN"
  if [ -z "${!var:-}" ]; then echo "generate-token --demo did not set $var"; exit 1; fi
  remember "$name" "${!var}"
done


# result_check METHOD: the jq filter a successful answer satisfies.
result_check() {
  case "$1" in
    tools/list) echo '[.result.tools[].name] == ["echo","whoami"]' ;;
    tools/call) echo '.result.content[0].text == "hi" and .result.isError == false' ;;
    prompts/list) echo '[.result.prompts[].name] == ["echo_prompt"]' ;;
    prompts/get) echo '.result.messages[0].content.text == "Please echo: hi"' ;;
  esac
}

# needed_scope METHOD: the scope="…" a denial must name.
needed_scope() {
  case "$1" in
    tools/list | prompts/list) echo mcp:read ;;
    tools/call) echo mcp:tools ;;
    prompts/get) echo mcp:prompts ;;
  esac
}

# expect_forbidden LABEL ID SCOPE: the 403 insufficient_scope answer.
expect_forbidden() {
  expect_status 403 "$1: denied"
  expect_challenge '.scheme == "Bearer" and .params.error == "insufficient_scope" and (.params | has("__unparsed__") | not)' \
    "$1: WWW-Authenticate error=\"insufficient_scope\""
  expect_challenge ".params.scope == \"$3\"" "$1: challenge scope=\"$3\""
  expect_challenge ".params.resource_metadata == \"$PRM\"" "$1: challenge resource_metadata=\"$PRM\""
  expect_challenge '(.params.error_description // "") | test("^[ !#-\\[\\]-~]*$")' "$1: error_description uses only RFC 6750 characters"
  expect_jq ".jsonrpc == \"2.0\" and .id == $2 and (has(\"result\") | not)" "$1: JSON-RPC error with the request's id ($2)"
  expect_jq '.error.code == -32003 and (.error.message | type) == "string"' "$1: error code -32003"
}

# send_in ERA METHOD ID [CURL ARGS...]: body_for's request, legacy as it is, or modern (2026-07-28:
# _meta and the mirrored headers, see modern_rpc in lib.sh).
send_in() {
  local era="$1" method="$2" id="$3"; shift 3
  if [ "$era" = legacy ]; then
    rpc "$(body_for "$method" "$id")" "$@"
  else
    modern_rpc "$id" "$method" "$(body_for "$method" "$id" | jq -c '.params // {}')" "$@"
  fi
}

section "the policy matrix (generate-token --demo), in both eras"
#           tools/list tools/call prompts/list prompts/get
MATRIX="ALICE  allow allow allow deny
BOB    allow deny  allow allow
ADMIN  allow allow allow allow
GUEST  deny  deny  deny  deny"
METHODS=(tools/list tools/call prompts/list prompts/get)
id=101
for era in legacy modern; do
while read -r user cells; do
  read -r -a verdicts <<<"$cells"
  var="${user}_TOKEN"
  for i in 0 1 2 3; do
    method="${METHODS[$i]}"
    label="$era: $(printf '%s' "$user" | tr '[:upper:]' '[:lower:]') $method (id $id)"
    send_in "$era" "$method" "$id" -H "Authorization: Bearer ${!var}"
    if [ "${verdicts[$i]}" = allow ]; then
      expect_status 200 "$label: allowed"
      expect_jq ".id == $id and (has(\"error\") | not)" "$label: a result with the request's id"
      expect_jq "$(result_check "$method")" "$label: the result is right"
      expect_no_header www-authenticate "$label: no challenge"
    else
      expect_forbidden "$label" "$id" "$(needed_scope "$method")"
    fi
    id=$((id + 1))
  done
done <<<"$MATRIX"
done

section "modern era: the same 401 as legacy, cacheScope private"
send_in legacy tools/call 201
legacy_challenge="$(header_value www-authenticate)"
expect_status 401 "legacy tools/call without a token"
expect_header www-authenticate '^Bearer realm="mcp", resource_metadata=' "  the legacy challenge"
send_in modern tools/call 202
expect_status 401 "modern tools/call without a token"
expect_eq "$(header_value www-authenticate)" "$legacy_challenge" "modern 401: the same WWW-Authenticate as legacy"
modern_rpc 203 server/discover '{}'
expect_status 401 "modern server/discover without a token"
send_in modern tools/list 204 -H "Authorization: Bearer $ALICE_TOKEN"
expect_jq '.result.cacheScope == "private" and .result.ttlMs == 3600000' "a modern list for alice: cacheScope private (answers depend on who asks)"
modern_rpc 205 server/discover '{}' -H "Authorization: Bearer $GUEST_TOKEN"
expect_jq '.result.cacheScope == "private" and .result.capabilities.tools.listChanged == false' "server/discover with any valid token (guest): private"
modern_rpc 206 initialize '{}' -H "Authorization: Bearer $ADMIN_TOKEN"
expect_status 404 "modern initialize with a token: 404 (not in 2026-07-28)"
expect_log "$SERVER_LOG" 'rpc_method="tools/list".* user="alice" era="modern" client="test-script"' "the log line: user, era and client"

section "any valid token may initialize, ping and notify"
rpc '{"jsonrpc":"2.0","id":201,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  -H "Authorization: Bearer $GUEST_TOKEN"
expect_status 200 "guest: initialize"
expect_jq '.id == 201 and .result.protocolVersion == "2025-11-25"' "guest: initialize result"
rpc '{"jsonrpc":"2.0","id":202,"method":"ping"}' -H "Authorization: Bearer $GUEST_TOKEN"
expect_status 200 "guest: ping"
expect_jq '.id == 202 and .result == {}' "guest: ping result {}"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Authorization: Bearer $GUEST_TOKEN"
expect_status 202 "guest: notifications/initialized"
expect_empty_body "guest: 202 has an empty body"
rpc '{"jsonrpc":"2.0","id":203,"method":"tools/call","params":{"name":"whoami"}}' -H "Authorization: Bearer $GUEST_TOKEN"
expect_forbidden "guest whoami" 203 mcp:tools
rpc '{"jsonrpc":"2.0","id":"abc-204","method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}' \
  -H "Authorization: Bearer $BOB_TOKEN"
expect_status 403 "a string id is kept in the 403 body"
expect_jq '.id == "abc-204"' "id \"abc-204\" echoed"
rpc '{"jsonrpc":"2.0","id":205,"method":"nonexistent/method"}' -H "Authorization: Bearer $GUEST_TOKEN"
expect_status 200 "guest: an unknown method is not a policy matter"
expect_jq '.error.code == -32601' "… -32601 Method not found"

section "the policy runs before the method: bad params on a denied call still get 403"
rpc '{"jsonrpc":"2.0","id":206,"method":"tools/call","params":{"name":"no-such-tool"}}' -H "Authorization: Bearer $BOB_TOKEN"
expect_forbidden "bob tools/call of an unknown tool" 206 mcp:tools
rpc '{"jsonrpc":"2.0","id":207,"method":"tools/call","params":{"name":"no-such-tool"}}' -H "Authorization: Bearer $ALICE_TOKEN"
expect_status 200 "alice tools/call of an unknown tool"
expect_jq '.id == 207 and .error.code == -32602' "… -32602 (allowed, then the method decides)"

section "roles and scope strings"
T="$(gen --username root --scopes '' --roles user,admin)"; remember "admin no scopes" "$T"
for m in tools/list tools/call prompts/list prompts/get; do
  rpc "$(body_for "$m" 301)" -H "Authorization: Bearer $T"
  expect_status 200 "role admin without any scope: $m allowed"
done
T="$(gen --username tooly --scopes mcp:tools)"; remember "tools only" "$T"
rpc "$(body_for tools/list 302)" -H "Authorization: Bearer $T"
expect_status 200 "mcp:tools alone allows tools/list"
rpc "$(body_for prompts/list 303)" -H "Authorization: Bearer $T"
expect_forbidden "mcp:tools alone: prompts/list" 303 mcp:read
T="$(gen --username prompty --scopes mcp:prompts)"; remember "prompts only" "$T"
rpc "$(body_for prompts/list 304)" -H "Authorization: Bearer $T"
expect_status 200 "mcp:prompts alone allows prompts/list"
rpc "$(body_for tools/list 305)" -H "Authorization: Bearer $T"
expect_forbidden "mcp:prompts alone: tools/list" 305 mcp:read
T="$(gen --username fake --scopes 'mcp:readx,MCP:TOOLS,mcp:*' --roles Admin,administrator)"; remember "look-alikes" "$T"
rpc "$(body_for tools/list 306)" -H "Authorization: Bearer $T"
expect_forbidden "look-alike scopes and roles (mcp:readx, MCP:TOOLS, Admin) grant nothing" 306 mcp:read
DEMO_KID="$(jwt_part "$ALICE_TOKEN" 0 | jq -r .kid)"
T="$(forge_rs256 "$(header_json)" "$(claims_json '.preferred_username = "spacey" | .scope = "  mcp:read   mcp:tools  "')")"
remember "spaces" "$T"
rpc "$(body_for tools/call 307)" -H "Authorization: Bearer $T"
expect_status 200 "scope \"  mcp:read   mcp:tools  \" (repeated spaces) is tolerated: tools/call"
rpc '{"jsonrpc":"2.0","id":308,"method":"tools/call","params":{"name":"whoami"}}' -H "Authorization: Bearer $T"
expect_jq '.result.structuredContent.scopes == ["mcp:read","mcp:tools"]' "… and parsed into [\"mcp:read\",\"mcp:tools\"]"
T="$(forge_rs256 "$(header_json)" "$(claims_json '.scope = "mcp:read\tmcp:tools"')")"; remember "tab" "$T"
rpc "$(body_for tools/list 311)" -H "Authorization: Bearer $T"
expect_forbidden "scope \"mcp:read<TAB>mcp:tools\" is one unknown scope (RFC 6749 §3.3: space-delimited)" 311 mcp:read
T="$(forge_rs256 "$(header_json)" "$(claims_json '.scope = ["mcp:read","mcp:tools"]')")"; remember "scope array" "$T"
rpc "$(body_for tools/list 309)" -H "Authorization: Bearer $T"
expect_forbidden "scope as a JSON array (not the OAuth string form) grants nothing" 309 mcp:read
T="$(forge_rs256 "$(header_json)" "$(claims_json '.roles = "admin"')")"; remember "roles string" "$T"
rpc "$(body_for prompts/get 310)" -H "Authorization: Bearer $T"
expect_forbidden "roles as a string (not an array) grants nothing" 310 mcp:prompts

section "403 for browser clients"
rpc "$(body_for tools/call 401)" -H "Authorization: Bearer $BOB_TOKEN" -H 'Origin: http://localhost:6274'
expect_status 403 "bob tools/call from a browser origin"
expect_header access-control-allow-origin '^http://localhost:6274$' "the 403 carries Access-Control-Allow-Origin"
expect_header access-control-expose-headers '(^|[ ,])www-authenticate([ ,]|$)' "the 403 exposes www-authenticate"

section "the request log names the user and method"
expect_log "$SERVER_LOG" 'status=403 .*rpc_method="?tools/call"? .*user="?bob"?' "a 403 is logged with method and user"

CORPUS_STEP=8 CORPUS_PRM="$PRM" run_token_corpus

expect_tokens_not_leaked

section "verified-token cache settings"
request GET /health
expect_jq '.token_cache.capacity == 10000' "/health reports the token cache (default 10000 entries)"
request GET /health -H 'Origin: http://evil.example'
expect_status 200 "/health from a foreign page (DNS rebinding): still answered"
expect_jq '. == {"status":"healthy"}' "… without the token cache's counters"
expect_exit 1 "TOKEN_CACHE_SIZE that is not a number stops step8" timeout 10 env TOKEN_CACHE_SIZE=lots "$BIN/step8" --port 0
expect_output 'TOKEN_CACHE_SIZE: "lots" is not valid: a whole number of entries is expected' "the message names TOKEN_CACHE_SIZE"
# slow PORT MODE ARGS...: scripts/slow_clients.py's one JSON line about what the server did.
slow() { python3 "$ROOT/scripts/slow_clients.py" "$@" >"$WORK/slow.json"; cat "$WORK/slow.json"; }

section "bounded load: 16 slow readers, each pipelining 20 largest-allowed echo calls (--write-timeout 2)"
start_server step8 --write-timeout 2
slow "${BASE##*:}" load 16 20 "$ALICE_TOKEN" >/dev/null
if jq -e '.connections == 16 and .closed == 16 and .max_after_s <= 20' "$WORK/slow.json" >/dev/null; then
  pass "all 16 stuck connections dropped, the last after $(jq .max_after_s "$WORK/slow.json") s"
else fail "load: $(cat "$WORK/slow.json")"; fi
hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")"
echo "  peak RSS of step 8 during the load: $((hwm / 1024)) MiB"
if [ "$hwm" -lt $((64 * 1024)) ]; then pass "peak RSS $((hwm / 1024)) MiB, below the stated bound of 64 MiB"
else fail "peak RSS $((hwm / 1024)) MiB, above the 64 MiB bound"; fi
rpc "$(body_for tools/list 900)" -H "Authorization: Bearer $ALICE_TOKEN"
expect_status 200 "the server still answers afterwards"

finish
