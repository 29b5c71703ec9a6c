#!/usr/bin/env bash
# The production shape (scripts/production.sh, docs/production.md): nginx terminating TLS with a
# demo CA, three step 10 replicas, two Keycloak nodes in production mode on PostgreSQL 15.
#  1. every URL the metadata, the challenges and Keycloak's metadata name is the public https://
#     one, and forwarded headers a client sends change none of them;
#  2. tokens for another audience are refused with the exact error: the http:// scheme, the
#     single-node setup's token; Keycloak refuses a resource on the old scheme;
#  3. step 11 and the official TypeScript and Python SDK clients log in through the proxy over TLS
#     (a real browser on Keycloak's page) and call a tool, trusting the demo CA; without it they
#     fail;
#  4. faults under load (examples/prod_load.rs, 8 workers): a rolling restart of the replicas
#     (0 failed), one replica killed with SIGKILL (failures counted), one Keycloak node stopped
#     (password and refresh-token grants and a browser login continue), PostgreSQL restarted
#     (Keycloak recovers; no client or user lost).
# Starts the setup when it does not run, and stops it again at exit; leaves it alone otherwise
# (PRODUCTION_KEEP=1 keeps one it started). Needs the single-node Keycloak too (use_keycloak) for
# the old token. Figures (sent, failed, recovery) are printed and written to $SUITE_NOTE.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"
build_once
(cd "$ROOT" && cargo build --quiet --example prod_load) || { echo "cargo build --example prod_load failed"; exit 1; }
"$ROOT/scripts/interop/install.sh" >/dev/null || { echo "interop tools could not be installed (scripts/interop/install.sh)"; exit 1; }
need_browser
command -v certutil >/dev/null || { echo "certutil is missing (apt-get install libnss3-tools): Chromium's trust of the demo CA needs it"; exit 1; }

PROD="$ROOT/.production"
CA="$PROD/ca/ca.crt"
MCP=https://localhost:9443
KC=https://localhost:8443
REALM_URL="$KC/realms/mcp-realm"
TOKEN_URL="$REALM_URL/protocol/openid-connect/token"
PRM_URL="$MCP/.well-known/oauth-protected-resource/mcp"
NODE22="$ROOT/scripts/interop/node_modules/.bin/node"
PY="$ROOT/scripts/interop/.venv/bin/python"
LOAD="$ROOT/target/debug/examples/prod_load"
FIGURES=()

if "$ROOT/scripts/production.sh" status >/dev/null 2>&1; then
  echo "the production setup already runs: using it (and leaving it running)"
else
  started=$SECONDS
  SKIP_BUILD=1 "$ROOT/scripts/production.sh" start || { echo "scripts/production.sh start failed"; exit 1; }
  FIGURES+=("setup started in $((SECONDS - started)) s")
  [ "${PRODUCTION_KEEP:-0}" = 1 ] || AT_EXIT+=("\"$ROOT/scripts/production.sh\" stop >/dev/null")
fi

# A home whose NSS database trusts the demo CA: Chromium on Linux reads $HOME/.pki/nssdb.
# Node and Python get the CA with NODE_EXTRA_CA_CERTS and SSL_CERT_FILE; step 10/11 (rustls with
# the platform verifier) with SSL_CERT_FILE. Nothing here turns certificate checks off.
BROWSER_HOME="$WORK/home"
mkdir -p "$BROWSER_HOME/.pki/nssdb"
certutil -d "sql:$BROWSER_HOME/.pki/nssdb" -N --empty-password
certutil -d "sql:$BROWSER_HOME/.pki/nssdb" -A -t "C,," -n "mcp-auth-steps demo CA" -i "$CA"
cat >"$WORK/browser.sh" <<EOF
#!/bin/sh
exec node "$ROOT/scripts/browser/login.mjs" "\$@" 2>>"\${LOGIN_LOG:-/dev/null}"
EOF
chmod +x "$WORK/browser.sh"
trusted() { env HOME="$BROWSER_HOME" SSL_CERT_FILE="$CA" NODE_EXTRA_CA_CERTS="$CA" "$@"; }

# https_request METHOD URL [CURL ARGS...]: lib.sh's request on a whole URL, the CA given to curl.
https_request() { local method="$1" url="$2"; shift 2; BASE="" request "$method" "$url" --cacert "$CA" "$@"; }
# grant USER PASSWORD CLIENT [EXTRA CURL ARGS...]: password grant through the proxy; the answer
# in $WORK/grant.json, the status in STATUS.
grant() {
  local user="$1" password="$2" client="$3"; shift 3
  STATUS="$(curl -sS --cacert "$CA" --max-time 15 -o "$WORK/grant.json" -w '%{http_code}' "$TOKEN_URL" \
    -d grant_type=password -d "client_id=$client" --data-urlencode "username=$user" \
    --data-urlencode "password=$password" "$@")" || STATUS="curl-error"
}
call_echo() { # call_echo TOKEN: a 2025-11-25 tools/call through the proxy (lib.sh's rpc)
  BASE="$MCP" rpc "$(body_for tools/call 1)" --cacert "$CA" -H "Authorization: Bearer $1" \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25'
}
claims() { # claims TOKEN: the JWT's payload (base64url, padded here for base64 -d)
  local p; p="$(cut -d. -f2 <<<"$1" | tr '_-' '/+')"
  while [ $((${#p} % 4)) != 0 ]; do p+="="; done
  base64 -d <<<"$p" 2>/dev/null
}
admin_token() {
  curl -sS --cacert "$CA" --max-time 15 "$KC/realms/master/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=admin-cli -d username=admin \
    --data-urlencode "password=$(cat "$PROD/secrets/admin-password")" | jq -r '.access_token // empty'
}
admin_get() { curl -sS --cacert "$CA" --max-time 20 -H "Authorization: Bearer $(admin_token)" "$KC/admin/realms/mcp-realm$1"; }

# ------------------------------------------------------------------------------------------------
section "1. public URLs: every URL named is https://localhost:9443 or https://localhost:8443"
https_request GET "$PRM_URL"
expect_status 200 "protected-resource metadata through the proxy over TLS"
expect_jq '.resource == "https://localhost:9443/mcp" and .authorization_servers == ["https://localhost:8443/realms/mcp-realm"]' \
  "PRM: resource https://localhost:9443/mcp, authorization_servers [https://localhost:8443/realms/mcp-realm]"
https_request GET "$PRM_URL" -H 'X-Forwarded-Proto: http' -H 'X-Forwarded-Host: evil.example' -H 'Forwarded: proto=http;host=evil.example'
expect_jq '.resource == "https://localhost:9443/mcp"' "PRM with a client's X-Forwarded-Proto/-Host and Forwarded headers: unchanged (the replicas read none)"
https_request POST "$MCP/mcp" -H 'Content-Type: application/json' --data-binary "$(body_for tools/list 1)"
expect_status 401 "no token: 401"
expect_eq "$(header_value WWW-Authenticate)" 'Bearer realm="mcp", resource_metadata="https://localhost:9443/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:tools mcp:prompts"' \
  "the 401 challenge names the https PRM URL exactly"
grant mcp-readonly readonly123 mcp-test-client -d 'scope=openid mcp:read'
READONLY="$(jq -r '.access_token // empty' "$WORK/grant.json")"
call_echo "$READONLY"
expect_status 403 "mcp-readonly calling tools/call: 403"
expect_eq "$(header_value WWW-Authenticate)" 'Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="https://localhost:9443/.well-known/oauth-protected-resource/mcp", error_description="tools/call requires mcp:tools"' \
  "the 403 challenge names the https PRM URL exactly"
for r in 1 2 3; do
  port=$((19000 + r))
  body="$(curl -sS --max-time 5 "http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp")"
  expect_eq "$(jq -c '[.resource, .authorization_servers[0]]' <<<"$body" 2>/dev/null)" '["https://localhost:9443/mcp","https://localhost:8443/realms/mcp-realm"]' \
    "replica $r on its bind address 127.0.0.1:$port names the public URL, not the address it was reached on"
done
https_request GET "$KC/.well-known/oauth-authorization-server/realms/mcp-realm" -H 'X-Forwarded-Host: evil.example' -H 'X-Forwarded-Proto: http'
expect_status 200 "Keycloak's authorization server metadata through the proxy"
expect_jq '.issuer == "https://localhost:8443/realms/mcp-realm" and ([to_entries[] | select(.key | test("(_endpoint|_uri)$")) | .value | select(type == "string") | startswith("https://localhost:8443/realms/mcp-realm/")] | all) and ([to_entries[] | select(.key | test("(_endpoint|_uri)$"))] | length >= 8)' \
  "AS metadata: issuer and every *_endpoint / *_uri under https://localhost:8443/realms/mcp-realm/, whatever X-Forwarded-* the client sent (nginx replaces them)"
body="$(curl -sS --max-time 5 "http://127.0.0.1:18081/realms/mcp-realm/.well-known/openid-configuration")"
expect_eq "$(jq -r .issuer <<<"$body" 2>/dev/null)" "https://localhost:8443/realms/mcp-realm" \
  "Keycloak node 2 reached on its own http://127.0.0.1:18081: the issuer is still the fixed hostname (--hostname)"
STATUS="$(curl -sS -o "$BODY" -w '%{http_code}' --max-time 5 http://localhost:9443/mcp)" || STATUS=curl-error
expect_status 400 "plain HTTP to the TLS port: nginx refuses it"
curl -sS --max-time 5 -o /dev/null https://localhost:9443/health 2>"$WORK/curl.err"; rc=$?
expect_eq "$rc" 60 "curl without the demo CA: exit 60 (certificate not trusted), nothing is sent"

# ------------------------------------------------------------------------------------------------
section "2. tokens for another audience: refused, with the exact error"
grant mcp-user user123 mcp-test-client -d 'scope=openid mcp:read mcp:tools'
expect_status 200 "password grant through the proxy (mcp-test-client, mcp-user)"
TOKEN="$(jq -r '.access_token // empty' "$WORK/grant.json")"
REFRESH="$(jq -r '.refresh_token // empty' "$WORK/grant.json")"
printf '%s\n' "$TOKEN" >"$WORK/token"
call_echo "$TOKEN"
expect_status 200 "a token with aud https://localhost:9443/mcp: tools/call answered"
grant mcp-user user123 http-era-client
HTTP_ERA="$(jq -r '.access_token // empty' "$WORK/grant.json")"
expect_eq "$(claims "$HTTP_ERA" | jq -c .aud)" '"http://localhost:9443/mcp"' \
  "http-era-client's token has aud http://localhost:9443/mcp (the old scheme)"
call_echo "$HTTP_ERA"
expect_status 401 "that token at the https server: 401"
expect_eq "$(header_value WWW-Authenticate)" 'Bearer realm="mcp", error="invalid_token", error_description="unexpected audience", resource_metadata="https://localhost:9443/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:tools mcp:prompts"' \
  "refused: error=\"invalid_token\", error_description=\"unexpected audience\""
grant mcp-user user123 mcp-test-client -d 'scope=openid mcp:read' -d resource=http://localhost:9443/mcp
expect_eq "$STATUS $(jq -r .error "$WORK/grant.json")" "400 invalid_target" \
  "Keycloak refuses resource=http://localhost:9443/mcp itself: 400 invalid_target (RFC 8707)"
use_keycloak >/dev/null
OLD="$(kc_token mcp-user user123 'openid mcp:read mcp:tools')"
expect_eq "$(claims "$OLD" | jq -c '[.iss, (.aud | sort)]')" '["http://localhost:8080/realms/mcp-realm",["echo-mcp-server","http://localhost:9000/mcp"]]' \
  "a token of the single-node setup (Keycloak dev mode on :8080): iss http://localhost:8080/…, aud http://localhost:9000/mcp"
call_echo "$OLD"
expect_status 401 "that token at the production server: 401"
expect_eq "$(header_value WWW-Authenticate)" 'Bearer realm="mcp", error="invalid_token", error_description="unknown signing key (kid)", resource_metadata="https://localhost:9443/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:tools mcp:prompts"' \
  "refused before its audience is read: another Keycloak signed it (error_description=\"unknown signing key (kid)\")"

# ------------------------------------------------------------------------------------------------
section "3. real clients through the proxy over TLS, trusting the demo CA"
S11="$WORK/step11-state"
: >"$WORK/browser-step11.log"
trusted BROWSER="$WORK/browser.sh" LOGIN_LOG="$WORK/browser-step11.log" LOGIN_USER=mcp-admin LOGIN_PASSWORD=admin123 \
  timeout 90 "$BIN/step11" --state-dir "$S11" --callback-timeout 30 "$MCP/mcp" >"$WORK/step11.out" 2>"$WORK/step11.err"
expect_eq "$?" 0 "step11: discovery, registration, browser login as mcp-admin, token, MCP calls (exit 0)"
if grep -q '^\[10\] POST /mcp tools/call (Bearer eyJhbG…) echo {"message":"hello from step11"} → 200: "hello from step11"$' "$WORK/step11.out"; then
  pass "step11: tools/call echo answered through the proxy"
else fail "step11: no tools/call echo line"; sed 's/^/     | /' "$WORK/step11.out" "$WORK/step11.err" | head -40; fi
grep -q '^\[4\] POST https://localhost:8443/realms/mcp-realm/clients-registrations/openid-connect ' "$WORK/step11.out" \
  && pass "step11 registered at https://localhost:8443 (RFC 7591)" || fail "step11: no registration line"
REGISTERED="$(sed -n 's/^\[4\] .* → client_id \([0-9a-f-]*\), .*/\1/p' "$WORK/step11.out")"
rm -rf "$WORK/step11-untrusted"
env HOME="$BROWSER_HOME" timeout 30 "$BIN/step11" --headless --state-dir "$WORK/step11-untrusted" "$MCP/mcp" >"$WORK/untrusted.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'invalid peer certificate: UnknownIssuer' "$WORK/untrusted.out"; then
  pass "step11 without SSL_CERT_FILE: refuses the certificate (exit $rc, invalid peer certificate: UnknownIssuer)"
else fail "step11 without the CA: exit $rc, $(head -c 300 "$WORK/untrusted.out")"; fi

# The same clients without the CA: each refuses the certificate, none is told to ignore it.
env HOME="$BROWSER_HOME" LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 timeout 60 "$NODE22" \
  "$ROOT/scripts/interop/sdk_oauth_client.mjs" --url "$MCP/mcp" --login "$ROOT/scripts/browser/login.mjs" >"$WORK/untrusted.out" 2>&1
rc=$?
"$NODE22" -e 'fetch(process.argv[1]).then(() => console.log("answered")).catch((e) => console.log(e.cause && e.cause.code))' "$MCP/health" >"$WORK/node-fetch.out" 2>&1
if [ "$rc" != 0 ] && grep -q 'fetch failed' "$WORK/untrusted.out" && [ "$(cat "$WORK/node-fetch.out")" = UNABLE_TO_VERIFY_LEAF_SIGNATURE ]; then
  pass "TypeScript SDK without NODE_EXTRA_CA_CERTS: stops (exit $rc, fetch failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE)"
else fail "TypeScript SDK without the CA: exit $rc, node fetch: $(cat "$WORK/node-fetch.out")"; fi
env HOME="$BROWSER_HOME" LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 timeout 60 "$PY" \
  "$ROOT/scripts/interop/py_oauth_client.py" --url "$MCP/mcp" >"$WORK/untrusted.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'CERTIFICATE_VERIFY_FAILED' "$WORK/untrusted.out"; then
  pass "Python SDK without SSL_CERT_FILE: stops (exit $rc, CERTIFICATE_VERIFY_FAILED)"
else fail "Python SDK without the CA: exit $rc, $(tail -c 300 "$WORK/untrusted.out")"; fi
mkdir -p "$WORK/empty-home"
env HOME="$WORK/empty-home" LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 LOGIN_TIMEOUT_MS=15000 timeout 60 node "$ROOT/scripts/browser/login.mjs" \
  "$REALM_URL/protocol/openid-connect/auth?client_id=mcp-test-client&response_type=code&redirect_uri=http://127.0.0.1:1/cb" >"$WORK/untrusted.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'net::ERR_CERT_AUTHORITY_INVALID' "$WORK/untrusted.out"; then
  pass "Chromium without the CA in its NSS database: the login page does not open (net::ERR_CERT_AUTHORITY_INVALID)"
else fail "Chromium without the CA: exit $rc, $(head -c 300 "$WORK/untrusted.out")"; fi

for sdk in "TypeScript SDK v2|$NODE22|$ROOT/scripts/interop/sdk_oauth_client.mjs|--login|$ROOT/scripts/browser/login.mjs" \
           "Python SDK|$PY|$ROOT/scripts/interop/py_oauth_client.py||"; do
  IFS='|' read -r name runtime script opt val <<<"$sdk"
  args=(--url "$MCP/mcp"); [ -n "$opt" ] && args+=("$opt" "$val")
  trusted LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 timeout 180 "$runtime" "$script" "${args[@]}" >"$WORK/sdk.out" 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then pass "$name client with its OAuth provider: discovery, registration, browser login, tools/call, step-up refused ($(tail -n 1 "$WORK/sdk.out"))"
  else fail "$name client: exit $rc"; sed 's/^/     | /' "$WORK/sdk.out" | tail -n 20; fi
  grep -Eq '^ok - tools/call echo \{"message": ?"hello from the (TypeScript|Python) SDK"\} → "hello from the (TypeScript|Python) SDK"$' "$WORK/sdk.out" \
    && pass "$name: tools/call echo answered through the proxy" || fail "$name: no tools/call echo line"
  grep -q 'https://localhost:8443/realms/mcp-realm/protocol/openid-connect/token → 200' "$WORK/sdk.out" \
    && pass "$name: token from https://localhost:8443" || fail "$name: no token line naming https://localhost:8443"
done
no_secret "no client output shows a whole token" 'eyJ[A-Za-z0-9_-]{40,}' "$WORK/step11.out" "$WORK/step11.err" "$WORK/sdk.out"

# ------------------------------------------------------------------------------------------------
# load_start NAME: prod_load in the background (8 workers); load_stop: waits for its JSON.
load_start() {
  LOAD_OUT="$WORK/load-$1.json"; rm -f "$WORK/stop-load"
  SSL_CERT_FILE="$CA" "$LOAD" --url "$MCP/mcp" --token-file "$WORK/token" --workers 8 \
    --stop-file "$WORK/stop-load" --max-seconds 150 >"$LOAD_OUT" 2>"$WORK/load-$1.err" &
  LOAD_PID=$!; LOAD_T0=$(date +%s%3N); PIDS+=("$LOAD_PID")
  sleep 2
}
load_stop() {
  sleep 2; touch "$WORK/stop-load"; wait "$LOAD_PID"
  LOAD_RESULT="$(cat "$LOAD_OUT")"
  echo "     load: $LOAD_RESULT"
}
lj() { jq -r "$1" <<<"$LOAD_RESULT"; }

section "4. rolling restart of the three replicas under load"
mark="$(wc -l <"$PROD/nginx/mcp/logs/access.log")"
load_start rolling
t0=$SECONDS
"$ROOT/scripts/production.sh" rolling-restart | sed 's/^/     /'
rolling_s=$((SECONDS - t0))
load_stop
expect_eq "$(lj .failed)" 0 "rolling restart ($rolling_s s): $(lj .sent) requests sent, $(lj .failed) failed"
FIGURES+=("rolling restart: $(lj .sent) sent, $(lj .failed) failed, $rolling_s s")
sleep 1.5  # nginx's access log is flushed every second
upstreams="$(tail -n +"$((mark + 1))" "$PROD/nginx/mcp/logs/access.log" | grep -o 'upstream=127.0.0.1:1900[1-3] ' | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')"
count="$(tail -n +"$((mark + 1))" "$PROD/nginx/mcp/logs/access.log" | grep -o 'upstream=127.0.0.1:1900[1-3] ' | sort -u | wc -l)"
expect_eq "$count" 3 "one token, no session: every replica answered ($upstreams)"

section "5. one replica killed with SIGKILL under load"
load_start kill
kill_at=$(($(date +%s%3N) - LOAD_T0))
"$ROOT/scripts/production.sh" replica kill 2 | sed 's/^/     /'
sleep 3
"$ROOT/scripts/production.sh" replica start 2
load_stop
failed="$(lj .failed)"
if [ "$(lj '.failures | keys | map(select(. != "HTTP 502")) | length')" = 0 ] && [ "$failed" -le 8 ]; then
  pass "SIGKILL: $(lj .sent) sent, $failed failed (HTTP 502: requests the replica held when it died, at most one per worker; nginx does not resend a POST)"
else fail "SIGKILL: unexpected failures $(lj -c .failures)"; fi
if [ "$failed" -gt 0 ]; then
  window=$(( $(lj .last_failure_ms) - kill_at ))
  FIGURES+=("SIGKILL: $(lj .sent) sent, $failed failed, the last $window ms after the kill")
else
  FIGURES+=("SIGKILL: $(lj .sent) sent, 0 failed")
fi

section "6. one Keycloak node stopped: grants and logins continue on the other"
grant_loop() { # grant_loop NAME: a password grant every 50 ms or so until $WORK/stop-grants
  rm -f "$WORK/stop-grants"
  ( n=0; f=0; first=""; last=""
    while [ ! -f "$WORK/stop-grants" ]; do
      c="$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" --max-time 10 "$TOKEN_URL" -d grant_type=password \
        -d client_id=mcp-test-client -d username=mcp-user -d password=user123 -d scope=openid)" || c=curl-error
      n=$((n + 1)); now=$(date +%s%3N)
      if [ "$c" != 200 ]; then f=$((f + 1)); [ -n "$first" ] || first=$now; last=$now; echo "$c" >>"$WORK/grants-$1.codes"; fi
      sleep 0.05
    done
    echo "$n $f ${first:-0} ${last:-0}" >"$WORK/grants-$1" ) &
  GRANT_PID=$!; PIDS+=("$GRANT_PID")
  sleep 1
}
grant_stop() { touch "$WORK/stop-grants"; wait "$GRANT_PID"; read -r G_N G_F G_FIRST G_LAST <"$WORK/grants-$1"; }
load_start kcstop
grant_loop kcstop
"$ROOT/scripts/production.sh" keycloak stop 1 >"$WORK/kcstop.out" 2>&1 &
stop_pid=$!
# In its 6 s shutdown delay (out of nginx by then), node 1 still answers, with Connection: close.
deadline=$((SECONDS + 20)); code=""
while [ $SECONDS -lt $deadline ]; do
  if ! curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:18980/health/ready 2>/dev/null; then
    code="$(curl -sS -D "$WORK/kc1-headers" -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:18080/realms/mcp-realm/.well-known/openid-configuration 2>/dev/null)" || code=""
    break
  fi
  sleep 0.2
done
if [ "$code" = 200 ] && grep -qi '^connection: close' "$WORK/kc1-headers"; then
  pass "node 1 in its shutdown delay: readiness down, still answers (HTTP 200) with Connection: close"
else fail "node 1 in its shutdown delay: HTTP '${code}', headers: $(tr -d '\r' <"$WORK/kc1-headers" 2>/dev/null | grep -i '^connection' || echo none)"; fi
wait "$stop_pid"
sed 's/^/     /' "$WORK/kcstop.out"
curl -sS --cacert "$CA" --max-time 15 -o "$WORK/refresh.json" -w '%{http_code}' "$TOKEN_URL" -d grant_type=refresh_token \
  -d client_id=mcp-test-client --data-urlencode "refresh_token=$REFRESH" >"$WORK/refresh.code" || true
expect_eq "$(cat "$WORK/refresh.code") $(jq -r '.access_token | type' "$WORK/refresh.json")" "200 string" \
  "a refresh token issued before the stop: refresh-token grant answered by node 2"
call_echo "$(jq -r .access_token "$WORK/refresh.json")"
expect_status 200 "the refreshed access token works at the MCP server"
: >"$WORK/browser-step11-kc2.log"
trusted BROWSER="$WORK/browser.sh" LOGIN_LOG="$WORK/browser-step11-kc2.log" LOGIN_DEBUG=1 LOGIN_USER=mcp-admin LOGIN_PASSWORD=admin123 \
  timeout 120 "$BIN/step11" --state-dir "$WORK/step11-kc2" --callback-timeout 60 "$MCP/mcp" >"$WORK/step11-kc2.out" 2>"$WORK/step11-kc2.err"
rc=$?
if [ "$rc" = 0 ] && grep -q 'tools/call (Bearer eyJhbG…) echo .* → 200' "$WORK/step11-kc2.out"; then
  pass "with node 1 stopped: step11's registration, browser login as mcp-admin and tools/call (exit 0)"
else
  fail "step11 with node 1 stopped: exit $rc"
  sed 's/^/     | /' "$WORK/step11-kc2.out" "$WORK/step11-kc2.err" | tail -n 15
  sed 's/^/     browser| /' "$WORK/browser-step11-kc2.log" | tail -n 10
fi
grant_stop kcstop
load_stop
expect_eq "$G_F" 0 "password grants while node 1 was taken out of nginx, stopped and gone: $G_N sent, $G_F failed"
expect_eq "$(lj .failed)" 0 "MCP tools/call meanwhile (the other nginx, untouched by the reload): $(lj .sent) sent, $(lj .failed) failed"
FIGURES+=("Keycloak node stopped: $G_N grants, $G_F failed, and $(lj .sent) MCP requests meanwhile, $(lj .failed) failed")
t0=$SECONDS
"$ROOT/scripts/production.sh" keycloak start 1 | sed 's/^/     /'
FIGURES+=("node 1 rejoined in $((SECONDS - t0)) s")

section "7. PostgreSQL restarted: Keycloak recovers, nothing lost"
admin_get "/clients?first=0&max=1000" | jq -r '.[].clientId' | sort >"$WORK/clients-before"
admin_get "/users?first=0&max=1000" | jq -r '.[].username' | sort >"$WORK/users-before"
if [ -n "$REGISTERED" ] && grep -qx "$REGISTERED" "$WORK/clients-before"; then
  pass "the client step11 registered in section 3 ($REGISTERED) is in the realm"
else fail "step11's registered client '${REGISTERED:-none}' is not in the realm"; fi
grant_loop pg
restart_at=$(date +%s%3N)
"$ROOT/scripts/production.sh" postgres restart | sed 's/^/     /'
sleep 6
grant_stop pg
if [ "$G_F" -gt 0 ]; then
  codes="$(sort "$WORK/grants-pg.codes" | uniq -c | awk '{printf "%s%s×HTTP %s", sep, $1, $2; sep=", "}')"
  recovered="$((G_LAST - restart_at)) ms"
else codes="none"; recovered="at once"; fi
if [ "$G_F" -le 20 ]; then
  pass "grants across the PostgreSQL restart: $G_N sent, $G_F failed ($codes), the last failure $recovered after the restart began"
else fail "grants across the PostgreSQL restart: $G_F of $G_N failed ($codes)"; fi
FIGURES+=("PostgreSQL restart: $G_N grants, $G_F failed ($codes), recovered $recovered after")
grant mcp-user user123 mcp-test-client -d scope=openid
expect_status 200 "after the restart: a password grant answers"
admin_get "/clients?first=0&max=1000" | jq -r '.[].clientId' | sort >"$WORK/clients-after"
admin_get "/users?first=0&max=1000" | jq -r '.[].username' | sort >"$WORK/users-after"
expect_eq "$(diff "$WORK/clients-before" "$WORK/clients-after" && wc -l <"$WORK/clients-after")" "$(wc -l <"$WORK/clients-before")" \
  "every client is still there ($(wc -l <"$WORK/clients-after") clients, the registered ones included)"
expect_eq "$(diff "$WORK/users-before" "$WORK/users-after" && wc -l <"$WORK/users-after")" "$(wc -l <"$WORK/users-before")" \
  "every user is still there ($(wc -l <"$WORK/users-after") users)"

echo
printf '  figure: %s\n' "${FIGURES[@]}"
[ -n "${SUITE_NOTE:-}" ] && { IFS=';'; echo "${FIGURES[*]}" | sed 's/;/; /g' >"$SUITE_NOTE"; unset IFS; }
finish
