#!/usr/bin/env bash
# Step 11: the MCP client, against step10 and real Keycloak 26.7.3 (keycloak_lib.sh). step11 opens
# the authorization URL with $BROWSER, here scripts/browser/login.mjs: headless Chromium fills in
# Keycloak's own login form (and consent page) as a person would. Each scenario has a fresh
# --state-dir and runs under `timeout 60`; the script asserts the exit status, the lines of the
# numbered trace and the one-line error message:
#   - the whole journey (mcp-admin, RFC 7591): 401 → PRM (resource ✓) → AS metadata (S256 ✓) →
#     registration → authorization code + PKCE S256 + state + resource (+ offline_access, which
#     Keycloak lists) in the browser → callback (state ✓, iss ✓) → token → server/discover,
#     tools/list, tools/call echo, prompts/list, prompts/get; the credentials and tokens files
#     (0600 in a 0700 directory, named after the issuer); a second run sending the kept access
#     token without a login;
#   - refresh: Keycloak's access token lifespan cut to 10 s (Admin REST API); after it expires the
#     next run renews it with the refresh token, without a browser; a refresh token Keycloak
#     refuses is deleted and a login follows;
#   - mcp-admin by Client ID Metadata Document: step11 --publish-client-metadata serves its own
#     document on 127.0.0.1:8976, Keycloak fetches it (once: it keeps a copy) and makes a client;
#   - mcp-user stepping up from --scope mcp:tools (to mcp:read for prompts/list) and refused
#     mcp:prompts (prompts/get) within the limit of 3 authorization rounds;
#   - a step-up Keycloak cannot grant (mcp-readonly): gives up after one step-up;
#   - the person denies consent (error=access_denied); a wrong password (the client waits until
#     its --callback-timeout and says so); a registration refused by the realm's redirect rules
#     (client profile mcp-dcr, changed through the Admin REST API, then restored); --headless against Keycloak
#     stops at the login page;
#   - DPoP (RFC 9449) with step10 at DPOP=accepted: step11 binds its tokens (--dpop auto), registers
#     with dpop_bound_access_tokens, gets token_type DPoP with cnf.jkt = its key's thumbprint, calls
#     as DPoP; the next run reuses the token, the one after refreshes it with a proof; step11's own
#     token and key misused (no proof at Keycloak, as Bearer, replayed, other URL/method/key/token,
#     old iat), each refused with its exact error; --dpop off and --dpop on;
#   - callers without a person: mcp-agent by client credentials and private_key_jwt (no browser,
#     nothing written, served per its roles and refused prompts/get, step10 logging client:mcp-agent),
#     aud exactly the resource, whoami caller client, another key / a wrong secret / a 644 key /
#     no --client-id refused exactly, mcp-agent-basic by client_secret_basic; workload identity:
#     the keycloak#50251 failure asserted exactly, and the grant without resource (replay, wrong
#     audience, wrong key refused);
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
# KEYCLOAK_BASE's realm, DPOP=$S10_DPOP (default off), with MCP_SERVER_URL http://HOST:P (the PRM's resource is then
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
    (cd "$ROOT" && KEYCLOAK_URL="$kc" DPOP="${S10_DPOP:-off}" exec "$BIN/step10" --port "$port" \
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
# tok_name ISSUER: the tokens file kept for ISSUER (tokens.rs: the same hash, prefix tokens-).
tok_name() { cred_name "$1" | sed 's/^client-/tokens-/'; }
# key_name ISSUER: the DPoP key file kept for ISSUER (client/dpop.rs: the same hash, prefix dpop-).
key_name() { cred_name "$1" | sed 's/^client-/dpop-/'; }
# jwt_claims JWT: the payload of JWT as JSON.
jwt_claims() { python3 -c 'import base64, sys; p = sys.argv[1].split(".")[1]; sys.stdout.write(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$1"; }
# scopes_re SCOPE...: an extended regex matching the scopes space-separated in any order (Keycloak
# lists granted scopes in no fixed order).
scopes_re() {
  python3 -c 'import itertools, sys; print("(" + "|".join(" ".join(p) for p in itertools.permutations(sys.argv[1:])) + ")")' "$@"
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
SCOPES_ALL="$(scopes_re mcp:read mcp:tools mcp:prompts offline_access)"

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
section "the whole journey (mcp-admin in the browser, RFC 7591 registration): 401 → discovery → registration → PKCE → token → MCP calls"
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:9000/ 2>/dev/null; then
  fail "port 9000 is taken: the journeys need step10 there (Keycloak's resource_url is http://localhost:9000/mcp)"
  finish
fi
start_step10 "$KEYCLOAK_URL" localhost 9000
SRV="http://localhost:9000"; PRM="$SRV/.well-known/oauth-protected-resource/mcp"
S1="$WORK/state-journey"   # does not exist yet: step11 creates it
browse11 journey "$S1" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "step11 $SRV/mcp, mcp-admin logs in"
CRED="$S1/$(cred_name "$ISS")"
TOK="$S1/$(tok_name "$ISS")"
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
line "^\[4\] POST $(re "$ISS")/clients-registrations/openid-connect \(RFC 7591: redirect_uris \[$CALLBACK\], token_endpoint_auth_method none, scope \"mcp:read mcp:tools mcp:prompts offline_access\"\) → client_id $(re "$CID"), token endpoint auth none\$" \
  "[4] RFC 7591 registration: loopback redirect URI, public client, offline_access among the scopes → client_id $CID"
line "^    saved to $(re "$CRED") \(mode 0600\)\$" "    saved to the state dir (mode 0600)"
line "^\[5\] authorization request 1 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" \
  "[5] authorization request 1 of at most 3"
line "^    scope \"mcp:read mcp:tools mcp:prompts offline_access\" \(from the challenge's scope, plus offline_access: the authorization server lists it\), resource $(re "$SRV/mcp")\$" \
  "    scope from the challenge plus offline_access (Keycloak lists it: SEP-2207), resource = the PRM's resource (RFC 8707)"
line "^    client_id $(re "$CID"), redirect_uri $CALLBACK, code_challenge [A-Za-z0-9_-]{43} \(S256 of verifier $R6\), state $R6\$" \
  "    PKCE code_challenge (43 characters, S256), verifier and state shown redacted"
line "^    opened the browser \(the BROWSER command\) — waiting up to 30 s for the redirect to $CALLBACK:\$" \
  "    the browser was opened with \$BROWSER"
line "^    $(re "$ISS")/protocol/openid-connect/auth\?response_type=…&client_id=…&redirect_uri=…&scope=…&resource=…&code_challenge=…&code_challenge_method=…&state=…\$" \
  "    the URL is shown without its values once the browser has it"
line "^\[6\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$ISS") ✓\$" \
  "[6] callback: state ✓, iss ✓ (RFC 9207)"
line "^\[7\] POST $(re "$ISS")/protocol/openid-connect/token \(authorization_code, code $R6, code_verifier $R6, resource, client auth none\) → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$SCOPES_ALL\"\$" \
  "[7] token exchange with code_verifier and resource → 200, Keycloak grants mcp-admin all three MCP scopes and offline_access"
line "^    tokens kept in $(re "$TOK") \(mode 0600\): access token and refresh token $R6\$" \
  "    access and refresh token kept in the state dir (mode 0600), shown redacted"
line "^\[8\] POST /mcp server/discover \(Bearer eyJhbG…\) → 200: supportedVersions \[2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26\], server mcp-auth-steps-step10 [0-9.]+, capabilities \[prompts, tools\]\$" \
  "[8] server/discover with the token → 200, modern (no initialize)"
no_line "initialize" "no initialize in a 2026-07-28 run (the server speaks it)"
line "^\[9\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[9] tools/list → echo, whoami"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" \
  "[10] tools/call echo → \"hello from step11\""
line "^\[11\] POST /mcp prompts/list \(Bearer eyJhbG…\) → 200: 1 prompt\(s\): echo_prompt\$" "[11] prompts/list → echo_prompt"
line "^\[12\] POST /mcp prompts/get \(Bearer eyJhbG…\) echo_prompt \{\"message\":\"hello from step11\"\} → 200: 1 message\(s\), first: \".*hello from step11.*\"\$" \
  "[12] prompts/get echo_prompt (its required argument filled in) → 200"
line "^\[13\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[13] done: 1 authorization round"
if [ -s "$ERR" ]; then fail "nothing on stderr: $(head -c 300 "$ERR")"; else pass "nothing on stderr"; fi
if grep -q "consent accepted" "$BROWSER_LOG"; then pass "the browser showed Keycloak's consent page for the new client, and it was accepted"
else fail "consent page: $(tail -n 3 "$BROWSER_LOG")"; fi
if [ "$(stat -c %a "$S1")" = 700 ]; then pass "state dir mode 700"; else fail "state dir mode 700: $(stat -c %a "$S1")"; fi
if [ "$(stat -c %a "$CRED")" = 600 ]; then pass "credentials file mode 600"; else fail "credentials file mode 600: $(stat -c %a "$CRED")"; fi
if [ "$(stat -c %a "$TOK" 2>/dev/null)" = 600 ]; then pass "tokens file mode 600"; else fail "tokens file mode 600: $(stat -c %a "$TOK" 2>&1)"; fi
if [ "$(find "$S1" -mindepth 1 | wc -l)" = 2 ]; then pass "state dir holds exactly those two files (no leftover temporary file)"
else fail "state dir holds exactly two files: $(ls -A "$S1")"; fi
if [ -s "$CRED" ] && jq -e --arg iss "$ISS" '.issuer == $iss and .source == "registered" and .token_endpoint_auth_method == "none" and (has("client_secret") | not) and (.redirect_uris | length) == 1' "$CRED" >/dev/null; then
  pass "credentials: issuer, source registered, public client (no secret), one redirect URI"
else fail "credentials content: $(head -c 300 "$CRED")"; fi
if [ -s "$TOK" ] && jq -e --arg iss "$ISS" --arg cid "$CID" --arg res "$SRV/mcp" --argjson now "$(date +%s)" \
  '.issuer == $iss and .client_id == $cid and .resource == $res and (.refresh_token | length) > 20 and (.access_token | length) > 20 and .expires_at > $now + 240 and .expires_at <= $now + 301' "$TOK" >/dev/null; then
  pass "tokens: issuer, this client_id, resource $SRV/mcp, an access token expiring in about 300 s, a refresh token"
else fail "tokens content: $(jq -c '{issuer, client_id, resource, expires_at, has_refresh: (.refresh_token != null)}' "$TOK" 2>&1 | head -c 300)"; fi
kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$CID" >"$WORK/registered.json"
if jq_true 'length == 1 and .[0].publicClient == true and .[0].attributes["pkce.code.challenge.method"] == "S256"' "$WORK/registered.json"; then
  pass "Keycloak holds the registered client: public, PKCE S256 required"
else fail "Keycloak's record of $CID: $(head -c 300 "$WORK/registered.json")"; fi

section "a second run with the same state dir: the kept access token, no login"
browse11 journey-again "$S1" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "second run"
line "^\[4\] client: reusing client_id $(re "$CID") registered earlier with $(re "$ISS") \($(re "$CRED")\)\$" \
  "[4] client: reusing client_id … registered earlier with the issuer"
line "^\[5\] tokens kept from an earlier run \($(re "$TOK")\): access token valid for another [0-9]+ s, scope \"$SCOPES_ALL\", refresh token $R6\$" \
  "[5] tokens kept from the first run: access token still valid"
line "^    the access token is still valid: sending it, no login\$" "    sending it, no login"
no_line "RFC 7591|authorization request|^\[[0-9]+\] POST .*/openid-connect/token" "no registration, no authorization request, no token request"
line "^\[6\] POST /mcp server/discover \(Bearer eyJhbG…\) → 200: " "[6] server/discover with the kept token → 200"
line "^\[8\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[8] tools/call echo"
line "^\[11\] done: protocol 2026-07-28, 0 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[11] done: 0 authorization rounds"
if [ ! -s "$BROWSER_LOG" ]; then pass "the browser was never opened"; else fail "the browser was opened: $(head -c 200 "$BROWSER_LOG")"; fi

section "refresh: an expired access token renewed with the refresh token, no second login (Keycloak's access token lifespan cut to 10 s through the Admin REST API)"
LIFESPAN="$(kc_admin GET "/admin/realms/$KC_REALM" | jq -r '.accessTokenLifespan')"
kc_admin PUT "/admin/realms/$KC_REALM" '{"accessTokenLifespan": 10}' >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: accessTokenLifespan 10 (was $LIFESPAN) (HTTP 204)"
AT_EXIT+=("kc_admin PUT \"/admin/realms/$KC_REALM\" '{\"accessTokenLifespan\": $LIFESPAN}' >/dev/null")
S4="$WORK/state-refresh"
browse11 refresh-login "$S4" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "first run: mcp-admin logs in"
line "^\[7\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (10|9) s, scope \"$SCOPES_ALL\"\$" "[7] the token lives 10 s"
EXPIRES_AT="$(jq -r '.expires_at' "$S4/$(tok_name "$ISS")" 2>/dev/null)"
while [ -n "$EXPIRES_AT" ] && [ "$(date +%s)" -le "$EXPIRES_AT" ]; do sleep 1; done
browse11 refresh "$S4" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "second run after the access token expired"
line "^\[5\] tokens kept from an earlier run \($(re "$S4/$(tok_name "$ISS")")\): access token expired [0-9]+ s ago, scope \"$SCOPES_ALL\", refresh token $R6\$" \
  "[5] the kept access token has expired"
line "^\[6\] POST $(re "$ISS")/protocol/openid-connect/token \(refresh_token grant, the access token expired [0-9]+ s ago; refresh_token $R6, resource, client auth none\) → 200: token_type Bearer, access_token eyJhbG…, expires_in (10|9) s, scope \"$SCOPES_ALL\"\$" \
  "[6] refresh_token grant with the resource → 200, a new access token"
line "^    tokens kept in $(re "$S4/$(tok_name "$ISS")") \(mode 0600\): access token and refresh token $R6\$" "    the new tokens kept"
line "^\[9\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[9] tools/call echo with the renewed token"
line "^\[12\] done: protocol 2026-07-28, 0 authorization round\(s\), 2 tool\(s\), 1 refresh\(es\) without a login, called echo, 1 prompt\(s\)\$" \
  "[12] done: 0 authorization rounds, 1 refresh without a login"
no_line "authorization request" "no authorization request"
if [ ! -s "$BROWSER_LOG" ]; then pass "the browser was never opened"; else fail "the browser was opened: $(head -c 200 "$BROWSER_LOG")"; fi

section "a refresh token Keycloak refuses: deleted, then a login"
T4="$S4/$(tok_name "$ISS")"
jq --argjson t "$(($(date +%s) - 5))" '.refresh_token = "not-a-refresh-token" | .expires_at = $t' "$T4" >"$WORK/tokens.json" && cat "$WORK/tokens.json" >"$T4"
browse11 refresh-refused "$S4" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "step11 with a refresh token Keycloak does not know"
line "^\[6\] POST $(re "$ISS")/protocol/openid-connect/token \(refresh_token grant, the access token expired [0-9]+ s ago; refresh_token not-a-…, resource, client auth none\) → token request to $(re "$ISS")/protocol/openid-connect/token refused \(HTTP 400\): invalid_grant: Invalid refresh token\$" \
  "[6] refresh_token grant → 400 invalid_grant (Keycloak's answer)"
line "^    the refresh token is no longer good: deleted $(re "$T4"); a new login follows\$" "    the kept tokens deleted"
line "^\[7\] authorization request 1 of at most 3 → " "[7] then a login"
line "^\[15\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[15] done: 1 authorization round"
if jq_true '.refresh_token != "not-a-refresh-token" and (.refresh_token | length) > 20' "$T4"; then pass "a new refresh token kept"; else fail "a new refresh token kept"; fi
kc_admin PUT "/admin/realms/$KC_REALM" "{\"accessTokenLifespan\": $LIFESPAN}" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: accessTokenLifespan back to $LIFESPAN (HTTP 204)"

section "Client ID Metadata Document (mcp-admin): step11 publishes its own document on loopback (--publish-client-metadata)"
DOC_URL="http://127.0.0.1:8976/client-metadata.json"
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:8976/ 2>/dev/null; then
  fail "port 8976 is taken: --publish-client-metadata serves its document there"
else
  # A client left over from an earlier run against this Keycloak would be served from Keycloak's
  # copy of the document (it keeps one for at least 5 minutes); start from none.
  kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$DOC_URL" >"$WORK/cimd-before.json"
  OLD_ID="$(jq -r '.[0].id // empty' "$WORK/cimd-before.json")"
  if [ -n "$OLD_ID" ]; then kc_admin DELETE "/admin/realms/$KC_REALM/clients/$OLD_ID" >/dev/null; echo "  (deleted the client $DOC_URL left by an earlier run: HTTP $KC_STATUS)"; fi
  S5="$WORK/state-cimd"
  browse11 cimd "$S5" mcp-admin admin123 --callback-timeout 30 --publish-client-metadata "$SRV/mcp"
  expect_rc 0 "step11 --publish-client-metadata, mcp-admin logs in"
  line "^\[4\] client: the AS accepts Client ID Metadata Documents → client_id $(re "$DOC_URL"), no registration\$" \
    "[4] Keycloak advertises client_id_metadata_document_supported → client_id is the document's URL"
  line "^    serving $(re "$DOC_URL") \(client_id = its own URL, redirect_uris \[http://127\.0\.0\.1:8976/callback\], token_endpoint_auth_method none\) while the login runs\$" \
    "    the document served on the callback listener, redirect URI on the same fixed port"
  no_line "RFC 7591" "no RFC 7591 registration"
  line "^    client_id $(re "$DOC_URL"), redirect_uri http://127\.0\.0\.1:8976/callback, code_challenge [A-Za-z0-9_-]{43} " "    the authorization request carries the URL as client_id"
  line "^\[6\] callback /callback: code $R6, state ✓ \(matches\), iss $(re "$ISS") ✓\$" "[6] callback: state ✓, iss ✓"
  line "^    the authorization server fetched the metadata document 1 time\(s\) during this round\$" "    Keycloak fetched the document once"
  line "^\[7\] POST .* \(authorization_code, code $R6, code_verifier $R6, resource, client auth none\) → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$SCOPES_ALL\"\$" "[7] token for the document's client"
  line "^\[13\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[13] done"
  if grep -q "consent accepted" "$BROWSER_LOG"; then pass "Keycloak showed its consent page for the document's client, and it was accepted"
  else fail "consent page: $(tail -n 3 "$BROWSER_LOG")"; fi
  if [ "$(find "$S5" -mindepth 1 -name 'client-*' | wc -l)" = 0 ] && jq_true ".client_id == \"$DOC_URL\"" "$S5/$(tok_name "$ISS")"; then
    pass "no registration kept; the tokens belong to client_id $DOC_URL"
  else fail "state dir: $(ls -A "$S5")"; fi
  kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$DOC_URL" >"$WORK/cimd.json"
  if jq_true 'length == 1 and .[0].name == "mcp-auth-steps step11" and .[0].redirectUris == ["http://127.0.0.1:8976/callback"] and .[0].publicClient == true and .[0].consentRequired == true and (.[0].attributes["cimd.cache.expiry.time.in.sec"] | tonumber) > 0' "$WORK/cimd.json"; then
    pass "Keycloak made a client from the document: its name and redirect URI, public, consent required, a cache expiry"
  else fail "Keycloak's record of $DOC_URL: $(jq -c '.[0] | {name, redirectUris, publicClient, consentRequired, attributes}' "$WORK/cimd.json" | head -c 400)"; fi
  browse11 cimd-again "$WORK/state-cimd-2" mcp-admin admin123 --callback-timeout 30 --publish-client-metadata "$SRV/mcp"
  expect_rc 0 "a second login with the same document (a fresh state dir)"
  line "^    the authorization server fetched the metadata document 0 time\(s\) during this round \(it keeps a copy from an earlier round\)\$" \
    "    Keycloak did not fetch it again: it keeps the document (at least 5 minutes, whatever Cache-Control says)"
  if grep -q "consent accepted" "$BROWSER_LOG"; then fail "Keycloak asked for consent again"; else pass "no consent page: Keycloak remembers mcp-admin's consent for this client"; fi
fi

section "step-up (mcp-user): from --scope mcp:tools to mcp:read, then refused mcp:prompts within the retry limit"
browse11 step-up "$WORK/state-step-up" mcp-user user123 --callback-timeout 30 --scope mcp:tools "$SRV/mcp"
# Keycloak grants mcp:prompts only to holders of the prompts role, which mcp-user lacks; step10
# lets mcp:tools list tools and mcp:read list prompts, but prompts/get needs mcp:prompts.
expect_rc 1 "step11 --scope mcp:tools as mcp-user"
line "^    scope \"mcp:tools offline_access\" \(from --scope, plus offline_access: the authorization server lists it\), resource $(re "$SRV/mcp")\$" \
  "first round asks for mcp:tools (from --scope) and offline_access"
line "^\[7\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$(scopes_re mcp:tools offline_access)\"\$" "[7] first token: mcp:tools"
line "^\[9\] POST /mcp tools/list \(Bearer eyJhbG…\) → 200: 2 tool\(s\): echo, whoami\$" "[9] tools/list allowed with mcp:tools"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[10] tools/call allowed"
line "^\[11\] POST /mcp prompts/list \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:read\", resource_metadata=\"$(re "$PRM")\", error_description=\"prompts/list requires mcp:read or mcp:prompts\"\$" \
  "[11] prompts/list → 403 insufficient_scope, scope mcp:read"
line "^\[12\] authorization request 2 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" "[12] a second authorization round"
line "^    scope \"mcp:tools offline_access mcp:read\" \(step-up: the scope held so far plus the 403 challenge's scope\), resource $(re "$SRV/mcp")\$" \
  "    step-up scope adds mcp:read"
line "^\[14\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$(scopes_re mcp:read mcp:tools offline_access)\"\$" "[14] second token: mcp:read granted"
line "^\[15\] POST /mcp prompts/list \(Bearer eyJhbG…\) → 200: 1 prompt\(s\): echo_prompt\$" "[15] prompts/list retried → 200"
line "^\[16\] POST /mcp prompts/get \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:prompts\", resource_metadata=\"$(re "$PRM")\", error_description=\"prompts/get requires mcp:prompts\"\$" \
  "[16] prompts/get → 403 insufficient_scope, scope mcp:prompts"
line "^\[17\] authorization request 3 of at most 3 → " "[17] the third and last authorization round"
line "^    scope \"mcp:tools offline_access mcp:read mcp:prompts\" \(step-up: the scope held so far plus the 403 challenge's scope\), " "    step-up scope adds mcp:prompts"
line "^\[19\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$(scopes_re mcp:read mcp:tools offline_access)\"\$" "[19] third token: Keycloak does not grant mcp:prompts"
line "^\[20\] POST /mcp prompts/get \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:prompts\"," "[20] prompts/get → 403 again"
no_line "authorization request 4|done:" "no fourth round, no done line"
error_is 'prompts/get: still 403 insufficient_scope after stepping up to scope "mcp:tools offline_access mcp:read mcp:prompts"; giving up' \
  "message: still 403 after stepping up; giving up"
if [ "$(grep -c 'RFC 7591' "$OUT")" = 1 ]; then pass "one registration for all three rounds"; else fail "one registration for all three rounds: $(grep -c 'RFC 7591' "$OUT")"; fi
if [ "$(grep -c 'reached .* with a code' "$BROWSER_LOG")" = 3 ]; then pass "three logins in the browser"; else fail "three logins: $(cat "$BROWSER_LOG")"; fi

section "a step-up Keycloak cannot grant (mcp-readonly): gives up within the limit"
browse11 readonly "$WORK/state-readonly" mcp-readonly readonly123 --callback-timeout 30 "$SRV/mcp"
# The realm grants mcp:tools only to holders of the "tools" role, so both tokens say "mcp:read".
# The host steps up once per call: the second 403 on tools/call ends the run (exit 1) before
# prompts/list, and the round limit (3) is never reached.
expect_rc 1 "step11 as mcp-readonly"
line "^\[7\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$(scopes_re mcp:read offline_access)\"\$" "[7] first token: only mcp:read (and offline_access) granted"
line "^\[10\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[10] tools/call → 403 insufficient_scope"
line "^\[11\] authorization request 2 of at most 3 → $(re "$ISS")/protocol/openid-connect/auth\$" "[11] one step-up round"
line "^    scope \"mcp:read mcp:tools mcp:prompts offline_access\" \(step-up: the scope held so far plus the 403 challenge's scope\)," "    step-up scope"
line "^\[13\] POST .* → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$(scopes_re mcp:read offline_access)\"\$" "[13] second token: still only mcp:read"
line "^\[14\] POST /mcp tools/call \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:tools\"," "[14] tools/call → 403 again"
no_line "authorization request 3" "no third authorization round"
no_line "done:|prompts/list" "no done line, no prompts/list"
error_is 'tools/call: still 403 insufficient_scope after stepping up to scope "mcp:read mcp:tools mcp:prompts offline_access"; giving up' \
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

section "registration refused by a realm that allows no loopback redirect (changed through the Admin REST API)"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/client-policies/profiles" >"$WORK/profiles.json"
jq -c '.profiles |= map(if .name == "mcp-dcr" then .executors |= map(if .executor == "secure-redirect-uris-enforcer" then .configuration["allow-ipv4-loopback-address"] = "false" else . end) else . end)' \
  "$WORK/profiles.json" >"$WORK/profiles-no-loopback.json"
kc_admin PUT "$R/client-policies/profiles" "$(cat "$WORK/profiles-no-loopback.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: profile mcp-dcr with allow-ipv4-loopback-address off (HTTP 204)"
browse11 policy "$WORK/state-policy" mcp-user user123 --callback-timeout 30 "$SRV/mcp"
expect_rc 1 "step11 against a realm that refuses loopback redirects"
line "^    issuer $(re "$ISS") ✓ \(the PRM's authorization server\), code_challenge_methods_supported has S256 ✓\$" "discovery went through"
no_line "authorization request" "no authorization request"
error_is "registration at $ISS/clients-registrations/openid-connect refused (HTTP 403): insufficient_scope: invalid_request" \
  "message quotes Keycloak's refusal (HTTP 403 insufficient_scope: invalid_request)"
if [ ! -e "$WORK/state-policy/$(cred_name "$ISS")" ]; then pass "no credentials saved"; else fail "no credentials saved"; fi
kc_admin PUT "$R/client-policies/profiles" "$(jq -c . "$WORK/profiles.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the profile restored (HTTP 204)"
stop_server "$S10_PID"

# ---------------------------------------------------------------------------------------------
section "DPoP (RFC 9449): step10 with DPOP=accepted; step11 binds its tokens to a key (--dpop auto), on real Keycloak"
S10_DPOP=accepted start_step10 "$KEYCLOAK_URL" localhost 9000
S5="$WORK/state-dpop"
browse11 dpop "$S5" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "step11 $SRV/mcp (DPOP=accepted), mcp-admin logs in"
KEYF="$S5/$(key_name "$ISS")"; TOK5="$S5/$(tok_name "$ISS")"; CRED5="$S5/$(cred_name "$ISS")"
JKT="$(jq -r '.jkt // empty' "$KEYF" 2>/dev/null)"
if [ "${#JKT}" = 43 ]; then pass "key file $(basename "$KEYF") (named after the issuer) holds the key and its thumbprint"; else fail "key file $KEYF: $(head -c 100 "$KEYF" 2>&1)"; JKT=no-jkt; fi
if [ "$(stat -c %a "$KEYF" 2>/dev/null)" = 600 ]; then pass "key file mode 600"; else fail "key file mode 600: $(stat -c %a "$KEYF" 2>&1)"; fi
line '^\[1\] POST /mcp server/discover without a token → 401, WWW-Authenticate: Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+", DPoP algs="ES256 RS256", resource_metadata=' \
  "[1] 401 with a Bearer and a DPoP challenge (RFC 9449 §7.1)"
line "^\[4\] DPoP \(RFC 9449\): the authorization server lists ES256 in dpop_signing_alg_values_supported and the MCP server takes DPoP \(a DPoP challenge or dpop_signing_alg_values_supported\) → tokens bound to key jkt $JKT \(ES256, new, kept in $(re "$KEYF"), mode 0600\)\$" \
  "[4] the decision and why; the key's thumbprint, never the key"
line "^\[5\] POST $(re "$ISS")/clients-registrations/openid-connect \(RFC 7591: redirect_uris \[$CALLBACK\], token_endpoint_auth_method none, scope \"mcp:read mcp:tools mcp:prompts offline_access\", dpop_bound_access_tokens true\) → client_id [^ ,]+, token endpoint auth none\$" \
  "[5] registered with dpop_bound_access_tokens true (RFC 9449 §5.2)"
line "^\[8\] POST $(re "$ISS")/protocol/openid-connect/token \(authorization_code, code $R6, code_verifier $R6, resource, client auth none, DPoP proof \(jkt $JKT\)\) → 200: token_type DPoP, access_token eyJhbG…, expires_in (300|299) s, scope \"$SCOPES_ALL\"\$" \
  "[8] token request with a proof → 200, token_type DPoP"
line "^\[11\] POST /mcp tools/call \(DPoP eyJhbG… \+ proof\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" \
  "[11] tools/call echo presented as DPoP with a fresh proof → 200"
line "^\[14\] done: protocol 2026-07-28, 1 authorization round\(s\), 2 tool\(s\), called echo, 1 prompt\(s\)\$" "[14] done"
if grep -qF -- "$(jq -r '.private_key_pkcs8 // "no-key"' "$KEYF")" "$OUT" "$ERR" "$BROWSER_LOG"; then fail "the private key appears in an output"; else pass "the private key appears in no output"; fi
T5="$(jq -r '.access_token // empty' "$TOK5" 2>/dev/null)"
if [ -n "$T5" ] && [ "$(jwt_claims "$T5" | jq -r '.cnf.jkt // empty')" = "$JKT" ]; then pass "Keycloak's token carries cnf.jkt = the key's thumbprint"; else fail "cnf.jkt of the token: $(jwt_claims "${T5:-a.e30.c}" | jq -c .cnf)"; fi
if [ "$(jq -r .dpop_jkt "$TOK5")" = "$JKT" ]; then pass "tokens file: dpop_jkt = the key's thumbprint"; else fail "tokens file dpop_jkt: $(jq -c .dpop_jkt "$TOK5")"; fi
CID5="$(jq -r '.client_id' "$CRED5")"
kc_admin GET "/admin/realms/$KC_REALM/clients?clientId=$CID5" >"$WORK/registered-dpop.json"
if jq_true '.[0].attributes["dpop.bound.access.tokens"] == "true"' "$WORK/registered-dpop.json"; then
  pass "Keycloak holds the registered client to DPoP (attribute dpop.bound.access.tokens true)"
else fail "Keycloak's record of $CID5: $(jq -c '.[0].attributes' "$WORK/registered-dpop.json" | head -c 300)"; fi
RT5="$(jq -r '.refresh_token' "$TOK5")"
curl -sS -o "$WORK/stolen-refresh.json" -w '%{http_code}' --max-time 10 "$ISS/protocol/openid-connect/token" \
  -d grant_type=refresh_token -d "client_id=$CID5" --data-urlencode "refresh_token=$RT5" >"$WORK/stolen-refresh.code"
expect_eq "$(cat "$WORK/stolen-refresh.code") $(jq -c . "$WORK/stolen-refresh.json")" \
  '400 {"error":"invalid_request","error_description":"DPoP proof is missing"}' \
  "the refresh token used without a proof (a thief without the key) → Keycloak 400 invalid_request: DPoP proof is missing"

section "DPoP: the next runs — the kept token with a new proof, then a refresh with a proof"
browse11 dpop-again "$S5" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "second run"
line "^\[4\] DPoP \(RFC 9449\): .* → tokens bound to key jkt $JKT \(ES256, kept from an earlier run in $(re "$KEYF"), mode 0600\)\$" "[4] the same key, kept from the first run"
line "^\[5\] client: reusing client_id $(re "$CID5") registered earlier" "[5] the DPoP-bound registration is reused"
line "^    the access token is still valid: sending it, no login\$" "    the kept token is sent, no login"
line "^\[9\] POST /mcp tools/call \(DPoP eyJhbG… \+ proof\) echo " "[9] tools/call as DPoP"
jq '.expires_at = 1' "$TOK5" >"$WORK/tokens5.json" && cat "$WORK/tokens5.json" >"$TOK5"
browse11 dpop-refresh "$S5" mcp-admin admin123 --callback-timeout 30 "$SRV/mcp"
expect_rc 0 "third run, the access token marked expired"
line "^\[7\] POST $(re "$ISS")/protocol/openid-connect/token \(refresh_token grant, the access token expired [0-9]+ s ago; refresh_token $R6, resource, client auth none, DPoP proof\) → 200: token_type DPoP, access_token eyJhbG…" \
  "[7] refresh_token grant with a proof → 200, token_type DPoP"
line "^\[13\] done: protocol 2026-07-28, 0 authorization round\(s\), 2 tool\(s\), 1 refresh\(es\) without a login, called echo, 1 prompt\(s\)\$" "[13] done: the refresh, no login"
if [ ! -s "$BROWSER_LOG" ]; then pass "the browser was never opened"; else fail "the browser was opened: $(head -c 200 "$BROWSER_LOG")"; fi
T5="$(jq -r '.access_token' "$TOK5")"
if [ "$(jwt_claims "$T5" | jq -r '.cnf.jkt // empty')" = "$JKT" ]; then pass "the refreshed token is bound to the same key (cnf.jkt)"; else fail "cnf.jkt after the refresh: $(jwt_claims "$T5" | jq -c .cnf)"; fi

section "DPoP: step 11's token used by someone else — each refused by step10 with its exact error"
DPOP_BIN="$ROOT/target/debug/examples/dpop_proof"
if [ "${SKIP_BUILD:-0}" != 1 ]; then (cd "$ROOT" && cargo build --quiet --example dpop_proof) || fail "examples/dpop_proof does not build"; fi
python3 -c 'import json, base64, sys; k = json.load(open(sys.argv[1]))["private_key_pkcs8"]; sys.stdout.buffer.write(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)))' "$KEYF" >"$WORK/step11-key.der"
OTHER_KEY="$WORK/other-key.der"
HTU="$SRV/mcp"
proof11() { "$DPOP_BIN" "$@"; }
# as11 AUTHORIZATION [PROOF...]: tools/list to step10 with that Authorization and DPoP header(s).
as11() {
  local auth="$1"; shift
  local args=(-H "Authorization: $auth" -H 'MCP-Protocol-Version: 2025-11-25' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  for p in "$@"; do args+=(-H "DPoP: $p"); done
  curl -sS -o "$WORK/as11.json" -D "$WORK/as11.headers" -w '%{http_code}' --max-time 10 "$SRV/mcp" "${args[@]}" \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' >"$WORK/as11.code"
}
# refused11 DESCRIPTION ERROR DESCRIPTION_TEXT: the last as11 got 401 with that error in the body.
refused11() {
  expect_eq "$(cat "$WORK/as11.code") $(jq -c '[.error, .error_description]' "$WORK/as11.json")" \
    "401 $(jq -cn --arg e "$2" --arg d "$3" '[$e, $d]')" "$1 → 401 $2: $3"
}
P="$(proof11 "$WORK/step11-key.der" POST "$HTU" --token "$T5")"
as11 "DPoP $T5" "$P"
expect_eq "$(cat "$WORK/as11.code")" 200 "step 11's token and key, a fresh proof → 200 (the holder of the key)"
as11 "DPoP $T5" "$P"
refused11 "the same proof again (replay, same jti)" invalid_dpop_proof "the proof's jti was used before (replay)"
as11 "Bearer $T5"
refused11 "the token as Bearer, no proof (stolen, no downgrade)" invalid_token "the token is bound to a key (cnf.jkt): present it as Authorization: DPoP with a DPoP proof"
as11 "DPoP $T5" "$(proof11 "$WORK/step11-key.der" POST "http://localhost:9001/mcp" --token "$T5")"
refused11 "a proof for another URL" invalid_dpop_proof "htu must be $HTU"
as11 "DPoP $T5" "$(proof11 "$WORK/step11-key.der" GET "$HTU" --token "$T5")"
refused11 "a proof for another method (GET)" invalid_dpop_proof "htm must be POST"
as11 "DPoP $T5" "$(proof11 "$OTHER_KEY" POST "$HTU" --token "$T5")"
refused11 "a proof from another key (the thief's own)" invalid_dpop_proof "the proof's key is not the key the token is bound to (cnf.jkt)"
as11 "DPoP $T5" "$(proof11 "$WORK/step11-key.der" POST "$HTU" --token "another-token")"
refused11 "a proof for another token (ath)" invalid_dpop_proof "ath is not the SHA-256 of the access token"
as11 "DPoP $T5" "$(proof11 "$WORK/step11-key.der" POST "$HTU" --token "$T5" --iat-offset -120)"
refused11 "a proof 120 s old (iat)" invalid_dpop_proof "iat is more than 60 s from the server's clock"
stop_server "$S10_PID"

section "DPoP: --dpop off and --dpop on"
S10_DPOP=accepted start_step10 "$KEYCLOAK_URL" localhost 9000
browse11 dpop-off "$S5" mcp-admin admin123 --callback-timeout 30 --dpop off "$SRV/mcp"
expect_rc 0 "--dpop off against the same server, with the DPoP state dir"
line "^    DPoP: not used — --dpop off: bearer tokens\$" "    DPoP: not used (--dpop off)"
line "^\[4\] client: client_id $(re "$CID5") in $(re "$CRED5") was registered for DPoP-bound tokens; this run uses bearer tokens: registering anew\$" \
  "[4] the DPoP-bound registration (and its tokens) not used for a bearer run"
if [ "$(count "$OUT" "registering anew")" = 1 ]; then pass "said once"; else fail "'registering anew' said $(count "$OUT" "registering anew") times"; fi
line "^\[5\] POST $(re "$ISS")/clients-registrations/openid-connect \(RFC 7591: redirect_uris \[$CALLBACK\], token_endpoint_auth_method none, scope \"mcp:read mcp:tools mcp:prompts offline_access\"\) → client_id " \
  "[5] a new registration, without dpop_bound_access_tokens"
line "^\[[0-9]+\] POST /mcp tools/call \(Bearer eyJhbG…\) echo " "tools/call as Bearer"
stop_server "$S10_PID"
start_step10 "$KEYCLOAK_URL" localhost 9000
browse11 dpop-on "$WORK/state-dpop-on" mcp-admin admin123 --callback-timeout 30 --dpop on "$SRV/mcp"
expect_rc 1 "--dpop on against step10 with DPOP=off"
line "^\[4\] DPoP \(RFC 9449\): --dpop on; the authorization server lists ES256 in dpop_signing_alg_values_supported → tokens bound to key jkt " "[4] --dpop on binds though the server offers no DPoP"
error_is "server/discover: the server answers 401 even with the token just obtained (scope=\"mcp:read mcp:tools mcp:prompts\"; the token is DPoP-bound and this server sent no DPoP challenge, so it does not take DPoP (RFC 9449 §7.1): run with --dpop auto or off)" \
  "message: step10 (DPOP=off) does not take the DPoP-bound token, and step11 says why"
stop_server "$S10_PID"

# ---------------------------------------------------------------------------------------------
section "callers without a person: client credentials on real Keycloak (mcp-agent with private_key_jwt), no browser"
start_step10 "$KEYCLOAK_URL" localhost 9000
AGENT_KEY="$WORK/agent.pem"; cp "$ROOT/keys/agent_private_key.pem" "$AGENT_KEY"; chmod 600 "$AGENT_KEY"
# A $BROWSER that only records that it was started.
printf '#!/bin/sh\necho "$@" >>"%s/browser-started"\n' "$WORK" >"$WORK/no-browser.sh"; chmod +x "$WORK/no-browser.sh"
SA="$WORK/state-agent"
BROWSER="$WORK/no-browser.sh" step11 agent-jwt --state-dir "$SA" --client-credentials --client-id mcp-agent --private-key "$AGENT_KEY" "$SRV/mcp"
expect_rc 1 "step11 --client-credentials --client-id mcp-agent --private-key (prompts/get is refused by the policy)"
AGENT_SCOPES="$(scopes_re profile mcp:read mcp:tools)"
line "^\[4\] client_credentials token request 1 of at most 3, no browser: client_id mcp-agent, client auth private_key_jwt, scope \"mcp:read mcp:tools mcp:prompts\", resource $(re "$SRV/mcp")\$" \
  "[4] client_credentials, private_key_jwt, the challenge's scope and the resource"
line "^\[5\] POST $(re "$ISS")/protocol/openid-connect/token \(client_credentials, resource, scope, client auth private_key_jwt \(an ES256 assertion signed now\)\) → 200: token_type Bearer, access_token eyJhbG…, expires_in (300|299) s, scope \"$AGENT_SCOPES\", a refresh token \(not kept\)\$" \
  "[5] Keycloak answers the signed assertion: a token with mcp:read and mcp:tools, not mcp:prompts"
line "^\[6\] POST /mcp server/discover \(Bearer eyJhbG…\) → 200: " "[6] server/discover with the agent's token"
line "^\[8\] POST /mcp tools/call \(Bearer eyJhbG…\) echo \{\"message\":\"hello from step11\"\} → 200: \"hello from step11\"\$" "[8] tools/call echo served (the tools role)"
line "^\[10\] POST /mcp prompts/get \(Bearer eyJhbG…\) → 403, WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"mcp:prompts\"" "[10] prompts/get refused: 403 insufficient_scope mcp:prompts"
line "^\[11\] client_credentials step-up 2 of at most 3, no browser: client_id mcp-agent, client auth private_key_jwt, scope \"mcp:read mcp:tools mcp:prompts\", resource " \
  "[11] step-up with the same grant, the union of scopes (SEP-2350)"
error_is 'prompts/get: still 403 insufficient_scope after stepping up to scope "mcp:read mcp:tools mcp:prompts"; giving up' \
  "message: the agent's roles do not reach prompts/get, and step11 says so after one step-up"
if [ ! -e "$WORK/browser-started" ]; then pass "no browser was started"; else fail "a browser was started: $(cat "$WORK/browser-started")"; fi
if [ ! -e "$SA" ]; then pass "nothing written to the state directory (an agent keeps no token)"; else fail "state dir written: $(ls -A "$SA")"; fi
S10_LOG="$WORK/step10.9000.log"
if grep -q 'rpc_method="tools/call" user="client:mcp-agent"' "$S10_LOG"; then pass "step10's request log names the caller client:mcp-agent"
else fail "step10 log: $(grep 'tools/call' "$S10_LOG" | tail -n 1)"; fi

section "the agent's token, as step10 sees it: aud exactly the resource, whoami says client"
TK="$ISS/protocol/openid-connect/token"
curl -sS --max-time 10 "$TK" -u mcp-agent-basic:mcp-agent-demo-secret-change-me -d grant_type=client_credentials \
  --data-urlencode "resource=$SRV/mcp" -d 'scope=mcp:read mcp:tools' -o "$WORK/agent-token.json"
AT="$(jq -r '.access_token // empty' "$WORK/agent-token.json")"
if [ -n "$AT" ] && [ "$(jwt_claims "$AT" | jq -c .aud)" = "\"$SRV/mcp\"" ]; then pass "aud is exactly \"$SRV/mcp\" (RFC 8707 resource)"; else fail "aud: $(jwt_claims "${AT:-a.e30.b}" | jq -c .aud)"; fi
curl -sS --max-time 10 "$SRV/mcp" -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' -o "$WORK/whoami.json"
if jq_true '.result.structuredContent | .caller == "client" and .client_id == "mcp-agent-basic" and .username == "service-account-mcp-agent-basic" and .roles == ["read-only","tools"]' "$WORK/whoami.json"; then
  pass "whoami: caller client, client_id mcp-agent-basic, roles read-only tools"
else fail "whoami: $(jq -c .result.structuredContent "$WORK/whoami.json" 2>&1 | head -c 300)"; fi
if jq_true '.result.content[0].text | startswith("You are the client mcp-agent-basic, no person")' "$WORK/whoami.json"; then pass "whoami's text: You are the client mcp-agent-basic, no person"
else fail "whoami text: $(jq -c '.result.content[0].text' "$WORK/whoami.json")"; fi

section "the agent refused: another key, a wrong secret, a key file others can read, a missing client id"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/other-agent.pem" 2>/dev/null; chmod 600 "$WORK/other-agent.pem"
step11 agent-other-key --state-dir "$SA" --client-credentials --client-id mcp-agent --private-key "$WORK/other-agent.pem" "$SRV/mcp"
expect_rc 1 "a key that is not mcp-agent's"
error_is "token request to $ISS/protocol/openid-connect/token refused (HTTP 400): invalid_client: Client authentication with signed JWT failed: Signature on JWT token failed validation" \
  "message quotes Keycloak: invalid_client, the signed JWT failed validation"
STEP11_CLIENT_SECRET=not-the-agent-secret step11 agent-bad-secret --state-dir "$SA" --client-credentials --client-id mcp-agent-basic "$SRV/mcp"
expect_rc 1 "a wrong client secret"
error_is "token request to $ISS/protocol/openid-connect/token refused (HTTP 401): unauthorized_client: Invalid client or Invalid client credentials" \
  "message quotes Keycloak: 401 unauthorized_client"
if grep -q 'not-the-agent-secret' "$OUT" "$ERR"; then fail "the secret appears in an output"; else pass "the secret appears in no output"; fi
STEP11_CLIENT_SECRET=mcp-agent-demo-secret-change-me step11 agent-basic --state-dir "$SA" --client-credentials --client-id mcp-agent-basic "$SRV/mcp"
line "^\[5\] POST .* \(client_credentials, resource, scope, client auth client_secret_basic\) → 200: token_type Bearer, " "the right secret: client_secret_basic → 200"
line "^\[8\] POST /mcp tools/call \(Bearer eyJhbG…\) echo " "[8] tools/call served"
if grep -q 'mcp-agent-demo-secret-change-me' "$OUT" "$ERR"; then fail "the secret appears in an output"; else pass "the secret appears in no output"; fi
cp "$ROOT/keys/agent_private_key.pem" "$WORK/agent-644.pem"; chmod 644 "$WORK/agent-644.pem"
step11 agent-644 --state-dir "$SA" --client-credentials --client-id mcp-agent --private-key "$WORK/agent-644.pem" "$SRV/mcp"
expect_rc 1 "a key file mode 644"
error_is "--private-key $WORK/agent-644.pem: mode 644 lets other users read the private key; chmod 600 it" "message: chmod 600 it"
step11 agent-no-id --state-dir "$SA" --client-credentials --private-key "$AGENT_KEY" "$SRV/mcp"
expect_rc 1 "--client-credentials without --client-id"
error_is "--client-credentials needs --client-id (a client registered for the grant, with a service account)" "message: needs --client-id"

section "workload identity (the JWT-bearer grant) on real Keycloak: the step 5 key plays the CI platform"
# The platform's token: iss https://ci-platform.example, sub the stable sub of ci-runner, aud the
# realm, 2 minutes, signed by the step 5 demo key (the realm's identity provider ci-platform trusts it).
platform_token() { "$BIN/generate-token" --username ci-runner --issuer https://ci-platform.example --audience "${1:-$ISS}" --expires 2m --key "${2:-$ROOT/keys/mcp_private_key.pem}" 2>/dev/null; }
platform_token >"$WORK/platform.jwt"
step11 wif --state-dir "$SA" --client-id mcp-agent --private-key "$AGENT_KEY" --workload-token-file "$WORK/platform.jwt" "$SRV/mcp"
expect_rc 1 "step11 --workload-token-file against Keycloak 26.7.3"
line "^\[4\] jwt-bearer \(workload identity\) token request 1 of at most 3, no browser: client_id mcp-agent, client auth private_key_jwt, " "[4] the JWT-bearer grant, no browser"
error_is "token request to $ISS/protocol/openid-connect/token refused (HTTP 400): invalid_grant: Cannot invoke \"org.keycloak.representations.RefreshToken.getOtherClaims()\" because the return value of \"org.keycloak.protocol.oidc.token.TokenPostProcessorContext.refreshToken()\" is null" \
  "Keycloak 26.7.3 fails the grant when resource is sent and it issues no refresh token (keycloak#50251): the known blocker, asserted exactly"
# The same grant without resource (what step11 cannot leave out: MCP requires it) shows the rest works.
jwt_grant() { curl -sS --max-time 10 "$TK" -u mcp-agent-basic:mcp-agent-demo-secret-change-me -d "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer" --data-urlencode "assertion=$1" -d 'scope=mcp:read mcp:tools'; }
P1="$(platform_token)"
jwt_grant "$P1" >"$WORK/wif.json"
AT="$(jq -r '.access_token // empty' "$WORK/wif.json")"
if [ -n "$AT" ] && jwt_claims "$AT" | jq -e '.preferred_username == "ci-runner" and (.resource_access["echo-mcp-server"].roles | sort) == ["read-only","tools"]' >/dev/null; then
  pass "without resource: Keycloak maps the platform's sub to the user ci-runner (roles read-only tools)"
else fail "JWT-bearer grant without resource: $(jq -c '{error, error_description}' "$WORK/wif.json")"; fi
expect_eq "$(jwt_grant "$P1" | jq -c '[.error, .error_description]')" '["invalid_grant","Token reuse detected"]' "the same platform token twice: invalid_grant, Token reuse detected (jti)"
expect_eq "$(jwt_grant "$(platform_token http://localhost:9000/mcp)" | jq -c '[.error, .error_description]')" '["invalid_grant","Invalid token audience"]' "a platform token for another audience: invalid_grant, Invalid token audience"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/other-rsa.pem" 2>/dev/null
expect_eq "$(jwt_grant "$(platform_token "$ISS" "$WORK/other-rsa.pem")" | jq -c '[.error, .error_description]')" '["invalid_grant","Invalid signature"]' "a platform token signed by another key: invalid_grant, Invalid signature"
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
# Hostile servers (issue 22): one bad thing at a time from scripts/fake_oauth.py. Whatever a server
# sends reaches the terminal escaped (ESC as \x1b, a newline as \n), long values shortened with
# their length, and a token response that breaks RFC 6749/6750 syntax is refused with nothing
# kept.
line_fixed() {
  if grep -qF -- "$1" "$OUT"; then pass "$2"
  else fail "$2: no trace line contains '$1'"; printf '       trace:\n'; cut -c1-300 "$OUT" | sed 's/^/         /' | head -n 30; fi
}
# no_raw_controls WHAT: neither stdout nor stderr of the last run holds a raw ESC, BEL or CR byte.
no_raw_controls() {
  if LC_ALL=C grep -q $'[\x1b\x07\r]' "$OUT" "$ERR"; then
    fail "$1: a raw control byte reached the terminal: $(LC_ALL=C grep -c $'[\x1b\x07\r]' "$OUT" "$ERR" | tr '\n' ' ')"
  else pass "$1: no raw ESC, BEL or CR on stdout or stderr"; fi
}
# kept_files DIR EXPECTED: the names in the state directory, sorted and space-separated.
kept_files() {
  local got
  got="$(cd "$1" 2>/dev/null && ls | sort | tr '\n' ' ' | sed 's/ $//')"
  expect_eq "$got" "$2" "state directory $(basename "$1") holds exactly: ${2:-(nothing)}"
}

section "hostile authorization error response (fake_oauth.py --mode hostile-error)"
start_fake hostile-error
run11 hostile-error "$WORK/state-hostile-error" "$FAKE/mcp"
expect_rc 1 "step11 against an error response with escape sequences and a forged line"
line_fixed '[7] callback /callback: code (none), state ✓, error \x1b[2Jaccess_denied, iss '"$FAKE"' ✓' \
  "[7] the callback's error shown with ESC escaped"
error_is 'the authorization server refused: \x1b[2Jaccess_denied (line one\n[9] done: forged)' \
  "message: error and error_description escaped, the forged line stays inside it"
no_line '^\[9\] done' "no forged [9] done line"
no_raw_controls "hostile error response"

section "access token with CR LF (fake_oauth.py --mode hostile-token)"
start_fake hostile-token
run11 hostile-token "$WORK/state-hostile-token" "$FAKE/mcp"
expect_rc 1 "step11 against a token response whose access_token holds CR LF"
error_is "token request to $FAKE/token refused (HTTP 200): access_token is not an RFC 6750 b64token (character 4 is U+000D), so it cannot be sent as a Bearer credential" \
  "message: the access token's syntax (RFC 6750 b64token), its position named"
no_line '→ 200: token_type' "no '→ 200: token_type' line for the refused response"
kept_files "$WORK/state-hostile-token" "$(cred_name "$FAKE")"
curl -sS --max-time 5 -o "$WORK/fake-hostile-token.json" "$FAKE/requests"
if jq_true '[.[] | select(.path == "/mcp")] | length == 1' "$WORK/fake-hostile-token.json"; then
  pass "the token was never sent: one POST /mcp (the first, without a token)"
else fail "requests seen by the fake: $(head -c 300 "$WORK/fake-hostile-token.json")"; fi
run11 hostile-token-again "$WORK/state-hostile-token" "$FAKE/mcp"
error_is "token request to $FAKE/token refused (HTTP 200): access_token is not an RFC 6750 b64token (character 4 is U+000D), so it cannot be sent as a Bearer credential" \
  "a second run with the same --state-dir meets the same refusal, not a broken kept token"
no_line 'builder error' "no 'builder error' from a kept malformed token"

section "expires_in 2^64-1 (fake_oauth.py --mode huge-expiry)"
start_fake huge-expiry
run11 huge-expiry "$WORK/state-huge-expiry" "$FAKE/mcp"
expect_rc 1 "step11 against expires_in 18446744073709551615 (no panic)"
error_is "token request to $FAKE/token refused (HTTP 200): expires_in 18446744073709551615 is out of range (at most 315360000 s, ten years)" \
  "message: expires_in out of range"
if grep -q 'panicked\|overflow' "$ERR"; then fail "no panic: $(head -c 300 "$ERR")"; else pass "no panic, no overflow message"; fi
kept_files "$WORK/state-huge-expiry" "$(cred_name "$FAKE")"

section "a kept token file edited to hold a newline (the hostile-text fake's token)"
start_fake hostile-text
run11 kept-bad "$WORK/state-kept-bad" "$FAKE/mcp"
expect_rc 0 "a first run keeps a good token"
tokfile="$WORK/state-kept-bad/$(tok_name "$FAKE")"
jq '.access_token = "fake-access-token\nX-Evil: 1"' "$tokfile" >"$tokfile.new" && mv "$tokfile.new" "$tokfile"
chmod 600 "$tokfile"
run11 kept-bad-again "$WORK/state-kept-bad" "$FAKE/mcp"
expect_rc 0 "the second run logs in again instead of failing"
line_fixed "tokens kept in $tokfile discarded: access_token is not an RFC 6750 b64token (character 18 is U+000A), so it cannot be sent as a Bearer credential; deleted, a new login follows" \
  "the malformed kept token is discarded with a message"
line '1 authorization round\(s\)' "a login replaced it"
if jq_true '.access_token == "fake-access-token-0123456789"' "$tokfile"; then pass "the file holds the new login's token"
else fail "the tokens file after the run: $(jq -c 'del(.access_token, .refresh_token)' "$tokfile" 2>&1 | head -c 200)"; fi

section "hostile texts in a flow that works (fake_oauth.py --mode hostile-text)"
run11 hostile-text "$WORK/state-hostile-text" "$FAKE/mcp"
expect_rc 0 "step11 completes against a server whose texts are hostile"
no_raw_controls "hostile texts"
line '^\[1\] POST /mcp server/discover without a token → 401, WWW-Authenticate: Bearer resource_metadata=.*, error_description="A{100,}…\(65666 bytes in all\)$' \
  "[1] the 64 KiB WWW-Authenticate shortened, with its length"
if [ "$(head -n 1 "$OUT" | wc -c)" -lt 600 ]; then pass "[1] is under 600 bytes (was 64 KiB)"
else fail "[1] is $(head -n 1 "$OUT" | wc -c) bytes"; fi
line_fixed 'scopes_supported [mcp:read, \x1b]0;pwned\x07]' "[2] the PRM's scopes_supported with the OSC sequence escaped"
line_fixed '→ 200: supportedVersions [2026-07-28], server \x1b]0;pwned\x07evil\nserver 1\u{202e}, capabilities [tools]' \
  "server/discover: name (OSC, newline) and version (bidi override) escaped"
line_fixed '1 tool(s): echo\x1b[2J\n[9] done: forged' "tools/list: the tool's name escaped"
line_fixed '→ 200: "\u{1b}[31mred"' "tools/call: the answer's ESC escaped"
if [ "$(grep -c '^\[[0-9]*\] done' "$OUT")" = 1 ]; then pass "exactly one 'done' line: the forged one did not become a line"
else fail "'done' lines: $(grep -c '^\[[0-9]*\] done' "$OUT")"; fi

section "hostile registration and metadata (fake_oauth.py --mode hostile-client-id, hostile-prm)"
start_fake hostile-client-id
run11 hostile-client-id "$WORK/state-hostile-client-id" "$FAKE/mcp"
expect_rc 1 "step11 against a registered client_id holding ESC"
error_is "registration response from $FAKE/register is unusable: client_id is not RFC 6749 1*VSCHAR (character 5 is U+001B)" \
  "message: the client_id's syntax (RFC 6749 A.1)"
kept_files "$WORK/state-hostile-client-id" ""
no_raw_controls "hostile client_id"
start_fake hostile-prm
run11 hostile-prm "$WORK/state-hostile-prm" "$FAKE/mcp"
expect_rc 1 "step11 against a PRM whose resource holds ESC"
error_is "protected resource metadata at $FAKE/.well-known/oauth-protected-resource/mcp is for resource $FAKE/mcp\\x1b[2J, not for $FAKE/mcp (RFC 9728 §3.3): refusing to continue" \
  "message: the foreign resource refused, ESC escaped"
no_raw_controls "hostile PRM"

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
# scan DESCRIPTION EXTENDED-REGEX: no line of any output matches (lib.sh no_secret).
scan() { no_secret "$1" "$2" "${ALL[@]}"; }
scan "no JWT" 'eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.'
scan "no code= value longer than 8 characters" 'code=[^&…[:space:]]{9,}'
scan "no 'code X' longer than 8 characters" '(^|[ (,])code [^ …,()]{9,}'
scan "no code_verifier / verifier longer than 8 characters" '(code_verifier|verifier) [^ …,()]{9,}'
scan "no state value longer than 8 characters" 'state[ =][^ &…,()✓✗]{9,}'
scan "no access_token value longer than 8 characters" 'access_token [^ …,]{9,}'
scan "no refresh_token / refresh token value longer than 8 characters" 'refresh[_ ]token [^ …,]{9,}'
scan "the refused refresh token not in full" 'not-a-refresh-token'
scan "no (Bearer …) value shown in full" '\(Bearer [^)…]{7,}\)'
# ...and the redacted forms are really there, so the scan above looked at the right lines.
n_redacted="$(cat "$WORK"/step11-journey.out "$WORK"/step11-step-up.out | grep -Ec "code_verifier $R6|access_token eyJhbG…")"
if [ "$n_redacted" -ge 3 ]; then pass "redacted forms present ($n_redacted token lines with 'code_verifier xxxxxx…' / 'access_token eyJhbG…')"
else fail "redacted forms present: $n_redacted lines"; fi

finish
