#!/usr/bin/env bash
# Real clients against our servers: the official MCP conformance suite (server scenarios) against
# step 4, and the official SDK clients against step 4 (no auth) and step 8 (bearer tokens,
# scopes): the TypeScript SDK v1 (legacy era: initialize), and, in the modern era (2026-07-28:
# server/discover, no initialize), the TypeScript SDK v2 in versionNegotiation 'auto' and the
# Python SDK in its default mode ('auto'). For each modern run the server's request log must show
# that the client was served in the modern era only. Then both SDKs' own OAuth client providers
# do the whole OAuth flow against step10 + real Keycloak (keycloak_lib.sh) with a real browser
# login (scripts/browser/login.mjs as mcp-user): 401 → the SDK's discovery and RFC 7591
# registration → the login in headless Chromium → the client's loopback callback → token →
# tools/list, tools/call echo → prompts/get, which the granted scopes do not allow: the SDK steps
# up once, Keycloak still does not grant mcp:prompts, and the end is 403 insufficient_scope.
# Last, the MCP Inspector's web UI in the same headless browser (scripts/interop/inspector.mjs):
# its own registration (with a client_uri on github.com) and the whole flow.
# Installs the pinned tools first (scripts/interop/install.sh).
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"
build_once
"$ROOT/scripts/interop/install.sh" || { echo "interop tools could not be installed"; exit 1; }
use_keycloak
need_browser
NODE22="$ROOT/scripts/interop/node_modules/.bin/node"
SDK="$ROOT/scripts/interop/sdk_client.mjs"
SDK_V2="$ROOT/scripts/interop/sdk_v2_client.mjs"
PY="$ROOT/scripts/interop/.venv/bin/python"
PY_CLIENT="$ROOT/scripts/interop/py_client.py"
SDK_OAUTH="$ROOT/scripts/interop/sdk_oauth_client.mjs"
PY_OAUTH="$ROOT/scripts/interop/py_oauth_client.py"

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

# ---------------------------------------------------------------------------------------------
# The SDKs' own OAuth client providers against step10 + Keycloak, a person logging in through
# the browser. Keycloak's RFC 8707 check only accepts the resource http://localhost:9000/mcp (the
# realm's resource_url), so step10 runs on port 9000 with that MCP_SERVER_URL.

# start_step10_9000: step10 on port 9000 (MCP_SERVER_URL http://localhost:9000) trusting
# $KEYCLOAK_URL's realm; waits (20 s) for its keys. Sets SERVER_LOG (its stderr) and S10_PID.
start_step10_9000() {
  local out="$WORK/step10-9000.out" health deadline=$((SECONDS + 20))
  SERVER_LOG="$WORK/step10-9000.log"
  (cd "$ROOT" && exec "$BIN/step10" --port 9000 --mcp-server-url http://localhost:9000 >"$out" 2>"$SERVER_LOG") &
  S10_PID=$!
  PIDS+=("$S10_PID")
  while [ $SECONDS -lt $deadline ]; do
    if grep -qxF "listening on http://127.0.0.1:9000" "$out"; then
      health="$(curl -fsS --max-time 2 http://127.0.0.1:9000/health 2>/dev/null)"
      if [ -n "$health" ] && printf '%s' "$health" | jq -e '.issuer_keys.state == "ok"' >/dev/null 2>&1; then
        return 0
      fi
    fi
    kill -0 "$S10_PID" 2>/dev/null || { echo "step10 on port 9000 exited: $(tail -n 1 "$SERVER_LOG")"; exit 1; }
    sleep 0.1
  done
  echo "step10 on port 9000 did not report the issuer's keys within 20 s"; cat "$SERVER_LOG"; exit 1
}

# re TEXT: TEXT as an extended regular expression that matches it literally.
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|/]/\\&/g'; }

# out_line EXTENDED-REGEX DESCRIPTION: a line of the last run's output ($WORK/check.out) matches.
out_line() {
  if grep -Eq -- "$1" "$WORK/check.out"; then pass "$2"; else fail "$2: no output line matches /$1/"; fi
}

# expect_mcp_user_scope LABEL SCOPE: the token's scope is what the realm gives mcp-user: mcp:read
# and mcp:tools, never mcp:prompts (Keycloak lists scopes in varying order).
expect_mcp_user_scope() {
  if [[ " $2 " == *" mcp:read "* && " $2 " == *" mcp:tools "* && " $2 " != *" mcp:prompts "* ]]; then
    pass "$1: Keycloak granted mcp-user mcp:read and mcp:tools, not mcp:prompts (scope \"$2\")"
  else
    fail "$1: token scope \"$2\", expected mcp:read and mcp:tools without mcp:prompts"
  fi
}

# run_lines EXTENDED-REGEX: how many of the run's server log lines ($WORK/run.lines) match.
run_lines() { grep -Ec -- "$1" "$WORK/run.lines"; }

R6='[A-Za-z0-9_-]{1,6}…'   # what the clients leave of a secret: at most 6 characters and "…"
SRV="http://localhost:9000"
PRM="$SRV/.well-known/oauth-protected-resource/mcp"
ISS="$KC_ISSUER"
CALLBACK='http://127\.0\.0\.1:[0-9]+/callback'
CHALLENGE_403="WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:prompts\", resource_metadata=\"$(re "$PRM")\", error_description=\"prompts/get requires mcp:prompts\""
OAUTH_RUN=0

# oauth_journey LABEL NAME FINAL-ERROR-REGEX COMMAND...: runs the SDK's OAuth client COMMAND
# (timeout 180 s) with --url $SRV/mcp --client-name NAME, the login driver logging in as mcp-user.
# Asserts its exit status and key output lines (the last one, FINAL-ERROR-REGEX, is how that SDK
# reports the final refusal), the registered client in Keycloak (then deleted again), and
# step10's request log lines of the run.
oauth_journey() {
  local label="$1" name="$2" final="$3"; shift 3
  local mark cid scope kc_id stray n
  local msg="hello from $name"
  OAUTH_RUN=$((OAUTH_RUN + 1))
  mark="$(log_mark)"
  run_check "$label: the whole OAuth flow as mcp-user, tools, then prompts/get refused (exit 0)" \
    env LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 LOGIN_CONSENT=accept \
    timeout 180 "$@" --url "$SRV/mcp" --client-name "$name" --message "$msg"
  cp "$WORK/check.out" "$WORK/oauth-$OAUTH_RUN.out"

  out_line "^ok - unauthenticated request answered 401: POST $(re "$SRV/mcp") server/discover → 401, WWW-Authenticate: Bearer realm=\"mcp\", resource_metadata=\"$(re "$PRM")\", scope=\"mcp:read mcp:tools mcp:prompts\"\$" \
    "$label: server/discover without a token → 401 with resource_metadata and scope"
  out_line "^ok - SDK discovery: protected resource metadata GET $(re "$PRM") → 200\$" "$label: the SDK fetched the PRM"
  out_line "^ok - SDK discovery: authorization server metadata GET $(re "$KEYCLOAK_URL")/\.well-known/oauth-authorization-server/realms/$KC_REALM → 200, issuer $(re "$ISS")\$" \
    "$label: the SDK fetched Keycloak's AS metadata (RFC 8414 path-inserted URL), issuer $ISS"
  cid="$(sed -En 's/^ok - SDK registration \(RFC 7591 dynamic registration\): POST .* → 201.*, client_id ([0-9a-f-]{36}), token_endpoint_auth_method none, no client_secret$/\1/p' "$WORK/check.out" | head -n 1)"
  out_line "^ok - SDK registration \(RFC 7591 dynamic registration\): POST $(re "$ISS")/clients-registrations/openid-connect → 201.*, client_id [0-9a-f-]{36}, token_endpoint_auth_method none, no client_secret\$" \
    "$label: the SDK registered a public client at Keycloak (RFC 7591) → client_id ${cid:-?}"
  out_line "^ok - round 1: authorization URL handed to (redirectToAuthorization|the redirect handler): $(re "$ISS")/protocol/openid-connect/auth \(response_type code, client_id ${cid:-none}, redirect_uri $CALLBACK, code_challenge_method S256, resource $(re "$SRV/mcp"), scope \"mcp:read mcp:tools mcp:prompts( offline_access)?\", state $R6\)\$" \
    "$label: authorization URL built by the SDK: that client_id, loopback redirect, PKCE S256, resource, scope from the challenge"
  out_line "^# browser: login\.mjs: mcp-user reached $CALLBACK \(HTTP 200\) with a code, consent accepted" \
    "$label: headless Chromium logged in on Keycloak's page, accepted consent, reached the client's listener"
  out_line "^ok - round 1: callback GET $CALLBACK: code $R6, state ✓ .*, iss $(re "$ISS")\$" "$label: callback: code (shown redacted), state ✓, iss"
  out_line "^ok - round 1: (finishAuth\(code, iss\) → )?SDK token request POST $(re "$ISS")/protocol/openid-connect/token → 200: access token eyJhbG…, token_type Bearer, expires_in (300|299), scope \"[^\"]*\"\$" \
    "$label: the SDK redeemed the code → 200, token shown redacted"
  scope="$(sed -En 's/^ok - round 1: .*SDK token request .* scope "([^"]*)"$/\1/p' "$WORK/check.out" | head -n 1)"
  expect_mcp_user_scope "$label" "$scope"
  out_line "^ok - connected with the token.*: POST $(re "$SRV/mcp") server/discover \(Bearer\) → 200; .*2026-07-28" \
    "$label: connected with the token, server/discover → 200, modern era (2026-07-28)"
  out_line "^ok - tools/list: echo, whoami\$" "$label: tools/list → echo, whoami"
  out_line "^ok - tools/call echo \{\"message\": ?\"$msg\"\} → \"$msg\"\$" "$label: tools/call echo → \"$msg\""
  out_line "^ok - prompts/get → POST $(re "$SRV/mcp") prompts/get \(Bearer\) → 403, $CHALLENGE_403\$" \
    "$label: prompts/get → 403 insufficient_scope, scope mcp:prompts"
  out_line "^ok - SDK step-up" "$label: the SDK stepped up on the 403 (a second authorization round)"
  out_line "^ok - step-up: authorization URL handed to .* client_id ${cid:-none}, .* scope \"[^\"]*mcp:prompts[^\"]*\", state $R6\)\$" \
    "$label: the step-up authorization URL asks for mcp:prompts too"
  out_line "^ok - step-up: Keycloak still does not grant mcp:prompts to mcp-user" "$label: the step-up login's token still lacks mcp:prompts"
  out_line "^ok - prompts/get retried.* → HTTP 403, $CHALLENGE_403\$" "$label: prompts/get retried → 403 insufficient_scope again"
  out_line "^ok - prompts/get refused for good: $final" "$label: the SDK reports the refusal: /$final/"
  out_line "^ok - no further authorization round after the refusal\$" "$label: no third authorization round"
  out_line "^[0-9]+ passed, 0 failed\$" "$label: every check of the client passed"

  # Keycloak's record of the registration; then it is deleted, so runs do not pile up clients.
  if [ -n "$cid" ]; then
    kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$cid" >"$WORK/oauth-client.json"
    if [ -s "$WORK/oauth-client.json" ] && jq -e --arg n "mcp-auth-steps interop ($name)" \
        'length == 1 and .[0].publicClient == true and .[0].name == $n and (.[0].redirectUris | length) == 1 and (.[0].redirectUris[0] | test("^http://127\\.0\\.0\\.1:[0-9]+/callback$"))' \
        "$WORK/oauth-client.json" >/dev/null 2>&1; then
      pass "$label: Keycloak holds client $cid: public, named after $name, one loopback redirect URI"
    else
      fail "$label: Keycloak's record of $cid: $(head -c 300 "$WORK/oauth-client.json")"
    fi
    kc_id="$(jq -r '.[0].id // empty' "$WORK/oauth-client.json" 2>/dev/null)"
    if [ -n "$kc_id" ]; then
      kc_admin DELETE "/admin/realms/$KC_REALM/clients/$kc_id" >/dev/null
      expect_eq "$KC_STATUS" 204 "$label: the registered client deleted again (Admin REST API, HTTP 204)"
    fi
  fi

  # step10's request log for the run: the one 401 (before classification, so no client=), the
  # PRM, then only NAME's requests as mcp-user, modern: discover, tools, and prompts/get 403 twice.
  run_log "$mark"
  n="$(grep -cF 'path="/mcp"' "$WORK/run.lines")"
  expect_eq "$(run_lines '^.*method=POST path="/mcp" status=401 .*rpc_method="-" user="-"')" 1 \
    "$label: step10 logged exactly one 401 (the token-less server/discover)"
  expect_eq "$(grep -F 'path="/mcp"' "$WORK/run.lines" | head -n 1 | grep -cF 'status=401')" 1 "$label: the run's first /mcp request was the 401"
  expect_run_log "method=GET path=\"/\.well-known/oauth-protected-resource/mcp\" status=200 " "$label: step10 logged the PRM fetch"
  for m in server/discover tools/list tools/call; do
    expect_run_log "method=POST path=\"/mcp\" status=200 .*rpc_method=\"$m\" user=\"$MCP_USER_ID\" era=\"modern\" client=\"$name\"" \
      "$label: step10 logged $m 200 for mcp-user ($MCP_USER_ID), modern, client=\"$name\""
  done
  expect_eq "$(run_lines "method=POST path=\"/mcp\" status=403 .*rpc_method=\"prompts/get\" user=\"$MCP_USER_ID\" era=\"modern\" client=\"$name\"")" 2 \
    "$label: step10 logged prompts/get 403 twice (before and after the step-up)"
  stray="$(grep -F 'path="/mcp"' "$WORK/run.lines" | grep -vF 'status=401 ' | grep -vE "era=\"modern\" client=\"$(re "$name")\"\$")"
  if [ "$n" -gt 1 ] && [ -z "$stray" ]; then
    pass "$label: all $n /mcp lines but the 401 are client=\"$name\", era=\"modern\" (no initialize, no legacy)"
  else
    fail "$label: /mcp lines not from client=\"$name\" in the modern era: $(printf '%s\n' "${stray:-(no lines)}" | shown)"
  fi
}

# step10_for_oauth TITLE: step10 on port 9000 (start_step10_9000) and MCP_USER_ID, mcp-user's
# Keycloak id (step10 logs the token's sub); when port 9000 is taken, a failed check in a section
# TITLE and status 1.
step10_for_oauth() {
  if curl -s -o /dev/null --max-time 2 http://127.0.0.1:9000/ 2>/dev/null; then
    section "$1"
    fail "port 9000 is taken: these runs need step10 there (Keycloak's resource_url is http://localhost:9000/mcp)"
    return 1
  fi
  start_step10_9000
  MCP_USER_ID="$(kc_admin GET "/admin/realms/$KC_REALM/users?username=mcp-user&exact=true" | jq -r '.[0].id // empty' 2>/dev/null)"
  [ -n "$MCP_USER_ID" ] || MCP_USER_ID="no-such-user"
}

if step10_for_oauth "SDK OAuth providers against step10 + Keycloak"; then

  section "TypeScript SDK v2 client with its OAuth provider against step10 + Keycloak $KC_VERSION, browser login"
  oauth_journey "SDK v2 OAuth" interop-ts-oauth \
    'the SDK raised InsufficientScopeError, requiredScope "mcp:prompts", errorDescription "prompts/get requires mcp:prompts"$' \
    "$NODE22" "$SDK_OAUTH"

  section "Python SDK client with its OAuthClientProvider against step10 + Keycloak $KC_VERSION, browser login"
  oauth_journey "Python SDK OAuth" interop-py-oauth \
    "the SDK raised MCPError -32003 \"Forbidden: prompts/get requires scope mcp:prompts\" \(required_scope \['mcp:prompts'\]\)\$" \
    "$PY" "$PY_OAUTH"

  # A host the project does not write: mcp-remote, installed from the npm registry as a user would
  # (pinned in scripts/interop/package.json), the stdio proxy that MCP hosts run to reach remote
  # servers. It registers itself with its own client_uri on github.com, opens the browser through
  # $BROWSER (the login driver), and takes the callback on http://localhost:<port>/oauth/callback.
  MCP_REMOTE_VERSION="$(jq -r '.version' "$ROOT/scripts/interop/node_modules/mcp-remote/package.json")"
  section "mcp-remote $MCP_REMOTE_VERSION (npm) against step10 + Keycloak $KC_VERSION: its own registration, browser login, a tool call"
  # mcp-remote's client name is fixed ("MCP CLI Proxy"): clients left by an earlier run go first.
  kc_admin GET "/admin/realms/$KC_REALM/clients?first=0&max=1000" >"$WORK/clients.json"
  for id in $(jq -r '.[] | select(.name == "MCP CLI Proxy") | .id' "$WORK/clients.json"); do
    kc_admin DELETE "/admin/realms/$KC_REALM/clients/$id" >/dev/null
  done
  mark="$(log_mark)"
  run_check "mcp-remote: initialize, tools/list and tools/call echo through the proxy after its OAuth flow as mcp-user (exit 0)" \
    env BROWSER="$ROOT/scripts/browser/login.mjs" LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 LOGIN_CONSENT=accept \
    MCP_REMOTE_CONFIG_DIR="$WORK/mcp-remote" timeout 180 "$PY" "$ROOT/scripts/interop/mcp_remote_client.py" \
    --url "$SRV/mcp" --message "hello from mcp-remote"
  cp "$WORK/check.out" "$WORK/oauth-mcp-remote.out"
  out_line "^# mcp-remote: \[[0-9]+\] Authorizing with the scope the server asked for: mcp:read mcp:tools mcp:prompts offline_access\$" \
    "mcp-remote: asked for the challenge's scope plus offline_access (Keycloak lists it)"
  out_line '^ok - tools/call echo \{"message": "hello from mcp-remote"\} → "hello from mcp-remote"$' "mcp-remote: echo answered through the proxy"
  kc_admin GET "/admin/realms/$KC_REALM/clients?first=0&max=1000" >"$WORK/clients.json"
  jq '[.[] | select(.name == "MCP CLI Proxy")]' "$WORK/clients.json" >"$WORK/mcp-remote-client.json"
  if jq -e 'length == 1 and (.[0] | .baseUrl == "https://github.com/modelcontextprotocol/mcp-cli" and (.redirectUris | length == 1 and (.[0] | test("^http://localhost:[0-9]+/oauth/callback$"))) and .consentRequired == true and .publicClient == true and .attributes["pkce.code.challenge.method"] == "S256")' "$WORK/mcp-remote-client.json" >/dev/null; then
    pass "Keycloak registered mcp-remote: client_uri https://github.com/modelcontextprotocol/mcp-cli kept as base URL, redirect $(jq -r '.[0].redirectUris[0]' "$WORK/mcp-remote-client.json"), consent required, public, PKCE S256"
  else fail "Keycloak's record of mcp-remote: $(jq -c '[.[] | {baseUrl, redirectUris, consentRequired, publicClient}]' "$WORK/mcp-remote-client.json")"; fi
  run_log "$mark"
  expect_run_log "method=POST path=\"/mcp\" status=200 .*rpc_method=\"tools/call\" user=\"$MCP_USER_ID\"" "mcp-remote: step10 logged tools/call 200 for mcp-user"
  for id in $(jq -r '.[].id' "$WORK/mcp-remote-client.json"); do kc_admin DELETE "/admin/realms/$KC_REALM/clients/$id" >/dev/null; done
  expect_eq "${KC_STATUS:-none}" 204 "mcp-remote's client deleted again (HTTP 204)"
  stop_server "$S10_PID"

  section "no token, code or state in full in the OAuth runs' output or step10's log"
  ALL=("$WORK"/oauth-*.out "$SERVER_LOG")
  # scan DESCRIPTION EXTENDED-REGEX: no line of any output matches (lib.sh no_secret).
  scan() { no_secret "$1" "$2" "${ALL[@]}"; }
  scan "no JWT" 'eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.'
  scan "no code= value longer than 8 characters" 'code=[^&…[:space:]]{9,}'
  scan "no 'code X' longer than 8 characters" '(^|[ (,])code [^ …,()]{9,}'
  scan "no state value longer than 8 characters" 'state[ =][^ &…,()✓✗]{9,}'
  scan "no access token value longer than 8 characters" 'access token [^ …,]{9,}'
  scan "no Bearer value shown in full" 'Bearer [A-Za-z0-9._~+/=-]{9,}'
  scan "the password appears nowhere" 'user123'
  n_redacted="$(cat "$WORK"/oauth-*.out | grep -Ec "access token eyJhbG…|code $R6")"
  if [ "$n_redacted" -ge 8 ]; then pass "redacted forms present ($n_redacted lines with 'access token eyJhbG…' / 'code xxxxxx…')"
  else fail "redacted forms present: $n_redacted lines"; fi
fi

# ---------------------------------------------------------------------------------------------
# The MCP Inspector's web UI (@modelcontextprotocol/inspector, pinned in
# scripts/interop/package.json) in headless Chromium against step10 + Keycloak, driven by
# scripts/interop/inspector.mjs the way a person uses it: add the server, switch it on, the
# Inspector's own OAuth discovery (its backend fetches for the page), Keycloak's login and consent
# pages as mcp-user, the Inspector's /oauth/callback, connected, the Tools tab, echo.
# The Inspector registers itself (RFC 7591) with client_uri https://github.com/modelcontextprotocol/inspector
# (it always sends one): the realm takes a client_uri on any host as information (its redirect
# rules are the client policy mcp-dcr, docs/step09-keycloak.md), so the whole flow completes.
# The Inspector runs with its API token on (its default, MCP_INSPECTOR_API_TOKEN), on free
# loopback ports, with its own HOME and its secrets in memory; a fresh one per run, because it
# keeps OAuth tokens per server URL for as long as it runs.
INSPECTOR_VERSION="$(jq -r '.dependencies["@modelcontextprotocol/inspector"]' "$ROOT/scripts/interop/package.json")"
INSPECTOR_BIN="$ROOT/scripts/interop/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
INSPECTOR_JS="$ROOT/scripts/interop/inspector.mjs"

# insp_start N: a fresh Inspector web UI (HOME and catalog under $WORK/inspector-N) on
# 127.0.0.1:$INSP_PORT, waiting (30 s) for /healthz. Sets INSP_PID.
insp_start() {
  local home="$WORK/inspector-$1" deadline=$((SECONDS + 30))
  mkdir -p "$home"
  (cd "$home" && exec env -u DANGEROUSLY_OMIT_AUTH -u MCP_PROXY_AUTH_TOKEN -u MCP_CATALOG_PATH \
    -u MCP_INSPECTOR_ALLOWED_HOSTS -u MCP_INSPECTOR_SECRET_FILE -u MCP_LOG_FILE -u SERVER_PORT \
    HOME="$home" MCP_STORAGE_DIR="$home/storage" MCP_INSPECTOR_SECRET_STORE=memory \
    MCP_AUTO_OPEN_ENABLED=false HOST=127.0.0.1 CLIENT_PORT="$INSP_PORT" \
    MCP_SANDBOX_PORT="$INSP_SANDBOX_PORT" MCP_APP_ORIGIN_PORT="$INSP_APP_PORT" \
    MCP_INSPECTOR_API_TOKEN="$INSP_TOKEN" "$NODE22" "$INSPECTOR_BIN" --web >"$home/out.log" 2>&1) &
  INSP_PID=$!
  PIDS+=("$INSP_PID")
  while [ $SECONDS -lt $deadline ]; do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$INSP_PORT/healthz" 2>/dev/null && return 0
    kill -0 "$INSP_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "the Inspector did not answer on 127.0.0.1:$INSP_PORT within 30 s:"; sed "s/$INSP_TOKEN/<token>/g" "$home/out.log"
  return 1
}

# insp_run N ARGS...: inspector.mjs against the Inspector and step10 (timeout 180 s), logging in
# as mcp-user; its output (shown) in $WORK/check.out and $WORK/inspector-N.out, exit status in
# INSP_CODE. The API token is handed over in the environment, not on the command line.
insp_run() {
  local n="$1"; shift
  env INSPECTOR_API_TOKEN="$INSP_TOKEN" LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 \
    INSPECTOR_SCREENSHOT="$WORK/inspector-$n.png" \
    timeout 180 "$NODE22" "$INSPECTOR_JS" --inspector-url "http://127.0.0.1:$INSP_PORT/" \
    --server-url "$SRV/mcp" "$@" >"$WORK/check.out" 2>&1
  INSP_CODE=$?
  sed 's/^/     | /' "$WORK/check.out"
  cp "$WORK/check.out" "$WORK/inspector-$n.out"
}

# insp_common LABEL: the lines both runs print up to the registration step.
insp_common() {
  out_line "^ok - Inspector UI: MCP Inspector v$(re "$INSPECTOR_VERSION") at http://127\.0\.0\.1:$INSP_PORT/ \(API token $R6\)\$" \
    "$1: the UI is MCP Inspector v$INSPECTOR_VERSION (the pinned version), API token shown redacted"
  out_line "^ok - 401 challenge: POST $(re "$SRV/mcp") \(no token\) → 401, WWW-Authenticate: Bearer realm=\"mcp\", resource_metadata=\"$(re "$PRM")\", scope=\"mcp:read mcp:tools mcp:prompts\"\$" \
    "$1: the Inspector's first request got step10's 401 with resource_metadata and scope"
  out_line "^ok - protected resource metadata: GET $(re "$PRM") → 200 \(through the Inspector's /api/fetch\), resource $(re "$SRV/mcp"), authorization_servers \[\"$(re "$ISS")\"\]\$" \
    "$1: the Inspector fetched step10's PRM: resource $SRV/mcp, authorization server $ISS"
  out_line "^ok - authorization server metadata: GET $(re "$KEYCLOAK_URL")/\.well-known/oauth-authorization-server/realms/$KC_REALM → 200, issuer $(re "$ISS"), registration_endpoint $(re "$ISS")/clients-registrations/openid-connect\$" \
    "$1: the Inspector fetched Keycloak's AS metadata (RFC 8414 path-inserted URL)"
}

if step10_for_oauth "MCP Inspector $INSPECTOR_VERSION web UI against step10 + Keycloak"; then
  INSP_PORT="$(free_port)"
  INSP_SANDBOX_PORT="$(free_port)"
  INSP_APP_PORT="$(free_port)"
  INSP_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  INSP_CALLBACK="http://127.0.0.1:$INSP_PORT/oauth/callback"
  REG_URL="$ISS/clients-registrations/openid-connect"

  section "MCP Inspector $INSPECTOR_VERSION web UI against step10 + Keycloak $KC_VERSION: its own registration (client_uri on github.com), the whole flow"
  if insp_start 1; then
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$INSP_PORT/api/servers")" 401 \
      "the Inspector's /api refuses a request without its API token (HTTP 401): auth is on"
    INSP_BASE_SAVED="$BASE"
    BASE="$SRV"
    request OPTIONS /mcp -H "Origin: http://127.0.0.1:$INSP_PORT" -H 'Access-Control-Request-Method: POST' \
      -H 'Access-Control-Request-Headers: authorization, content-type, mcp-protocol-version'
    BASE="$INSP_BASE_SAVED"
    expect_header access-control-allow-origin "^$(re "http://127.0.0.1:$INSP_PORT")\$" \
      "step10 would allow the Inspector page's origin (CORS preflight; v2 does not need it: its backend sends the requests)"
    MARK="$(log_mark)"
    INSP_MSG="hello from the MCP Inspector"
    insp_run 1 --server-id mcp-auth-steps --message "$INSP_MSG"
    expect_eq "$INSP_CODE" 0 "Inspector, own registration: inspector.mjs exits 0 (the whole flow)"
    insp_common "Inspector, own registration"
    out_line "^ok - OAuth Settings: no client ID \(the Inspector registers itself, RFC 7591\), redirect URI $(re "$INSP_CALLBACK")\$" \
      "Inspector, own registration: no client ID; redirect URI $INSP_CALLBACK"
    out_line "^# registration request body \(the Inspector's client metadata\): \{.*\"client_uri\":\"https://github\.com/modelcontextprotocol/inspector\".*\}\$" \
      "Inspector, own registration: its client metadata has client_uri https://github.com/modelcontextprotocol/inspector"
    out_line "^ok - registration: POST $(re "$REG_URL") → 201, client_id [0-9a-f-]{36}, token_endpoint_auth_method none\$" \
      "Inspector, own registration: Keycloak registers it (201): a client_uri on another host is informational"
    INSP_CID="$(sed -En 's/^ok - registration: POST .* → 201, client_id ([0-9a-f-]{36}), .*$/\1/p' "$WORK/check.out" | head -n 1)"
    out_line "^ok - authorization request: $(re "$ISS")/protocol/openid-connect/auth \(client_id $INSP_CID, redirect_uri $(re "$INSP_CALLBACK"), code_challenge_method S256, resource $(re "$SRV/mcp"), scope \"mcp:read mcp:tools mcp:prompts offline_access\", state $R6\)\$" \
      "Inspector, own registration: authorization request with its client, PKCE S256, resource, scope from the challenge"
    out_line "^ok - Keycloak login page: signed in as mcp-user\$" "Inspector, own registration: signed in on Keycloak's login page"
    out_line "^ok - Keycloak consent page: accepted\$" "Inspector, own registration: accepted Keycloak's consent page (consent is required for self-registered clients)"
    out_line "^ok - callback: $(re "$INSP_CALLBACK") \(the redirect URI\) with code $R6, state $R6, iss $(re "$ISS")\$" \
      "Inspector, own registration: back at the Inspector's /oauth/callback with code, state and iss (shown redacted)"
    out_line "^ok - token request: POST $(re "$ISS")/protocol/openid-connect/token \(grant_type authorization_code, code_verifier [A-Za-z0-9._~-]{1,6}…, resource $(re "$SRV/mcp")\) → 200: access token eyJhbG…, aud \"$(re "$SRV/mcp")\", azp $INSP_CID, scope \"[^\"]*\"\$" \
      "Inspector, own registration: code redeemed with PKCE and resource → 200, aud exactly $SRV/mcp"
    INSP_SCOPE="$(sed -En 's/^ok - token request: .* scope "([^"]*)"$/\1/p' "$WORK/check.out" | head -n 1)"
    expect_mcp_user_scope "Inspector, own registration" "$INSP_SCOPE"
    out_line "^ok - connected: the card says Connected, MCP 2025-11-25, server \"mcp-auth-steps-step10\"\$" \
      "Inspector, own registration: connected (MCP 2025-11-25, legacy era: the Inspector's default)"
    out_line "^ok - tools/list: Tools \(2\): echo, whoami\$" "Inspector, own registration: the Tools tab lists echo and whoami"
    out_line "^ok - tools/call echo: \{\"message\": \"$INSP_MSG\"\} → Results \"$INSP_MSG\"\$" "Inspector, own registration: echo called from the UI"
    out_line "^inspector flow complete\$" "Inspector, own registration: flow complete"

    # step10's log: the 401, the PRM, then mcp-user's requests (the Inspector's backend sends them).
    run_log "$MARK"
    expect_eq "$(run_lines '^.*method=POST path="/mcp" status=401 ')" 1 "Inspector, own registration: step10 logged exactly one 401"
    expect_run_log 'method=GET path="/\.well-known/oauth-protected-resource/mcp" status=200 ' "Inspector, own registration: step10 logged the PRM fetch"
    expect_run_log "method=POST path=\"/mcp\" status=200 .*rpc_method=\"initialize\" user=\"$MCP_USER_ID\" era=\"legacy\" client=\"mcp-inspector\"" \
      "Inspector, own registration: step10 logged initialize 200 for mcp-user ($MCP_USER_ID), client=\"mcp-inspector\""
    for m in tools/list tools/call; do
      expect_run_log "method=POST path=\"/mcp\" status=200 .*rpc_method=\"$m\" user=\"$MCP_USER_ID\" era=\"legacy\"" \
        "Inspector, own registration: step10 logged $m 200 for mcp-user"
    done
    STRAY="$(grep -F 'path="/mcp"' "$WORK/run.lines" | grep -vF 'status=401 ' | grep -vF 'method=GET path="/mcp" status=405 ' | grep -vF "user=\"$MCP_USER_ID\"")"
    if [ -z "$STRAY" ]; then
      pass "Inspector, own registration: every other /mcp request was mcp-user's (a GET stream attempt gets 405)"
    else
      fail "Inspector, own registration: /mcp lines not from mcp-user: $(printf '%s\n' "$STRAY" | shown)"
    fi
    stop_server "$INSP_PID"
  else
    fail "the Inspector did not start"
  fi
  stop_server "$S10_PID"

  # Keycloak's record of the Inspector's client: its client_uri kept as the base URL, consent
  # required, public, PKCE S256. Then it is deleted, so runs do not pile up clients in the realm.
  if [ -n "${INSP_CID:-}" ]; then
    kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$INSP_CID" >"$WORK/insp-client.json"
    if jq -e '.[0] | .baseUrl == "https://github.com/modelcontextprotocol/inspector" and .consentRequired == true and .publicClient == true and .implicitFlowEnabled == false and .directAccessGrantsEnabled == false and .attributes["pkce.code.challenge.method"] == "S256"' "$WORK/insp-client.json" >/dev/null; then
      pass "Keycloak's record of the Inspector: base URL https://github.com/modelcontextprotocol/inspector, consent required, public, no implicit or password grant, PKCE S256"
    else fail "Keycloak's record of the Inspector: $(jq -c '.[0] | {baseUrl, consentRequired, publicClient, implicitFlowEnabled, directAccessGrantsEnabled}' "$WORK/insp-client.json")"; fi
    kc_admin DELETE "/admin/realms/$KC_REALM/clients/$(jq -r '.[0].id' "$WORK/insp-client.json")" >/dev/null
    expect_eq "$KC_STATUS" 204 "the Inspector's client deleted again (HTTP 204)"
  fi

  section "no token, code, API token or password in full in the Inspector runs' output"
  INSP_OUT=("$WORK"/inspector-*.out)
  insp_scan() { no_secret "$1" "$2" "${INSP_OUT[@]}"; }
  insp_scan "no JWT" 'eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.'
  insp_scan "no code / state / verifier value longer than 8 characters" '(code|state|code_verifier)[ =][^ &…,()]{9,}'
  insp_scan "no Bearer value shown in full" 'Bearer [A-Za-z0-9._~+/=-]{9,}'
  insp_scan "the password appears nowhere" 'user123'
  insp_scan "the Inspector's API token appears nowhere" "$INSP_TOKEN"
fi
finish
