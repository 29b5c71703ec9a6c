#!/usr/bin/env bash
# Self-test of scripts/browser/login.mjs against a REAL Keycloak that is already running
# (scripts/keycloak.sh start): this script never starts or stops Keycloak.
#
#   bash scripts/browser/selftest.sh          # KEYCLOAK_URL defaults to http://localhost:8080
#
# 1. --capture with mcp-test-client: code, state and iss come back; the code is exchanged
#    (with the PKCE verifier) at the token endpoint: HTTP 200.
# 2. $BROWSER mode: the browser really reaches a loopback listener (python3 -m http.server).
# 3. a wrong password: non-zero exit, Keycloak's message, no retry, within seconds.
# 4. a dynamically registered client: Keycloak's consent page is accepted (code, token 200)
#    and denied (error=access_denied).
# Codes, tokens and passwords are never printed. Ends with "N passed, N failed".
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KC="${KEYCLOAK_URL:-http://localhost:8080}"
REALM="$KC/realms/mcp-realm"
DRIVER="$here/login.mjs"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/browser-selftest.XXXXXX")"
PASSED=0
FAILED=0
PIDS=()
CLEANUP=()
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

cleanup() {
  local pid c
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for c in "${CLEANUP[@]}"; do eval "$c"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# query_param URL NAME: one query parameter of a URL ('' when absent).
query_param() { python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query).get(sys.argv[2],[""])[0])' "$1" "$2"; }
# Hides code / state / session values in a line before it is shown.
hide() { sed -E 's/((^|[?&])(code|state|session_state)=)[^& "]*/\1…/g'; }

# new_request CLIENT_ID PORT: sets VERIFIER, STATE, REDIRECT_URI and AUTH_URL (PKCE S256).
new_request() {
  VERIFIER="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
  local challenge
  challenge="$(python3 -c 'import sys,hashlib,base64; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$VERIFIER")"
  STATE="$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
  REDIRECT_URI="http://127.0.0.1:$2/callback"
  AUTH_URL="$(python3 -c 'import sys,urllib.parse as u; print(sys.argv[1] + "/protocol/openid-connect/auth?" + u.urlencode({"response_type":"code","client_id":sys.argv[2],"redirect_uri":sys.argv[3],"scope":"openid mcp:read","state":sys.argv[4],"code_challenge":sys.argv[5],"code_challenge_method":"S256"}, quote_via=u.quote))' "$REALM" "$1" "$REDIRECT_URI" "$STATE" "$challenge")"
}

# exchange CLIENT_ID CODE: prints the token endpoint's HTTP status.
exchange() {
  curl -s -o "$WORK/token.json" -w '%{http_code}' "$REALM/protocol/openid-connect/token" \
    -d grant_type=authorization_code -d "client_id=$1" --data-urlencode "code=$2" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
}

# register PORT: a dynamically registered public client (anonymous registration); sets DCR_ID
# and queues its deletion.
register() {
  curl -s -X POST -H 'Content-Type: application/json' "$REALM/clients-registrations/openid-connect" \
    -d "{\"redirect_uris\":[\"http://127.0.0.1:$1/callback\"],\"token_endpoint_auth_method\":\"none\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"],\"client_name\":\"driver test\",\"scope\":\"mcp:read mcp:tools\"}" \
    > "$WORK/reg.json"
  DCR_ID="$(jq -r '.client_id // empty' "$WORK/reg.json")"
  local uri rat
  uri="$(jq -r '.registration_client_uri // empty' "$WORK/reg.json")"
  rat="$(jq -r '.registration_access_token // empty' "$WORK/reg.json")"
  if [ -n "$uri" ] && [ -n "$rat" ]; then
    CLEANUP+=("curl -s -o /dev/null -X DELETE -H 'Authorization: Bearer $rat' '$uri'")
  fi
}

# drive OUT ERR [driver args...]: runs the driver (environment as set by the caller), sets RC and SECS.
drive() {
  local out="$1" err="$2" t0
  shift 2
  t0="$(now)"
  node "$DRIVER" "$@" >"$out" 2>"$err"
  RC=$?
  SECS="$(elapsed "$t0" "$(now)")"
}

section "setup"
bash "$here/install.sh" || { fail "install.sh"; echo "0 passed, 1 failed"; exit 1; }
deadline=$((SECONDS + 180))
until curl -sf -o /dev/null "$REALM/.well-known/openid-configuration"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "Keycloak does not answer at $REALM (start it with scripts/keycloak.sh start)"
    echo "$PASSED passed, $FAILED failed"
    exit 1
  fi
  sleep 2
done
pass "Keycloak answers at $REALM"
ISSUER="$(curl -s "$REALM/.well-known/openid-configuration" | jq -r .issuer)"

section "1. --capture mode, mcp-test-client, mcp-user"
port="$(free_port)"
new_request mcp-test-client "$port"
LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 drive "$WORK/1.out" "$WORK/1.err" --capture "$REDIRECT_URI" "$AUTH_URL"
url="$(cat "$WORK/1.out")"
echo "  driver: exit $RC in $SECS s; $(hide <"$WORK/1.err")"
[ "$RC" = 0 ] && pass "driver exits 0" || fail "driver exit $RC"
[ "$(wc -l <"$WORK/1.out")" = 1 ] && pass "one line on stdout" || fail "stdout has $(wc -l <"$WORK/1.out") lines"
case "$url" in "$REDIRECT_URI?"*) pass "stdout is the redirect URL" ;; *) fail "stdout is not the redirect URL: $(hide <<<"$url")" ;; esac
code="$(query_param "$url" code)"
[ -n "$code" ] && pass "it carries a code" || fail "no code"
[ "$(query_param "$url" state)" = "$STATE" ] && pass "state round-trips" || fail "state differs"
[ "$(query_param "$url" iss)" = "$ISSUER" ] && pass "iss is the issuer" || fail "iss is '$(query_param "$url" iss)'"
status="$(exchange mcp-test-client "$code")"
[ "$status" = 200 ] && pass "the code is real: token endpoint HTTP 200 (scope: $(jq -r .scope "$WORK/token.json"))" \
  || fail "token endpoint HTTP $status: $(jq -c '{error,error_description}' "$WORK/token.json")"

section "2. \$BROWSER mode, a real loopback listener, mcp-admin"
port="$(free_port)"
mkdir -p "$WORK/www"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
new_request mcp-test-client "$port"
LOGIN_USER=mcp-admin LOGIN_PASSWORD=admin123 drive "$WORK/2.out" "$WORK/2.err" "$AUTH_URL"
echo "  driver: exit $RC in $SECS s; $(hide <"$WORK/2.err")"
[ "$RC" = 0 ] && pass "driver exits 0" || fail "driver exit $RC"
[ ! -s "$WORK/2.out" ] && pass "nothing on stdout" || fail "stdout not empty"
line="$(grep -m1 '"GET /callback?' "$WORK/server.log")"
case "$line" in *[?\&]code=*) pass "the listener got it: $(hide <<<"${line#*\"}")" ;; *) fail "the listener's log has no GET /callback?...code=" ;; esac

section "3. wrong password"
new_request mcp-test-client "$(free_port)"
LOGIN_USER=mcp-user LOGIN_PASSWORD=not-the-password drive "$WORK/3.out" "$WORK/3.err" "$AUTH_URL"
echo "  driver: exit $RC in $SECS s; stderr: $(cat "$WORK/3.err")"
[ "$RC" != 0 ] && pass "driver exits non-zero ($RC)" || fail "driver exit 0"
grep -q "^login failed: Keycloak says 'Invalid username or password.'$" "$WORK/3.err" \
  && pass "one line with Keycloak's message" || fail "message: $(cat "$WORK/3.err")"
[ "$(wc -l <"$WORK/3.err")" = 1 ] && pass "exactly one line on stderr" || fail "$(wc -l <"$WORK/3.err") lines on stderr"
grep -q 'not-the-password' "$WORK/3.err" "$WORK/3.out" && fail "the password was printed" || pass "the password is not printed"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 15 else 1)" "$SECS" \
  && pass "gave up in $SECS s (< 15 s)" || fail "took $SECS s"

section "4. a dynamically registered client: Keycloak's consent page"
port="$(free_port)"
register "$port"
[ -n "$DCR_ID" ] && pass "registered a client" || fail "registration: $(jq -c '{error,error_description}' "$WORK/reg.json")"
new_request "$DCR_ID" "$port"
LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 LOGIN_CONSENT=accept drive "$WORK/4.out" "$WORK/4.err" --capture "$REDIRECT_URI" "$AUTH_URL"
url="$(cat "$WORK/4.out")"
echo "  driver (accept): exit $RC in $SECS s; $(hide <"$WORK/4.err")"
[ "$RC" = 0 ] && pass "driver exits 0" || fail "driver exit $RC"
grep -q 'consent accepted' "$WORK/4.err" && pass "the consent page was shown and accepted" || fail "no consent page"
code="$(query_param "$url" code)"
[ -n "$code" ] && [ "$(query_param "$url" state)" = "$STATE" ] && pass "code and state arrive" || fail "no code / state"
status="$(exchange "$DCR_ID" "$code")"
[ "$status" = 200 ] && pass "token endpoint HTTP 200 for the registered client" \
  || fail "token endpoint HTTP $status: $(jq -c '{error,error_description}' "$WORK/token.json")"
new_request "$DCR_ID" "$port"
# Another user: Keycloak remembers mcp-user's consent to this client and would not ask again.
LOGIN_USER=mcp-readonly LOGIN_PASSWORD=readonly123 LOGIN_CONSENT=deny drive "$WORK/5.out" "$WORK/5.err" --capture "$REDIRECT_URI" "$AUTH_URL"
url="$(cat "$WORK/5.out")"
echo "  driver (deny): exit $RC in $SECS s; $(hide <"$WORK/5.err")"
[ "$RC" = 0 ] && pass "driver exits 0" || fail "driver exit $RC"
grep -q 'consent denied' "$WORK/5.err" && pass "the consent page was shown and denied" || fail "no consent page"
[ "$(query_param "$url" error)" = access_denied ] && pass "the redirect carries error=access_denied" || fail "error is '$(query_param "$url" error)'"
[ -z "$(query_param "$url" code)" ] && pass "and no code" || fail "a code came back"
[ "$(query_param "$url" state)" = "$STATE" ] && pass "state round-trips" || fail "state differs"

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
