#!/usr/bin/env bash
# Real clients against our servers: the official MCP conformance suite (server scenarios) against
# step 4, and the official SDK clients against step 4 (no auth) and step 8 (bearer tokens,
# scopes): the TypeScript SDK v1 (legacy era: initialize), and, in the modern era (2026-07-28:
# server/discover, no initialize), the TypeScript SDK v2 in versionNegotiation 'auto' and the
# Python SDK in its default mode ('auto'). For each modern run the server's request log must show
# that the client was served in the modern era only. Installs the pinned tools first
# (scripts/interop/install.sh).
source "$(dirname "$0")/lib.sh"
build_once
"$ROOT/scripts/interop/install.sh" || { echo "interop tools could not be installed"; exit 1; }
NODE22="$ROOT/scripts/interop/node_modules/.bin/node"
SDK="$ROOT/scripts/interop/sdk_client.mjs"
SDK_V2="$ROOT/scripts/interop/sdk_v2_client.mjs"
PY="$ROOT/scripts/interop/.venv/bin/python"
PY_CLIENT="$ROOT/scripts/interop/py_client.py"

# run_check DESCRIPTION COMMAND...: the command's own output is shown; its exit status decides.
run_check() {
  local what="$1"; shift
  "$@" >"$WORK/check.out" 2>&1
  local code=$?
  sed 's/^/     | /' "$WORK/check.out"
  if [ $code -eq 0 ]; then pass "$what"; else fail "$what (exit $code)"; fi
}

# expect_output_lacks STRING DESCRIPTION: the last run_check's output does not contain STRING
# (a client must never print its token).
expect_output_lacks() {
  if grep -qF -- "$1" "$WORK/check.out"; then fail "$2"; else pass "$2"; fi
}

# log_mark: the number of lines in SERVER_LOG once the logs have settled; a run's own lines are
# the ones after it (see run_log).
log_mark() {
  logs_settled
  wc -l <"$SERVER_LOG" | tr -d ' '
}

# run_log MARK: writes the SERVER_LOG lines logged after MARK (once settled) to $WORK/run.lines
# (not *.log: logs_settled and expect_log_lacks glob those).
run_log() {
  logs_settled
  tail -n +"$(($1 + 1))" "$SERVER_LOG" >"$WORK/run.lines"
}

# expect_run_log EXTENDED-REGEX DESCRIPTION: a line of $WORK/run.lines (see run_log) matches.
expect_run_log() {
  if grep -Eq -- "$1" "$WORK/run.lines"; then pass "$2"; else fail "$2: no line matching /$1/ among the run's log lines"; fi
}

# expect_all_refused MARK STATUS WHAT: the run since MARK made requests to /mcp and every one was
# answered STATUS.
expect_all_refused() {
  local mark="$1" status="$2" what="$3" n stray
  run_log "$mark"
  n="$(grep -cF 'path="/mcp"' "$WORK/run.lines")"
  stray="$(grep -F 'path="/mcp"' "$WORK/run.lines" | grep -vF "status=$status ")"
  if [ "$n" -gt 0 ] && [ -z "$stray" ]; then
    pass "$what: the server answered all $n of its requests $status"
  else
    fail "$what: expected only $status answers to /mcp, got $n lines: $(printf '%s\n' "${stray:-(none)}" | shown)"
  fi
}

# shown: request-log lines (stdin) for a failure message: no timestamp prefix, at most 4, on one line.
shown() { sed 's/^.*mcp_auth_steps::request: //' | head -n 4 | paste -sd ';' | sed 's/;/; /g'; }

# expect_modern_run MARK CLIENT WHAT: the server log lines written since MARK show that the client
# that sent clientInfo.name CLIENT was served in the modern era only. A request's line carries
# client="..." once the server classified it (either era: a legacy client's only on initialize),
# era="legacy"/"modern", and rpc_method. Checked: CLIENT has lines; none of them is initialize and
# all are era="modern"; no line at all of the run is era="legacy" or initialize (a legacy
# fallback's later requests carry no client=); every POST /mcp of the run is CLIENT's (none was
# refused before classification, which would leave it unlabelled).
expect_modern_run() {
  local mark="$1" name="$2" what="$3" mine="$WORK/run.mine.lines" n stray
  run_log "$mark"
  grep -F "client=\"$name\"" "$WORK/run.lines" >"$mine"
  n="$(wc -l <"$mine" | tr -d ' ')"
  if [ "$n" -gt 0 ]; then
    pass "$what: the server log has $n request lines from client=\"$name\""
  else
    fail "$what: no server log line from client=\"$name\" ($(wc -l <"$WORK/run.lines" | tr -d ' ') lines logged during the run)"
  fi
  stray="$(grep -v 'era="modern"' "$mine"; grep -F 'rpc_method="initialize"' "$mine")"
  if [ "$n" -gt 0 ] && [ -z "$stray" ]; then
    pass "$what: every request from client=\"$name\" was served era=\"modern\", none was initialize"
  else
    fail "$what: client=\"$name\" lines not modern or initialize: $(printf '%s\n' "${stray:-(no lines)}" | shown)"
  fi
  stray="$(grep -E 'era="legacy"|rpc_method="(initialize|notifications/initialized)"' "$WORK/run.lines")"
  if [ -z "$stray" ]; then
    pass "$what: no era=\"legacy\" and no initialize line at all during the run"
  else
    fail "$what: legacy traffic during the run: $(printf '%s\n' "$stray" | shown)"
  fi
  stray="$(grep -F 'method=POST path="/mcp"' "$WORK/run.lines" | grep -vF "client=\"$name\"")"
  if [ -z "$stray" ]; then
    pass "$what: every POST /mcp during the run came from client=\"$name\""
  else
    fail "$what: POST /mcp lines without client=\"$name\": $(printf '%s\n' "$stray" | shown)"
  fi
}

# modern_as LABEL USER TOKEN NAME STATUS CLIENT...: runs the CLIENT command against step 8 with
# USER's TOKEN and clientInfo.name NAME, expecting tools/call to answer STATUS (200, or 403 with
# --expect-forbidden tools/call); then: no token in its output, a modern-only run in the server's
# log (expect_modern_run), and the tools/call line with STATUS, USER and NAME.
modern_as() {
  local label="$1" user="$2" token="$3" name="$4" status="$5"; shift 5
  local what="$label as $user" mark extra=() expect="lists and calls echo"
  if [ "$status" = 403 ]; then
    extra=(--expect-forbidden tools/call)
    expect="tools/call refused with 403 insufficient_scope"
  fi
  mark="$(log_mark)"
  run_check "$what: $expect" "$@" --url "$BASE/mcp" --token "$token" --client-name "$name" "${extra[@]}"
  expect_output_lacks "$token" "$what: its output does not contain the token"
  expect_modern_run "$mark" "$name" "$what"
  expect_run_log "status=$status .*rpc_method=\"tools/call\" user=\"$user\" era=\"modern\" client=\"$name\"" \
    "$what: the server logged tools/call $status for $user, modern"
}

section "conformance suite, server scenarios, against step4"
start_server step4
run_check "conformance: server-initialize ping dns-rebinding-protection tools-list prompts-list server-sse-multiple-streams" \
  "$ROOT/scripts/interop/run_conformance.sh" --url "$BASE/mcp"

section "TypeScript SDK client against step4"
run_check "SDK: initialize, ping, tools/list, tools/call echo, prompts/list, prompts/get" \
  "$NODE22" "$SDK" --url "$BASE/mcp"

section "Python SDK client (default mode: auto) against step4, modern era"
MARK="$(log_mark)"
run_check "Python SDK: server/discover at 2026-07-28, tools/list, tools/call echo" \
  "$PY" "$PY_CLIENT" --url "$BASE/mcp" --client-name interop-py-step4
expect_modern_run "$MARK" interop-py-step4 "Python SDK on step4"

section "TypeScript SDK v2 client (versionNegotiation auto) against step4, modern era"
MARK="$(log_mark)"
run_check "SDK v2: server/discover at 2026-07-28, tools/list, tools/call echo" \
  "$NODE22" "$SDK_V2" --url "$BASE/mcp" --client-name interop-ts-v2-step4
expect_modern_run "$MARK" interop-ts-v2-step4 "SDK v2 on step4"

section "TypeScript SDK client against step8 with bearer tokens"
start_server step8
ALICE="$("$BIN/generate-token" --username alice --scopes mcp:read,mcp:tools 2>/dev/null)"
BOB="$("$BIN/generate-token" --username bob --scopes mcp:read,mcp:prompts 2>/dev/null)"
run_check "SDK as alice: lists and calls echo" "$NODE22" "$SDK" --url "$BASE/mcp" --token "$ALICE" --only tools
run_check "SDK as bob: tools/call refused with 403 insufficient_scope" \
  "$NODE22" "$SDK" --url "$BASE/mcp" --token "$BOB" --only tools --expect-forbidden tools/call
run_check "SDK without a token: refused" bash -c '! "$0" "$1" --url "$2" --only tools' "$NODE22" "$SDK" "$BASE/mcp"

section "Python SDK client (default mode: auto) against step8 with bearer tokens, modern era"
modern_as "Python SDK" alice "$ALICE" interop-py-alice 200 "$PY" "$PY_CLIENT"
modern_as "Python SDK" bob "$BOB" interop-py-bob 403 "$PY" "$PY_CLIENT"
MARK="$(log_mark)"
# Without a token the probe gets 401. mcp 2.3's 'auto' mode treats that as "not modern" and falls
# back to initialize, which gets 401 too (see scripts/interop/README.md); nothing is served.
run_check "Python SDK without a token: refused" bash -c '! "$0" "$1" --url "$2"' "$PY" "$PY_CLIENT" "$BASE/mcp"
expect_all_refused "$MARK" 401 "Python SDK without a token"

section "TypeScript SDK v2 client (versionNegotiation auto) against step8 with bearer tokens, modern era"
modern_as "SDK v2" alice "$ALICE" interop-ts-v2-alice 200 "$NODE22" "$SDK_V2"
modern_as "SDK v2" bob "$BOB" interop-ts-v2-bob 403 "$NODE22" "$SDK_V2"
MARK="$(log_mark)"
run_check "SDK v2 without a token: refused" bash -c '! "$0" "$1" --url "$2"' "$NODE22" "$SDK_V2" "$BASE/mcp"
expect_all_refused "$MARK" 401 "SDK v2 without a token"

expect_log_lacks "$ALICE" "no log line contains alice's token"
expect_log_lacks "$BOB" "no log line contains bob's token"
finish
