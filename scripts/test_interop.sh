#!/usr/bin/env bash
# Real clients against our servers: the official MCP conformance suite (server scenarios) against
# step 4, and the official TypeScript SDK client against step 4 (no auth) and step 8 (bearer
# tokens, scopes). Installs the pinned tools first (scripts/interop/install.sh).
source "$(dirname "$0")/lib.sh"
build_once
"$ROOT/scripts/interop/install.sh" || { echo "interop tools could not be installed"; exit 1; }
NODE22="$ROOT/scripts/interop/node_modules/.bin/node"
SDK="$ROOT/scripts/interop/sdk_client.mjs"

# run_check DESCRIPTION COMMAND...: the command's own output is shown; its exit status decides.
run_check() {
  local what="$1"; shift
  "$@" >"$WORK/check.out" 2>&1
  local code=$?
  sed 's/^/     | /' "$WORK/check.out"
  if [ $code -eq 0 ]; then pass "$what"; else fail "$what (exit $code)"; fi
}

section "conformance suite, server scenarios, against step4"
start_server step4
run_check "conformance: server-initialize ping dns-rebinding-protection tools-list prompts-list server-sse-multiple-streams" \
  "$ROOT/scripts/interop/run_conformance.sh" --url "$BASE/mcp"

section "TypeScript SDK client against step4"
run_check "SDK: initialize, ping, tools/list, tools/call echo, prompts/list, prompts/get" \
  "$NODE22" "$SDK" --url "$BASE/mcp"

section "TypeScript SDK client against step8 with bearer tokens"
start_server step8
ALICE="$("$BIN/generate-token" --username alice --scopes mcp:read,mcp:tools 2>/dev/null)"
BOB="$("$BIN/generate-token" --username bob --scopes mcp:read,mcp:prompts 2>/dev/null)"
run_check "SDK as alice: lists and calls echo" "$NODE22" "$SDK" --url "$BASE/mcp" --token "$ALICE" --only tools
run_check "SDK as bob: tools/call refused with 403 insufficient_scope" \
  "$NODE22" "$SDK" --url "$BASE/mcp" --token "$BOB" --only tools --expect-forbidden tools/call
run_check "SDK without a token: refused" bash -c '! "$0" "$1" --url "$2" --only tools' "$NODE22" "$SDK" "$BASE/mcp"
expect_log_lacks "$ALICE" "no log line contains alice's token"
expect_log_lacks "$BOB" "no log line contains bob's token"
finish
