#!/usr/bin/env bash
# Step 11: the MCP client, against step10 and real Keycloak 26.7.3 (keycloak_lib.sh). step11 opens
# the authorization URL with $BROWSER, here scripts/browser/login.mjs: headless Chromium fills in
# Keycloak's own login form (and consent page) as a person would. Each scenario has a fresh
# --state-dir and runs under `timeout 60`; the script asserts the exit status, the lines of the
# numbered trace and the one-line error message:
#   - the whole journey (mcp-user): 401 → PRM (resource ✓) → AS metadata (S256 ✓) → RFC 7591
#     registration → authorization code + PKCE S256 + state + resource in the browser → callback
#     (state ✓, iss ✓) → token → initialize, tools/list, tools/call echo, prompts/list; the
#     credentials file (0600 in a 0700 directory, named after the issuer); a second run reusing it;
#   - step-up from --scope mcp:read to "mcp:read mcp:tools" on 403 insufficient_scope;
#   - a step-up Keycloak cannot grant (mcp-readonly): gives up within the limit;
#   - the person denies consent (error=access_denied); a wrong password (the client waits until
#     its --callback-timeout and says so); a registration refused by the realm's Trusted Hosts
#     policy (changed through the Admin REST API, then restored); --headless against Keycloak
#     stops at the login page;
#   - bad paths on deliberately broken authorization servers (scripts/fake_oauth.py: metadata
#     without S256, a forged state), a PRM for another resource, bad input;
#   - no token, code, verifier or state in full in any output.
# Keycloak's RFC 8707 support only accepts the resource http://localhost:9000/mcp (the realm's
# resource_url), so the journeys run step10 on port 9000 with that MCP_SERVER_URL.
# The official conformance client scenarios are scripts/step11_conformance.sh, not repeated here.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"

build_once
REALM_FILE="$ROOT/env/keycloak/mcp-realm.json"

# re TEXT: TEXT as an extended regular expression that matches it literally.
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|/]/\\&/g'; }

# start_step10 KEYCLOAK_BASE HOST [PORT]: step10 on PORT (default: a free port P) trusting
# KEYCLOAK_BASE's realm, with MCP_SERVER_URL http://HOST:P (the PRM's resource is then
# http://HOST:P/mcp). Waits (20 s) until /health reports the issuer's keys. Sets S10
# (http://127.0.0.1:P), S10_PORT, S10_PID. The port must be known before step10 starts (it goes
# into MCP_SERVER_URL), so it is chosen with free_port; if something else takes it first, step10
# exits and another port is tried (3 times; a fixed PORT is tried once).
start_step10() {
  local kc="$1" host="$2" fixed="${3:-}" port out log health attempt deadline
  for attempt in 1 2 3; do
    port="${fixed:-$(free_port)}"
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
    [ -z "$fixed" ] || break
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
# browse11 NAME STATE_DIR USER PASSWORD ARGS...: step11 --state-dir STATE_DIR ARGS with $BROWSER
# the login driver, logging in as USER; the driver's own messages go to $WORK/browser-NAME.log.
# LOGIN_CONSENT (accept or deny) is passed on.
browse11() {
  local name="$1" dir="$2" user="$3" password="$4"; shift 4
  BROWSER_LOG="$WORK/browser-$name.log"
  : >"$BROWSER_LOG"
  BROWSER="$WORK/browser.sh" LOGIN_LOG="$BROWSER_LOG" LOGIN_USER="$user" LOGIN_PASSWORD="$password" \
    step11 "$name" --state-dir "$dir" "$@"
}

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
# cred_name ISSUER: the credentials file the client keeps for ISSUER (registration.rs:
# client-<first 16 characters of base64url(SHA-256(issuer))>.json).
cred_name() {
  printf 'client-%s.json' "$(printf '%s' "$1" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-16)"
}
R6='[A-Za-z0-9_-]{1,6}…'   # what redact() leaves of a secret: at most 6 characters and "…"
CALLBACK='http://127\.0\.0\.1:[0-9]+/callback'

# ---------------------------------------------------------------------------------------------
use_keycloak
need_browser
ISS="$KC_ISSUER"
# $BROWSER for step11: the login driver, its messages appended to $LOGIN_LOG.
cat >"$WORK/browser.sh" <<EOF
#!/bin/sh
exec node "$ROOT/scripts/browser/login.mjs" "\$@" 2>>"\${LOGIN_LOG:-/dev/null}"
EOF
chmod +x "$WORK/browser.sh"
SCOPES_USER='(mcp:read mcp:tools|mcp:tools mcp:read)'   # Keycloak lists granted scopes in any order

section "--headless against Keycloak: discovery and registration work, then a login page stops it"
start_step10 "$KEYCLOAK_URL" 127.0.0.1
run11 headless "$WORK/state-headless" "$S10/mcp"
expect_rc 1 "step11 --headless against Keycloak (it shows a login page)"
line "^\[4\] POST $(re "$ISS")/clients-registrations/openid-connect \(RFC 7591: .*\) → client_id [^ ,]+" \
  "Keycloak accepted the anonymous RFC 7591 registration"
error_matches "--headless: the authorization server answered (200 with a page instead of a redirect|30[0-9] with a redirect to .* instead of to $CALLBACK): it wants a login; run without --headless" \
  "message: it wants a login; run without --headless"
stop_server "$S10_PID"

# ---------------------------------------------------------------------------------------------
section "the whole journey (mcp-user in the browser): 401 → discovery → registration → PKCE → token → MCP calls"
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:9000/ 2>/dev/null; then
  fail "port 9000 is taken: the journeys need step10 there (Keycloak's resource_url is http://localhost:9000/mcp)"
  finish
fi
start_step10 "$KEYCLOAK_URL" localhost 9000
SRV="http://localhost:9000"; PRM="$SRV/.well-known/oauth-protected-resource/mcp"
S1="$WORK/state-journey"   # does not exist yet: step11 creates it
browse11 journey "$S1" mcp-user user123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "step11 $SRV/mcp, mcp-user logs in"
CRED="$S1/$(cred_name "$ISS")"
CID="$(jq -r '.client_id // empty' "$CRED" 2>/dev/null)"
if [ -n "$CID" ]; then pass "credentials file $(basename "$CRED") (named after the issuer) holds a client_id"
else fail "credentials file $CRED with a client_id"; CID="no-client-id"; fi
line "^\[1\] POST /mcp server/discover without a token → 401, WWW-Authenticate: Bearer realm=\"mcp\", resource_metadata=\"$(re "$PRM")\", scope=\"mcp:read mcp:tools mcp:prompts\"\$" \
  "[1] server/discover (2026-07-28) without a token → 401 with resource_metadata and scope"
line "^\[2\] GET $(re "$PRM") → 200: resource $(re "$SRV/mcp") ✓ \(names $(re "$SRV/mcp")\), authorization_servers \[$(re "$ISS")\], scopes_supported \[mcp:read, mcp:tools, mcp:prompts\]\$" \
  "[2] PRM fetched, resource ✓, names Keycloak's issuer"
line "^\[3\] GET $(re "$KEYCLOAK_URL")/\.well-known/oauth-authorization-server/realms/mcp-realm → 200\$" \
  "[3] AS metadata: RFC 8414 path-inserted URL first (Keycloak serves it)"
line "^    issuer $(re "$ISS") ✓ \(the PRM's authorization server\), code_challenge_methods_supported has S256 ✓\$" \
  "    issuer ✓ and S256 ✓"
line "^\[4\] POST $(re "$ISS")/clients-registrations/openid-connect \(RFC 7591: redirect_uris \[$CALLBACK\], token_endpoint_auth_method none, scope \"mcp:read mcp:tools mcp:prompts\"\) → client_id $(re "$CID"), token endpoint auth none\$" \
  "[4] RFC 7591 registration: loopback redirect URI, public client → client_id $CID"
line "^    saved to $(re "$CRED") \(mode 0600\)\$" "    saved to the state dir (mode 0600)"
line "^\[5\] authorization request 1 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" \
  "[5] authorization request 1 of at most 3"
line "^    scope \"mcp:read mcp:tools mcp:prompts\" \(from the challenge's scope\), resource $(re "$SRV/mcp")\$" \
  "    scope from the challenge, resource = the PRM's resource (RFC 8707)"
line "^    client_id $(re "$CID"), redirect_uri $CALLBACK, code_challenge [A-Za-z0-9_-]{43} \(S256 of verifier $R6\), state $R6\$" \
  "    PKCE code_challenge (43 characters, S256), verifier and state shown redacted"
line "^    opened the browser \(the BROWSER command\) — waiting up to 30 s for the redirect to $CALLBACK:\$" \
  "    the browser was opened with \$BROWSER"
line "^    $(re "$ISS")/protocol/openid-connect/auth\?response_type=…&client_id=…&redirect_uri=…&scope=…&resource=…&code_challenge=…&code_challenge_method=…&state=…\$" \
  "    the URL is shown without its values once the browser has it"
line "^\[6\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$ISS") ✓\$" \
  "[6] callback: state ✓, iss ✓ (RFC 9207)"
line "^\[7\] POST $(re "$ISS")/protocol/openid-connect/token \(authorization_code, code $R6, code_verifier $R6, resource, client auth none\) → 200: access_token eyJhbG…, expires_in (300|299) s, scope \"$SCOPES_USER\"\$" \
  "[7] token exchange with code_verifier and resource → 200, Keycloak grants mcp-user mcp:read and mcp:tools"
line "^\[8\] POST /mcp server/discover \(Bearer eyJhbG…\) → 200: supportedVersions \[2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26\], server mcp-auth-steps-step10 [0-9.]+, capabilities \[prompts, tools\]\$" \
  "[8] server/discover with the token → 200, modern (no initialize)"
no_line "initialize" "no initialize in a 2026-07-28 run (the server speaks it)"
line "^\[9\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[9] tools/list → echo, whoami"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" \
  "[10] tools/call echo → \"hello from step11\""
line "^\[11\] POST /mcp prompts/list \(Bearer eyJhbG…\) → 200: 1 prompt\(s\): echo_prompt\$" "[11] prompts/list → echo_prompt"
line "^\[12\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[12] done: 1 authorization round"
if [ -s "$ERR" ]; then fail "nothing on stderr: $(head -c 300 "$ERR")"; else pass "nothing on stderr"; fi
if grep -q "consent accepted" "$BROWSER_LOG"; then pass "the browser showed Keycloak's consent page for the new client, and it was accepted"
else fail "consent page: $(tail -n 3 "$BROWSER_LOG")"; fi
if [ "$(stat -c %a "$S1")" = 700 ]; then pass "state dir mode 700"; else fail "state dir mode 700: $(stat -c %a "$S1")"; fi
if [ "$(stat -c %a "$CRED")" = 600 ]; then pass "credentials file mode 600"; else fail "credentials file mode 600: $(stat -c %a "$CRED")"; fi
if [ "$(find "$S1" -mindepth 1 | wc -l)" = 1 ]; then pass "state dir holds exactly that one file (no leftover temporary file)"
else fail "state dir holds exactly one file: $(ls -A "$S1")"; fi
if [ -s "$CRED" ] && jq -e --arg iss "$ISS" '.issuer == $iss and .source == "registered" and .token_endpoint_auth_method == "none" and (has("client_secret") | not) and (.redirect_uris | length) == 1' "$CRED" >/dev/null; then
  pass "credentials: issuer, source registered, public client (no secret), one redirect URI"
else fail "credentials content: $(head -c 300 "$CRED")"; fi
kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$CID" >"$WORK/registered.json"
if jq_true 'length == 1 and .[0].publicClient == true and .[0].attributes["pkce.code.challenge.method"] == "S256"' "$WORK/registered.json"; then
  pass "Keycloak holds the registered client: public, PKCE S256 required"
else fail "Keycloak's record of $CID: $(head -c 300 "$WORK/registered.json")"; fi

section "a second run with the same state dir reuses the registration"
browse11 journey-again "$S1" mcp-user user123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "second run"
line "^\[4\] client: reusing client_id $(re "$CID") registered earlier with $(re "$ISS") \($(re "$CRED")\)\$" \
  "[4] client: reusing client_id … registered earlier with the issuer"
no_line "RFC 7591" "no registration line"
line "^\[6\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$ISS") ✓\$" "[6] callback state ✓"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[10] tools/call echo"
line "^\[12\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[12] done"
if grep -q "consent accepted" "$BROWSER_LOG"; then fail "Keycloak asked for consent again"; else pass "no consent page: Keycloak remembers mcp-user's consent for this client"; fi

section "step-up: --scope mcp:read, then 403 insufficient_scope on tools/call"
browse11 step-up "$WORK/state-step-up" mcp-user user123 --callback-timeout 30 --scope mcp:read "$SRV/mcp"
expect_rc 0 "step11 --scope mcp:read"
line "^    scope \"mcp:read\" \(from --scope\), resource $(re "$SRV/mcp")\$" "first round asks for mcp:read (from --scope)"
line "^\[7\] POST .* → 200: access_token eyJhbG…, expires_in (300|299) s, scope \"mcp:read\"\$" "[7] first token: scope mcp:read"
line "^\[9\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[9] tools/list allowed with mcp:read"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", resource_metadata=\"$(re "$PRM")\", error_description=\"tools/call requires mcp:tools\"\$" \
  "[10] tools/call → 403 insufficient_scope, scope mcp:tools"
line "^\[11\] authorization request 2 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" "[11] a second authorization round"
line "^    scope \"mcp:read mcp:tools\" \(step-up: the scope held so far plus the 403 challenge's scope\), resource $(re "$SRV/mcp")\$" \
  "    step-up scope \"mcp:read mcp:tools\""
line "^\[12\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$ISS") ✓\$" "[12] second callback: state ✓"
line "^\[13\] POST .* → 200: access_token eyJhbG…, expires_in (300|299) s, scope \"$SCOPES_USER\"\$" "[13] second token: mcp:read and mcp:tools"
line "^\[14\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[14] tools/call retried → \"hello from step11\""
line "^\[16\] done: protocol 2026-07-28, 2 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[16] done: 2 authorization round(s)"
if [ "$(grep -c 'RFC 7591' "$OUT")" = 1 ]; then pass "one registration for both rounds"; else fail "one registration for both rounds: $(grep -c 'RFC 7591' "$OUT")"; fi

section "a step-up Keycloak cannot grant (mcp-readonly): gives up within the limit"
browse11 readonly "$WORK/state-readonly" mcp-readonly readonly123 --callback-timeout 30 "$SRV/mcp"
# The realm grants mcp:tools only to holders of the "tools" role, so both tokens say "mcp:read".
# The host steps up once per call: the second 403 on tools/call ends the run (exit 1) before
# prompts/list, and the round limit (3) is never reached.
expect_rc 1 "step11 as mcp-readonly"
line "^\[7\] POST .* → 200: access_token eyJhbG…, expires_in (300|299) s, scope \"mcp:read\"\$" "[7] first token: only mcp:read granted"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[10] tools/call → 403 insufficient_scope"
line "^\[11\] authorization request 2 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" "[11] one step-up round"
line "^    scope \"mcp:read mcp:tools mcp:prompts\" \(step-up: the scope held so far plus the 403 challenge's scope\)," "    step-up scope"
line "^\[13\] POST .* → 200: access_token eyJhbG…, expires_in (300|299) s, scope \"mcp:read\"\$" "[13] second token: still only mcp:read"
line "^\[14\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[14] tools/call → 403 again"
no_line "authorization request 3" "no third authorization round"
no_line "done:|prompts/list" "no done line, no prompts/list"
error_is 'tools/call: still 403 insufficient_scope after stepping up to scope "mcp:read mcp:tools mcp:prompts"; giving up' \
  "message: still 403 after stepping up; giving up"

section "the person denies consent: callback with error=access_denied"
LOGIN_CONSENT=deny browse11 deny "$WORK/state-deny" mcp-user user123 --callback-timeout 30 "$SRV/mcp"
expect_rc 1 "step11 when the person clicks No on Keycloak's consent page"
line "^\[6\] callback /callback: code \(none\), state ✓, error access_denied, iss $(re "$ISS") ✓\$" "[6] callback: no code, state ✓, error access_denied, iss ✓"
error_matches "the authorization server refused: access_denied( \(.*\))?" "message names access_denied"
no_line '^\[[0-9]+\] POST .*/openid-connect/token' "no token request in the trace"

section "a wrong password: the login page says so, and step11 waits until its --callback-timeout"
started=$SECONDS
browse11 wrong-password "$WORK/state-wrong-password" mcp-user not-the-password --callback-timeout 8 "$SRV/mcp"
elapsed=$((SECONDS - started))
expect_rc 1 "step11 with --callback-timeout 8"
if grep -Fxq "login failed: Keycloak says 'Invalid username or password.'" "$BROWSER_LOG"; then
  pass "the browser driver read Keycloak's message: Invalid username or password."
else fail "driver log: $(tail -n 2 "$BROWSER_LOG")"; fi
error_matches "no authorization response reached $CALLBACK within 8 s" "message: no authorization response within 8 s"
if [ "$elapsed" -ge 8 ] && [ "$elapsed" -le 20 ]; then pass "gave up after ${elapsed}s (timeout 8 s)"; else fail "gave up after ${elapsed}s, expected about 8 s"; fi
if grep -q 'not-the-password' "$OUT" "$ERR" "$BROWSER_LOG"; then fail "the password appears in an output"; else pass "the password appears in no output"; fi

section "registration refused by the realm's Trusted Hosts policy (changed through the Admin REST API)"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/components?type=org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy" >"$WORK/policies.json"
jq '.[] | select(.providerId == "trusted-hosts" and .subType == "anonymous")' "$WORK/policies.json" >"$WORK/trusted.json"
TRUSTED_ID="$(jq -r .id "$WORK/trusted.json")"
kc_admin PUT "$R/components/$TRUSTED_ID" "$(jq -c '.config["trusted-hosts"] = ["example.org"]' "$WORK/trusted.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: trusted hosts = [example.org] (HTTP 204)"
browse11 policy "$WORK/state-policy" mcp-user user123 --callback-timeout 30 "$SRV/mcp"
expect_rc 1 "step11 against a realm that trusts only example.org"
line "^    issuer $(re "$ISS") ✓ \(the PRM's authorization server\), code_challenge_methods_supported has S256 ✓\$" "discovery went through"
no_line "authorization request" "no authorization request"
error_is "registration at $ISS/clients-registrations/openid-connect refused (HTTP 403): insufficient_scope: Policy 'Trusted Hosts' rejected request to client-registration service. Details: URI doesn't match any trusted host or trusted domain" \
  "message quotes Keycloak's Trusted Hosts refusal (HTTP 403)"
if [ ! -e "$WORK/state-policy/$(cred_name "$ISS")" ]; then pass "no credentials saved"; else fail "no credentials saved"; fi
kc_admin PUT "$R/components/$TRUSTED_ID" "$(jq -c . "$WORK/trusted.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the Trusted Hosts policy restored (HTTP 204)"
stop_server "$S10_PID"

# ---------------------------------------------------------------------------------------------
section "a PRM whose resource is another server: refused before any registration"
# step10 publishes resource http://localhost:P/mcp; the client talks to http://127.0.0.1:P/mcp.
# (Same port on purpose: the PRM URL in the challenge must answer for the resource check to be
# reached; with an unrelated MCP_SERVER_URL such as http://localhost:9555 the client would stop
# earlier, at "GET http://localhost:9555/… failed: cannot connect".)
start_step10 "$KEYCLOAK_URL" localhost
M_PRM="http://localhost:$S10_PORT/.well-known/oauth-protected-resource/mcp"
run11 mismatch "$WORK/state-mismatch" "$S10/mcp"
expect_rc 1 "step11 against http://127.0.0.1:$S10_PORT/mcp"
line "^\[2\] GET $(re "$M_PRM") → 200: resource $(re "http://localhost:$S10_PORT/mcp") ✗\$" "[2] PRM: resource ✗"
error_is "protected resource metadata at $M_PRM is for resource http://localhost:$S10_PORT/mcp, not for $S10/mcp (RFC 9728 §3.3): refusing to continue" \
  "message: the PRM is for another resource (RFC 9728 §3.3)"
no_line '^\[3\]' "no step after the PRM (no AS metadata, no registration)"
if [ ! -e "$WORK/state-mismatch" ]; then pass "no state dir created"; else fail "no state dir created"; fi
stop_server "$S10_PID"
echo "  (tested against Keycloak $KC_VERSION)"

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
