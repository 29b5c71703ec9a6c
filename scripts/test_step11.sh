#!/usr/bin/env bash
# Step 11: the MCP client. Runs target/debug/step11 --headless (a fresh --state-dir per scenario,
# under `timeout 60`) against step10 and the Keycloak stand-in, and asserts its exit status, the
# lines of its numbered trace and its one-line error message:
#   - the whole journey: 401 → PRM (resource ✓) → AS metadata (S256 ✓) → RFC 7591 registration →
#     authorization code + PKCE S256 + state + resource → callback (state ✓) → token → initialize,
#     tools/list, tools/call echo, prompts/list; the credentials file (0600 in a 0700 directory,
#     named after the issuer); a second run reusing them;
#   - step-up from --scope mcp:read to "mcp:read mcp:tools" on 403 insufficient_scope;
#   - a step-up the authorization server cannot grant (mcp-readonly): gives up within the limit;
#   - bad paths, each a clear message and exit 1: a PRM whose resource is another server, AS
#     metadata without S256 and a state mismatch (scripts/fake_oauth.py), a registration refused
#     by the realm's Trusted Hosts policy, a callback with error=access_denied, bad input;
#   - no token, code, verifier or state in full in any output.
# The official conformance client scenarios are scripts/step11_conformance.sh, not repeated here.
#
# When a real Keycloak answers at ${KEYCLOAK_URL:-http://localhost:8080}, the script checks what a
# headless client can do with it (discover, register, then stop at the login page) and runs the
# rest — which needs --auto-login, --deny or a modified realm — on local stand-ins, as
# test_step10.sh does.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"

build_once
REALM_FILE="$ROOT/env/keycloak/mcp-realm.json"

# re TEXT: TEXT as an extended regular expression that matches it literally.
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|/]/\\&/g'; }

# start_step10 KEYCLOAK_BASE HOST: step10 on a fixed free port P trusting KEYCLOAK_BASE's realm,
# with MCP_SERVER_URL http://HOST:P (the PRM's resource is then http://HOST:P/mcp). Waits (20 s)
# until /health reports the issuer's keys. Sets S10 (http://127.0.0.1:P), S10_PORT, S10_PID.
# The port must be known before step10 starts (it goes into MCP_SERVER_URL), so it is chosen with
# free_port; if something else takes it first, step10 exits and another port is tried (3 times).
start_step10() {
  local kc="$1" host="$2" port out log health attempt deadline
  for attempt in 1 2 3; do
    port="$(free_port)"
    out="$WORK/step10.$port.out"
    log="$WORK/step10.$port.log"
    (cd "$ROOT" && KEYCLOAK_URL="$kc" exec "$BIN/step10" --port "$port" \
      --mcp-server-url "http://$host:$port" >"$out" 2>"$log") &
    S10_PID=$!
    PIDS+=("$S10_PID")
    S10_PORT="$port"
    S10="http://127.0.0.1:$port"
    deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ]; do
      # Wait for our own step10's "listening on" line, then for its keys. (Test the body before
      # jq: jq 1.6 -e exits 0 on empty input.)
      if grep -qxF "listening on $S10" "$out"; then
        health="$(curl -fsS --max-time 2 "$S10/health" 2>/dev/null)"
        if [ -n "$health" ] && printf '%s' "$health" | jq -e '.issuer_keys.state == "ok"' >/dev/null 2>&1; then
          return 0
        fi
      fi
      kill -0 "$S10_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$S10_PID" 2>/dev/null; then
      echo "step10 on port $port did not report the issuer's keys within 20 s"; cat "$log"; exit 1
    fi
    echo "step10 on port $port exited (attempt $attempt): $(tail -n 1 "$log")"
  done
  exit 1
}

# start_fake MODE: scripts/fake_oauth.py --mode MODE on a free port. Sets FAKE (its base URL).
start_fake() {
  local out="$WORK/fake-$1.out"
  python3 "$ROOT/scripts/fake_oauth.py" --mode "$1" >"$out" 2>"$WORK/fake-$1.log" &
  PIDS+=("$!")
  local deadline=$((SECONDS + 10))
  FAKE=""
  while [ $SECONDS -lt $deadline ] && [ -z "$FAKE" ]; do
    FAKE="$(sed -n 's/^listening on //p' "$out" | head -n 1)"
    [ -n "$FAKE" ] || sleep 0.1
  done
  [ -n "$FAKE" ] || { echo "fake_oauth.py --mode $1 did not start"; cat "$WORK/fake-$1.log"; exit 1; }
}

# step11 NAME ARGS...: runs step11 ARGS (timeout 60 s); stdout to $OUT, stderr to $ERR, status
# in RC. run11 NAME STATE_DIR ARGS...: the same with --headless --state-dir STATE_DIR.
step11() {
  local name="$1"; shift
  OUT="$WORK/step11-$name.out"
  ERR="$WORK/step11-$name.err"
  (cd "$ROOT" && timeout 60 "$BIN/step11" "$@") >"$OUT" 2>"$ERR"
  RC=$?
}
run11() { local name="$1" dir="$2"; shift 2; step11 "$name" --headless --state-dir "$dir" "$@"; }

expect_rc() {
  if [ "$RC" = "$1" ]; then pass "$2 (exit $1)"
  else fail "$2: expected exit $1, got $RC; stderr: $(head -c 400 "$ERR")"; fi
}
# line REGEX DESCRIPTION: some trace line matches the extended REGEX (anchor it yourself).
line() {
  if grep -Eq -- "$1" "$OUT"; then pass "$2"
  else fail "$2: no trace line matches /$1/"; printf '       trace:\n'; sed 's/^/         /' "$OUT" | head -n 40; fi
}
no_line() {
  if grep -Eq -- "$1" "$OUT"; then fail "$2: unexpected trace line $(grep -E -- "$1" "$OUT" | head -n 1)"; else pass "$2"; fi
}
# error_is TEXT DESCRIPTION: stderr is exactly the one line "step11: TEXT".
error_is() {
  if [ "$(cat "$ERR")" = "step11: $1" ]; then pass "$2"
  else fail "$2: stderr is '$(head -c 400 "$ERR")', expected 'step11: $1'"; fi
}
error_matches() {
  if [ "$(wc -l <"$ERR")" -eq 1 ] && grep -Eq -- "^step11: $1\$" "$ERR"; then pass "$2"
  else fail "$2: stderr is '$(head -c 400 "$ERR")', expected /^step11: $1\$/"; fi
}
# jq_true FILTER FILE: FILE is non-empty JSON and FILTER is true (jq 1.6 -e exits 0 on empty input).
jq_true() { [ -s "$2" ] && jq -e "$1" "$2" >/dev/null 2>&1; }
# count FILE FIXED-STRING: how many lines of FILE contain the string.
count() { grep -cF -- "$2" "$1"; }
REG_201="POST /realms/mcp-realm/clients-registrations/openid-connect 201"
TOKEN_200="POST /realms/mcp-realm/protocol/openid-connect/token 200"
AS_META="GET /.well-known/oauth-authorization-server/realms/mcp-realm 200"
# expect_count FILE FIXED-STRING N DESCRIPTION
expect_count() {
  local n; n="$(count "$1" "$2")"
  if [ "$n" = "$3" ]; then pass "$4 ($3)"; else fail "$4: expected $3 lines with '$2', found $n"; fi
}
# cred_name ISSUER: the credentials file the client keeps for ISSUER (registration.rs:
# client-<first 16 characters of base64url(SHA-256(issuer))>.json).
cred_name() {
  printf 'client-%s.json' "$(printf '%s' "$1" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-16)"
}
R6='[A-Za-z0-9_-]{1,6}…'   # what redact() leaves of a secret: at most 6 characters and "…"
CALLBACK='http://127\.0\.0\.1:[0-9]+/callback'

# ---------------------------------------------------------------------------------------------
start_keycloak_or_standin --auto-login mcp-user
if [ "$KC_MODE" = keycloak ]; then
  section "real Keycloak: discovery and registration work; --headless stops at the login page"
  KC_BASE="$KEYCLOAK_URL"
  start_step10 "$KC_BASE" 127.0.0.1
  run11 keycloak "$WORK/state-keycloak" "$S10/mcp"
  expect_rc 1 "step11 --headless against a real Keycloak (it shows a login page)"
  line "^\[4\] POST $(re "$KC_ISSUER")/clients-registrations/openid-connect \(RFC 7591: .*\) → client_id [^ ,]+" \
    "real Keycloak accepted the anonymous RFC 7591 registration"
  error_matches "--headless: the authorization server answered (200 with a page instead of a redirect|30[0-9] with a redirect to .* instead of to $CALLBACK): it wants a login; run without --headless" \
    "message: it wants a login; run without --headless"
  stop_server "$S10_PID"
  echo "the remaining scenarios need --auto-login, --deny or a modified realm: local stand-ins"
  start_standin --auto-login mcp-user
fi
# Stand-in A: every authorization is mcp-user's, approved without a page.
A="$STANDIN_URL"; A_ISS="$STANDIN_ISSUER"; A_LOG="$WORK/standin.${A##*:}.log"

# ---------------------------------------------------------------------------------------------
section "the whole journey: 401 → discovery → registration → PKCE → token → MCP calls"
start_step10 "$A" 127.0.0.1
SRV="$S10"; PRM="$SRV/.well-known/oauth-protected-resource/mcp"
S1="$WORK/state-journey"   # does not exist yet: step11 creates it
run11 journey "$S1" "$SRV/mcp"
expect_rc 0 "step11 --headless $SRV/mcp"
CRED="$S1/$(cred_name "$A_ISS")"
CID="$(jq -r '.client_id // empty' "$CRED" 2>/dev/null)"
if [ -n "$CID" ]; then pass "credentials file $(basename "$CRED") (named after the issuer) holds a client_id"
else fail "credentials file $CRED with a client_id"; CID="no-client-id"; fi
line "^\[1\] POST /mcp initialize without a token → 401, WWW-Authenticate: Bearer realm=\"mcp\", resource_metadata=\"$(re "$PRM")\", scope=\"mcp:read mcp:tools mcp:prompts\"\$" \
  "[1] initialize without a token → 401 with resource_metadata and scope"
line "^\[2\] GET $(re "$PRM") → 200: resource $(re "$SRV/mcp") ✓ \(names $(re "$SRV/mcp")\), authorization_servers \[$(re "$A_ISS")\], scopes_supported \[mcp:read, mcp:tools, mcp:prompts\]\$" \
  "[2] PRM fetched, resource ✓, names the stand-in's issuer"
line "^\[3\] GET $(re "$A")/\.well-known/oauth-authorization-server/realms/mcp-realm → 200\$" \
  "[3] AS metadata: RFC 8414 path-inserted URL first"
line "^    issuer $(re "$A_ISS") ✓ \(the PRM's authorization server\), code_challenge_methods_supported has S256 ✓\$" \
  "    issuer ✓ and S256 ✓"
line "^\[4\] POST $(re "$A_ISS")/clients-registrations/openid-connect \(RFC 7591: redirect_uris \[$CALLBACK\], token_endpoint_auth_method none, scope \"mcp:read mcp:tools mcp:prompts\"\) → client_id $(re "$CID"), token endpoint auth none\$" \
  "[4] RFC 7591 registration: loopback redirect URI, public client → client_id $CID"
line "^    saved to $(re "$CRED") \(mode 0600\)\$" "    saved to the state dir (mode 0600)"
line "^\[5\] authorization request 1 of at most 3 → $(re "$A_ISS")/protocol/openid-connect/auth\$" \
  "[5] authorization request 1 of at most 3"
line "^    scope \"mcp:read mcp:tools mcp:prompts\" \(from the challenge's scope\), resource $(re "$SRV/mcp")\$" \
  "    scope from the challenge, resource = the PRM's resource (RFC 8707)"
line "^    client_id $(re "$CID"), redirect_uri $CALLBACK, code_challenge [A-Za-z0-9_-]{43} \(S256 of verifier $R6\), state $R6\$" \
  "    PKCE code_challenge (43 characters, S256), verifier and state shown redacted"
line "^\[6\] GET $(re "$A_ISS")/protocol/openid-connect/auth\?… \(headless, redirects not followed\) → 302 Location: $CALLBACK\?code=$R6&state=$R6&iss=$(re "$A_ISS")\$" \
  "[6] headless: one 302 to the loopback callback with code, state and iss"
line "^\[7\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$A_ISS") ✓\$" \
  "[7] callback: state ✓, iss ✓ (RFC 9207)"
line "^\[8\] POST $(re "$A_ISS")/protocol/openid-connect/token \(authorization_code, code $R6, code_verifier $R6, resource, client auth none\) → 200: access_token eyJhbG…, expires_in 300 s, scope \"mcp:read mcp:tools\"\$" \
  "[8] token exchange with code_verifier and resource → 200, scope granted to mcp-user"
line "^\[9\] POST /mcp initialize \(Bearer eyJhbG…\) → 200: protocolVersion 2025-11-25, server mcp-auth-steps-step10 [0-9.]+, capabilities \[prompts, tools\]\$" \
  "[9] initialize with the token → 200"
line "^\[10\] POST /mcp notifications/initialized \(Bearer eyJhbG…\) → 202\$" "[10] notifications/initialized → 202"
line "^\[11\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[11] tools/list → echo, whoami"
line "^\[12\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" \
  "[12] tools/call echo → \"hello from step11\""
line "^\[13\] POST /mcp prompts/list \(Bearer eyJhbG…\) → 200: 1 prompt\(s\): echo_prompt\$" "[13] prompts/list → echo_prompt"
line "^\[14\] done: protocol 2025-11-25, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[14] done: 1 authorization round"
if [ -s "$ERR" ]; then fail "nothing on stderr: $(head -c 300 "$ERR")"; else pass "nothing on stderr"; fi
if [ "$(stat -c %a "$S1")" = 700 ]; then pass "state dir mode 700"; else fail "state dir mode 700: $(stat -c %a "$S1")"; fi
if [ "$(stat -c %a "$CRED")" = 600 ]; then pass "credentials file mode 600"; else fail "credentials file mode 600: $(stat -c %a "$CRED")"; fi
if [ "$(find "$S1" -mindepth 1 | wc -l)" = 1 ]; then pass "state dir holds exactly that one file (no leftover temporary file)"
else fail "state dir holds exactly one file: $(ls -A "$S1")"; fi
if [ -s "$CRED" ] && jq -e --arg iss "$A_ISS" '.issuer == $iss and .source == "registered" and .token_endpoint_auth_method == "none" and (has("client_secret") | not) and (.redirect_uris | length) == 1' "$CRED" >/dev/null; then
  pass "credentials: issuer, source registered, public client (no secret), one redirect URI"
else fail "credentials content: $(head -c 300 "$CRED")"; fi
expect_count "$A_LOG" "$REG_201" 1 "stand-in: registrations so far"
expect_count "$A_LOG" "$TOKEN_200" 1 "stand-in: token requests so far"

section "a second run with the same state dir reuses the registration"
run11 journey-again "$S1" "$SRV/mcp"
expect_rc 0 "second run"
line "^\[4\] client: reusing client_id $(re "$CID") registered earlier with $(re "$A_ISS") \($(re "$CRED")\)\$" \
  "[4] client: reusing client_id … registered earlier with the issuer"
no_line "RFC 7591" "no registration line"
line "^\[7\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$A_ISS") ✓\$" "[7] callback state ✓"
line "^\[12\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[12] tools/call echo"
line "^\[14\] done: protocol 2025-11-25, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[14] done"
expect_count "$A_LOG" "$REG_201" 1 "stand-in: still one registration"
expect_count "$A_LOG" "$TOKEN_200" 2 "stand-in: token requests so far"

section "step-up: --scope mcp:read, then 403 insufficient_scope on tools/call"
run11 step-up "$WORK/state-step-up" --scope mcp:read "$SRV/mcp"
expect_rc 0 "step11 --scope mcp:read"
line "^    scope \"mcp:read\" \(from --scope\), resource $(re "$SRV/mcp")\$" "first round asks for mcp:read (from --scope)"
line "^\[8\] POST .* → 200: access_token eyJhbG…, expires_in 300 s, scope \"mcp:read\"\$" "[8] first token: scope mcp:read"
line "^\[11\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[11] tools/list allowed with mcp:read"
line "^\[12\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", resource_metadata=\"$(re "$PRM")\", error_description=\"tools/call requires mcp:tools\"\$" \
  "[12] tools/call → 403 insufficient_scope, scope mcp:tools"
line "^\[13\] authorization request 2 of at most 3 → $(re "$A_ISS")/protocol/openid-connect/auth\$" "[13] a second authorization round"
line "^    scope \"mcp:read mcp:tools\" \(step-up: the scope held so far plus the 403 challenge's scope\), resource $(re "$SRV/mcp")\$" \
  "    step-up scope \"mcp:read mcp:tools\""
line "^\[15\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$A_ISS") ✓\$" "[15] second callback: state ✓"
line "^\[16\] POST .* → 200: access_token eyJhbG…, expires_in 300 s, scope \"mcp:read mcp:tools\"\$" "[16] second token: mcp:read mcp:tools"
line "^\[17\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[17] tools/call retried → \"hello from step11\""
line "^\[19\] done: protocol 2025-11-25, 2 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[19] done: 2 authorization round(s)"
if [ "$(grep -c 'RFC 7591' "$OUT")" = 1 ]; then pass "one registration for both rounds"; else fail "one registration for both rounds: $(grep -c 'RFC 7591' "$OUT")"; fi
expect_count "$A_LOG" "$REG_201" 2 "stand-in: registrations so far (one per fresh state dir)"

# ---------------------------------------------------------------------------------------------
section "a PRM whose resource is another server: refused before any registration"
# step10 publishes resource http://localhost:P/mcp; the client talks to http://127.0.0.1:P/mcp.
# (Same port on purpose: the PRM URL in the challenge must answer for the resource check to be
# reached; with an unrelated MCP_SERVER_URL such as http://localhost:9555 the client would stop
# earlier, at "GET http://localhost:9555/… failed: cannot connect".)
start_step10 "$A" localhost
M_PRM="http://localhost:$S10_PORT/.well-known/oauth-protected-resource/mcp"
regs_before="$(count "$A_LOG" "$REG_201")"; meta_before="$(count "$A_LOG" "$AS_META")"
run11 mismatch "$WORK/state-mismatch" "$S10/mcp"
expect_rc 1 "step11 against http://127.0.0.1:$S10_PORT/mcp"
line "^\[2\] GET $(re "$M_PRM") → 200: resource $(re "http://localhost:$S10_PORT/mcp") ✗\$" "[2] PRM: resource ✗"
error_is "protected resource metadata at $M_PRM is for resource http://localhost:$S10_PORT/mcp, not for $S10/mcp (RFC 9728 §3.3): refusing to continue" \
  "message: the PRM is for another resource (RFC 9728 §3.3)"
no_line '^\[3\]' "no step after the PRM"
expect_count "$A_LOG" "$AS_META" "$meta_before" "stand-in: AS metadata fetches unchanged"
expect_count "$A_LOG" "$REG_201" "$regs_before" "stand-in: registrations unchanged"
if [ ! -e "$WORK/state-mismatch" ]; then pass "no state dir created"; else fail "no state dir created"; fi
stop_server "$S10_PID"

# ---------------------------------------------------------------------------------------------
section "a step-up the authorization server cannot grant (mcp-readonly): gives up within the limit"
start_standin --auto-login mcp-readonly
B_ISS="$STANDIN_ISSUER"; B_LOG="$WORK/standin.${STANDIN_URL##*:}.log"
start_step10 "$STANDIN_URL" 127.0.0.1
run11 readonly "$WORK/state-readonly" "$S10/mcp"
# The realm drops mcp:tools for a user without the "tools" role (Keycloak's
# isClientScopePermittedForUser), so both tokens say "mcp:read". mcp_host.rs steps up once per
# call: the second 403 on tools/call is HostError::StillInsufficient — the run fails (exit 1),
# it does not go on to prompts/list, and the round limit (3) is never reached.
expect_rc 1 "step11 as mcp-readonly"
line "^\[8\] POST .* → 200: access_token eyJhbG…, expires_in 300 s, scope \"mcp:read\"\$" "[8] first token: only mcp:read granted"
line "^\[12\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[12] tools/call → 403 insufficient_scope"
line "^\[13\] authorization request 2 of at most 3 → $(re "$B_ISS")/protocol/openid-connect/auth\$" "[13] one step-up round"
# The step-up asks for what it asked before (the 401's three scopes) plus the 403's mcp:tools.
line "^    scope \"mcp:read mcp:tools mcp:prompts\" \(step-up: the scope held so far plus the 403 challenge's scope\)," "    step-up scope"
line "^\[16\] POST .* → 200: access_token eyJhbG…, expires_in 300 s, scope \"mcp:read\"\$" "[16] second token: still only mcp:read"
line "^\[17\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[17] tools/call → 403 again"
no_line "authorization request 3" "no third authorization round"
no_line "done:|prompts/list" "no done line, no prompts/list"
error_is 'tools/call: still 403 insufficient_scope after stepping up to scope "mcp:read mcp:tools mcp:prompts"; giving up' \
  "message: still 403 after stepping up; giving up"
expect_count "$B_LOG" "$TOKEN_200" 2 "stand-in: exactly two token requests"

# ---------------------------------------------------------------------------------------------
section "the user denies: callback with error=access_denied"
start_standin --deny
C_ISS="$STANDIN_ISSUER"; C_LOG="$WORK/standin.${STANDIN_URL##*:}.log"
start_step10 "$STANDIN_URL" 127.0.0.1
run11 deny "$WORK/state-deny" "$S10/mcp"
expect_rc 1 "step11 against a stand-in that denies"
line "^\[6\] GET $(re "$C_ISS")/protocol/openid-connect/auth\?… \(headless, redirects not followed\) → 302 Location: $CALLBACK\?error=access_denied&" \
  "[6] redirect to the callback with error=access_denied"
line "^\[7\] callback /callback: code \(none\), state ✓, error access_denied, iss $(re "$C_ISS") ✓\$" "[7] callback: no code, state ✓, error access_denied"
error_is "the authorization server refused: access_denied (The user denied the request)" "message names access_denied and its description"
no_line '^\[[0-9]+\] POST .*/openid-connect/token' "no token request in the trace"
expect_count "$C_LOG" "POST /realms/mcp-realm/protocol/openid-connect/token" 0 "stand-in: no token request"

# ---------------------------------------------------------------------------------------------
section "registration refused by the realm's Trusted Hosts policy"
jq '(.components["org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"][]
     | select(.providerId == "trusted-hosts") | .config["trusted-hosts"]) = ["example.org"]' \
  "$REALM_FILE" >"$WORK/realm-example-org.json"
if jq_true '[.components[][] | select(.providerId == "trusted-hosts") | .config["trusted-hosts"]] == [["example.org"]]' "$WORK/realm-example-org.json"; then
  pass "modified realm: trusted hosts = [example.org]"
else fail "modified realm: trusted hosts = [example.org]"; fi
start_standin --realm-file "$WORK/realm-example-org.json" --auto-login mcp-user
D_ISS="$STANDIN_ISSUER"
start_step10 "$STANDIN_URL" 127.0.0.1
run11 policy "$WORK/state-policy" "$S10/mcp"
expect_rc 1 "step11 against a realm that trusts only example.org"
line "^    issuer $(re "$D_ISS") ✓ \(the PRM's authorization server\), code_challenge_methods_supported has S256 ✓\$" "discovery went through"
no_line "authorization request" "no authorization request"
error_is "registration at $D_ISS/clients-registrations/openid-connect refused (HTTP 403): insufficient_scope: Policy 'Trusted Hosts' rejected request to client-registration service. Details: URI doesn't match any trusted host or trusted domain" \
  "message quotes the Trusted Hosts refusal (HTTP 403)"
if [ ! -e "$WORK/state-policy/$(cred_name "$D_ISS")" ]; then pass "no credentials saved"; else fail "no credentials saved"; fi

# ---------------------------------------------------------------------------------------------
section "authorization server metadata without S256 (scripts/fake_oauth.py --mode no-s256)"
start_fake no-s256
run11 no-s256 "$WORK/state-no-s256" "$FAKE/mcp"
expect_rc 1 "step11 against an AS offering only plain PKCE"
line "^\[3\] GET $(re "$FAKE")/\.well-known/oauth-authorization-server → 200\$" "[3] AS metadata fetched"
line "^    code_challenge_methods_supported \[plain\] ✗ \(PKCE S256 is required\)\$" "    code_challenge_methods_supported [plain] ✗"
error_is "authorization server $FAKE does not offer PKCE S256 (code_challenge_methods_supported: [plain]): refusing to continue" \
  "message: no PKCE S256, refusing to continue"
curl -sS --max-time 5 -o "$WORK/fake-no-s256.json" "$FAKE/requests"
if jq_true '[.[] | "\(.method) \(.path)"] == ["POST /mcp", "GET /.well-known/oauth-protected-resource/mcp", "GET /.well-known/oauth-authorization-server"]' "$WORK/fake-no-s256.json"; then
  pass "the fake saw only the 401, the PRM and the metadata: no registration, no authorization"
else fail "requests seen by the fake: $(head -c 300 "$WORK/fake-no-s256.json")"; fi

section "state mismatch at the callback (scripts/fake_oauth.py --mode bad-state)"
start_fake bad-state
run11 bad-state "$WORK/state-bad-state" "$FAKE/mcp"
expect_rc 1 "step11 against an AS that returns a forged state"
line "^\[4\] POST $(re "$FAKE")/register \(RFC 7591: .*\) → client_id fake-client, token endpoint auth none\$" "[4] registered with the fake"
line "^\[6\] GET $(re "$FAKE")/authorize\?… \(headless, redirects not followed\) → 302 Location: $CALLBACK\?code=…&state=WR…\$" "[6] redirect carries state=WRONG (shown redacted)"
line "^\[7\] callback /callback: code …, state ✗ \(not the state this client sent\)\$" "[7] callback: state ✗"
error_is "the callback's state does not match the state this client sent: possible CSRF, aborting" "message: state mismatch, possible CSRF, aborting"
curl -sS --max-time 5 -o "$WORK/fake-bad-state.json" "$FAKE/requests"
if jq_true '([.[] | select(.path == "/authorize")] | length) == 1 and ([.[] | select(.path == "/token")] | length) == 0' "$WORK/fake-bad-state.json"; then
  pass "the fake saw GET /authorize and no request to /token"
else fail "requests seen by the fake: $(head -c 300 "$WORK/fake-bad-state.json")"; fi

# ---------------------------------------------------------------------------------------------
section "bad input"
step11 missing-env --headless --state-dir "$WORK/state-bad" --env "$WORK/nonexistent.env"
expect_rc 1 "--env with a missing file"
error_is "env file $WORK/nonexistent.env: No such file or directory (os error 2)" "message names the missing env file"
step11 missing-env-with-url --headless --state-dir "$WORK/state-bad" --env "$WORK/nonexistent.env" http://127.0.0.1:1/mcp
expect_rc 1 "--env with a missing file, even when the URL is given"
error_is "env file $WORK/nonexistent.env: No such file or directory (os error 2)" "a named env file must exist whatever wins"
step11 not-a-url --headless --state-dir "$WORK/state-bad" not-a-url
expect_rc 1 "a server argument that is not a URL"
error_is "the MCP server URL not-a-url is not a URL (relative URL without a base)" "message names the bad URL"
step11 plain-http --headless --state-dir "$WORK/state-bad" http://example.com/mcp
expect_rc 1 "plain http to a non-loopback host"
error_is "MCP server http://example.com/mcp is plain http on a non-loopback host; OAuth needs https there" "message: https required off loopback"
if [ ! -s "$OUT" ]; then pass "refused before any request (empty trace)"; else fail "refused before any request: $(head -c 200 "$OUT")"; fi
printf 'MCP_SERVER_URL=http://example.com\n' >"$WORK/remote.env"
step11 env-remote --headless --state-dir "$WORK/state-bad" --env "$WORK/remote.env"
expect_rc 1 "MCP_SERVER_URL=http://example.com from the env file"
error_is "MCP server http://example.com/mcp is plain http on a non-loopback host; OAuth needs https there" "env file URL + /mcp, refused the same way"
if [ ! -e "$WORK/state-bad" ]; then pass "no state dir created by any bad-input run"; else fail "no state dir created by any bad-input run"; fi

# ---------------------------------------------------------------------------------------------
section "no token, code, verifier or state in full in any step11 output"
ALL=("$WORK"/step11-*.out "$WORK"/step11-*.err)
# scan DESCRIPTION EXTENDED-REGEX: no line of any output matches.
# A hit is reported by file and its first 16 characters only: the report must not leak either.
scan() {
  local hits
  hits="$(grep -EHo -- "$2" "${ALL[@]}" | head -n 3 |
    awk '{ n = index($0, ":"); m = substr($0, n + 1); printf "%s%s: %s… (%d characters)", sep, substr($0, 1, n - 1), substr(m, 1, 16), length(m); sep = "; " }')"
  if [ -z "$hits" ]; then pass "$1"; else fail "$1: $hits"; fi
}
scan "no JWT" 'eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.'
scan "no code= value longer than 8 characters" 'code=[^&…[:space:]]{9,}'
scan "no 'code X' longer than 8 characters" '(^|[ (,])code [^ …,()]{9,}'
scan "no code_verifier / verifier longer than 8 characters" '(code_verifier|verifier) [^ …,()]{9,}'
scan "no state value longer than 8 characters" 'state[ =][^ &…,()✓✗]{9,}'
scan "no access_token value longer than 8 characters" 'access_token [^ …,]{9,}'
scan "no (Bearer …) value shown in full" '\(Bearer [^)…]{7,}\)'
# ...and the redacted forms are really there, so the scan above looked at the right lines.
n_redacted="$(cat "$WORK"/step11-journey.out "$WORK"/step11-step-up.out | grep -Ec "code_verifier $R6|access_token eyJhbG…")"
if [ "$n_redacted" -ge 3 ]; then pass "redacted forms present ($n_redacted token lines with 'code_verifier xxxxxx…' / 'access_token eyJhbG…')"
else fail "redacted forms present: $n_redacted lines"; fi

finish
