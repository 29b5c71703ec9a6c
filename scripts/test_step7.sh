#!/usr/bin/env bash
# Step 7: OAuth discovery. Protected Resource Metadata (RFC 9728) at both well-known paths,
# Authorization Server Metadata (RFC 8414) for the local issuer, resource_metadata + scope in every
# 401 challenge (MCP 2025-11-25), CORS for browser clients, and a full discovery walk against a
# server whose MCP_SERVER_URL is its real address.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/token_corpus.sh
source "$(dirname "$0")/token_corpus.sh"
build_once

# RFC 9728 §2 and RFC 8414 §2 registered metadata names (IANA registries as of 2025).
PRM_FIELDS='["resource","authorization_servers","jwks_uri","scopes_supported","bearer_methods_supported",
  "resource_signing_alg_values_supported","resource_name","resource_documentation","resource_policy_uri",
  "resource_tos_uri","tls_client_certificate_bound_access_tokens","authorization_details_types_supported",
  "dpop_signing_alg_values_supported","dpop_bound_access_tokens_required","signed_metadata"]'
AS_FIELDS='["issuer","authorization_endpoint","token_endpoint","jwks_uri","registration_endpoint",
  "scopes_supported","response_types_supported","response_modes_supported","grant_types_supported",
  "token_endpoint_auth_methods_supported","token_endpoint_auth_signing_alg_values_supported",
  "service_documentation","ui_locales_supported","op_policy_uri","op_tos_uri","revocation_endpoint",
  "revocation_endpoint_auth_methods_supported","revocation_endpoint_auth_signing_alg_values_supported",
  "introspection_endpoint","introspection_endpoint_auth_methods_supported",
  "introspection_endpoint_auth_signing_alg_values_supported","code_challenge_methods_supported",
  "signed_metadata"]'
PRM_PATH=/.well-known/oauth-protected-resource/mcp
AS_PATH=/.well-known/oauth-authorization-server
PREFLIGHT=(-H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization,content-type,mcp-protocol-version')

# free_port: a port that was free a moment ago on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# start_on_port NAME PORT [ARGS...]: like lib.sh's start_server, but on a port chosen beforehand,
# so that MCP_SERVER_URL can be the server's real address.
start_on_port() {
  local name="$1" port="$2"; shift 2
  local out="$WORK/$name.$RANDOM.out"
  SERVER_LOG="$WORK/$name.$RANDOM.log"
  (cd "$ROOT" && exec "$BIN/$name" --port "$port" "$@" >"$out" 2>"$SERVER_LOG") &
  local pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + 20))
  BASE=""
  while [ $SECONDS -lt $deadline ]; do
    BASE="$(sed -n 's/^listening on //p' "$out" 2>/dev/null | head -n 1)"
    [ -n "$BASE" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "$name exited before listening:"; cat "$SERVER_LOG"; exit 1; }
    sleep 0.1
  done
  [ -n "$BASE" ] || { echo "$name did not print its address within 20 s"; exit 1; }
  while [ $SECONDS -lt $deadline ]; do
    curl -fsS -o /dev/null "$BASE/health" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$name did not answer /health within 20 s"; exit 1
}

# fetch URL [CURL ARGS...]: GET an absolute URL into $BODY / $HEADERS / $STATUS.
fetch() {
  local url="$1"; shift
  : >"$HEADERS"; : >"$BODY"
  STATUS="$(curl -sS -o "$BODY" -D "$HEADERS" -w '%{http_code}' --max-time 20 "$@" "$url")" || STATUS="curl-error"
}

check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }

# prm_checks PUBLIC_BASE ISSUER LABEL: the PRM document in $BODY.
prm_checks() {
  expect_header content-type '^application/json' "$3: application/json"
  expect_jq ".resource == \"$1/mcp\"" "$3: resource == $1/mcp"
  expect_jq ".authorization_servers == [\"$2\"]" "$3: authorization_servers == [\"$2\"]"
  expect_jq '.scopes_supported == ["mcp:read","mcp:tools","mcp:prompts"]' "$3: scopes_supported are the three MCP scopes"
  expect_jq '.bearer_methods_supported == ["header"]' "$3: bearer_methods_supported == [\"header\"] (no query, no body)"
  expect_jq '.resource_name | type == "string" and length > 0' "$3: resource_name is a string"
  expect_jq "(keys - $PRM_FIELDS) == []" "$3: only registered RFC 9728 fields"
  expect_jq '[.. | select(. == null)] | length == 0' "$3: no null values"
}

section "A. default MCP_SERVER_URL (http://localhost:9000)"
start_server step7
DEFAULT_PRM="http://localhost:9000$PRM_PATH"
request GET /health
expect_status 200 "/health"
expect_jq '.status == "healthy" and .step == 7 and .auth_required == true' "/health says auth_required: true"

request GET "$PRM_PATH"
expect_status 200 "PRM at $PRM_PATH (path-inserted, RFC 9728 §3.1) without a token"
prm_checks http://localhost:9000 http://localhost:9000 "PRM (path-inserted)"
cp "$BODY" "$WORK/prm1.json"
request GET /.well-known/oauth-protected-resource
expect_status 200 "PRM at /.well-known/oauth-protected-resource"
prm_checks http://localhost:9000 http://localhost:9000 "PRM (root)"
check "both PRM documents are identical" test "$(jq -cS . "$WORK/prm1.json")" = "$(jq -cS . "$BODY")"
request GET "$PRM_PATH" -H 'Authorization: Bearer not-a-token'
expect_status 200 "PRM ignores a bad token (metadata is public)"

request GET "$AS_PATH"
expect_status 200 "AS metadata at $AS_PATH"
expect_header content-type '^application/json' "AS metadata is application/json"
TOKEN="$(gen --username alice)"; remember alice "$TOKEN"
TOKEN_ISS="$(jwt_part "$TOKEN" 1 | jq -r .iss)"
expect_jq ".issuer == \"$TOKEN_ISS\"" "AS issuer equals the iss in generate-token's tokens ($TOKEN_ISS)"
expect_jq '.issuer == "http://localhost:9000"' "AS issuer is MCP_SERVER_URL"
expect_jq '.jwks_uri == "http://localhost:9000/.well-known/jwks.json"' "jwks_uri"
expect_jq '.scopes_supported == ["mcp:read","mcp:tools","mcp:prompts"]' "AS scopes_supported"
expect_jq '(.response_types_supported | type) == "array"' "response_types_supported present (REQUIRED by RFC 8414 §2)"
expect_jq '[keys[] | select(endswith("_endpoint"))] == []' \
  "no authorization/token/registration/introspection/revocation endpoint is advertised (none exists)"
expect_jq "(keys - $AS_FIELDS) == []" "only registered RFC 8414 fields"
expect_jq '(.code_challenge_methods_supported // null) == null' "no PKCE methods claimed without an authorization endpoint"
request GET /.well-known/openid-configuration
expect_status 404 "no OpenID configuration (this is not an OpenID provider)"

section "A. 401 challenges point at the metadata"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
expect_status 401 "initialize without a token"
expect_challenge ".scheme == \"Bearer\" and .params.realm == \"mcp\" and .params.resource_metadata == \"$DEFAULT_PRM\"" \
  "challenge: resource_metadata=\"$DEFAULT_PRM\""
expect_challenge ".params.scope == \"$ALL_SCOPES\"" "challenge: scope=\"$ALL_SCOPES\""
expect_challenge '.params | has("error") | not' "challenge: no error= without credentials (RFC 6750 §3.1)"

CORPUS_STEP=7 CORPUS_PRM="$DEFAULT_PRM" run_token_corpus

section "A. CORS for browser clients (Origin http://localhost:6274)"
WEB=http://localhost:6274
request OPTIONS /mcp -H "Origin: $WEB" "${PREFLIGHT[@]}"
case "$STATUS" in 2??) pass "preflight OPTIONS /mcp without a token: 2xx (HTTP $STATUS)" ;; *) fail "preflight OPTIONS /mcp: expected 2xx, got $STATUS" ;; esac
expect_header access-control-allow-origin "^$WEB\$" "preflight: Access-Control-Allow-Origin echoes $WEB"
expect_header access-control-allow-methods '(^|[ ,])POST([ ,]|$)' "preflight: allow-methods include POST"
expect_header access-control-allow-headers '(^|[ ,])authorization([ ,]|$)' "preflight: allow-headers include authorization"
expect_header access-control-allow-headers '(^|[ ,])content-type([ ,]|$)' "preflight: allow-headers include content-type"
expect_header access-control-allow-headers '(^|[ ,])mcp-protocol-version([ ,]|$)' "preflight: allow-headers include mcp-protocol-version"
expect_header access-control-max-age '^[0-9]+$' "preflight: Access-Control-Max-Age"
request OPTIONS /mcp -H "Origin: $WEB" -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: content-type,mcp-protocol-version,mcp-method,mcp-name,mcp-param-region,x-not-mcp'
expect_header access-control-allow-headers '(^|[ ,])mcp-method([ ,]|$)' "modern preflight: allow-headers include mcp-method"
expect_header access-control-allow-headers '(^|[ ,])mcp-name([ ,]|$)' "modern preflight: allow-headers include mcp-name"
expect_header access-control-allow-headers '(^|[ ,])mcp-param-region([ ,]|$)' "modern preflight: the requested mcp-param-region is allowed"
if header_value access-control-allow-headers | grep -q 'x-not-mcp'; then fail "modern preflight: x-not-mcp must not be allowed"; else pass "modern preflight: x-not-mcp is not allowed"; fi
expect_no_header www-authenticate "preflight is not challenged"
expect_no_header access-control-allow-credentials "no Access-Control-Allow-Credentials (tokens travel in a header, not cookies)"
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Origin: $WEB"
expect_status 401 "POST /mcp from the browser origin without a token"
expect_header access-control-allow-origin "^$WEB\$" "the 401 carries Access-Control-Allow-Origin"
expect_header access-control-expose-headers '(^|[ ,])www-authenticate([ ,]|$)' "the 401 exposes www-authenticate to the page"
expect_challenge ".params.resource_metadata == \"$DEFAULT_PRM\"" "the browser can read resource_metadata"
rpc '{"jsonrpc":"2.0","id":3,"method":"ping"}' -H "Origin: $WEB" -H "Authorization: Bearer $TOKEN"
expect_status 200 "POST /mcp from the browser origin with a token"
expect_header access-control-allow-origin "^$WEB\$" "the 200 carries Access-Control-Allow-Origin"
request GET "$PRM_PATH" -H "Origin: $WEB"
expect_status 200 "PRM fetched from the browser origin"
expect_header access-control-allow-origin "^$WEB\$" "PRM readable cross-origin"
request GET "$AS_PATH" -H "Origin: $WEB"
expect_header access-control-allow-origin "^$WEB\$" "AS metadata readable cross-origin"
request OPTIONS /mcp -H 'Origin: http://127.0.0.1:6274' "${PREFLIGHT[@]}"
case "$STATUS" in 2??) pass "preflight from http://127.0.0.1:6274: 2xx" ;; *) fail "preflight from http://127.0.0.1:6274: got $STATUS" ;; esac
for evil in http://evil.example http://localhost.evil.com null; do
  request OPTIONS /mcp -H "Origin: $evil" "${PREFLIGHT[@]}"
  expect_status 403 "preflight from Origin $evil is refused by the Origin guard"
  expect_no_header access-control-allow-origin "no Access-Control-Allow-Origin for $evil"
done
rpc '{"jsonrpc":"2.0","id":4,"method":"ping"}' -H 'Origin: http://evil.example' -H "Authorization: Bearer $TOKEN"
expect_status 403 "POST from http://evil.example with a valid token: 403"

section "B. MCP_SERVER_URL=http://localhost:9999/ (every advertised URL follows it)"
MCP_SERVER_URL=http://localhost:9999/ start_server step7 --allow-origin https://app.example.com
OTHER_PRM="http://localhost:9999$PRM_PATH"
request GET "$PRM_PATH"
expect_status 200 "PRM"
prm_checks http://localhost:9999 http://localhost:9999 "PRM (MCP_SERVER_URL=http://localhost:9999/)"
cp "$BODY" "$WORK/prm-b.json"
request GET "$AS_PATH"
expect_status 200 "AS metadata"
expect_jq '.issuer == "http://localhost:9999" and .jwks_uri == "http://localhost:9999/.well-known/jwks.json"' "AS issuer and jwks_uri follow MCP_SERVER_URL"
cp "$BODY" "$WORK/as-b.json"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 401 "401 without a token"
expect_challenge ".params.resource_metadata == \"$OTHER_PRM\"" "challenge resource_metadata follows MCP_SERVER_URL"
header_value www-authenticate | grep -Eo 'https?://[^"]*' >"$WORK/urls-b"
jq -r '.. | strings | select(test("^https?://"))' "$WORK/prm-b.json" "$WORK/as-b.json" >>"$WORK/urls-b"
check "found the advertised URLs ($(wc -l <"$WORK/urls-b"))" test "$(wc -l <"$WORK/urls-b")" -ge 5
check "every advertised URL starts with http://localhost:9999/ or is http://localhost:9999" \
  test -z "$(grep -Ev '^http://localhost:9999(/|$)' "$WORK/urls-b")"
check "no advertised URL uses the bind address" test -z "$(grep -F "${BASE#http://}" "$WORK/urls-b")"
T="$(gen --username alice --issuer http://localhost:9999)"; remember "default aud" "$T"
auth_ping "$T"
expect_status 401 "a token for http://localhost:9000/mcp is refused (the audience follows MCP_SERVER_URL)"
expect_challenge '.params.error_description == "unexpected audience"' "… with unexpected audience"
T="$(gen --username alice --issuer http://localhost:9999 --audience http://localhost:9999/mcp)"; remember "9999" "$T"
auth_ping "$T"
expect_status 200 "a token for http://localhost:9999/mcp from issuer http://localhost:9999 is accepted"
request OPTIONS /mcp -H 'Origin: https://app.example.com' "${PREFLIGHT[@]}"
case "$STATUS" in 2??) pass "preflight from an --allow-origin origin: 2xx" ;; *) fail "preflight from an --allow-origin origin: got $STATUS" ;; esac
expect_header access-control-allow-origin '^https://app\.example\.com$' "CORS follows the Origin guard's allow-list"

section "C. discovery walk against a server whose MCP_SERVER_URL is its real address"
P="$(free_port)"
start_on_port step7 "$P" --mcp-server-url "http://127.0.0.1:$P"
check "bound where we asked ($BASE)" test "$BASE" = "http://127.0.0.1:$P"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
expect_status 401 "1. initialize without a token: 401"
RM="$(www_auth_json | jq -r '.params.resource_metadata // empty')"
SCOPE="$(www_auth_json | jq -r '.params.scope // empty')"
check "1. the challenge names resource_metadata $RM" test "$RM" = "$BASE$PRM_PATH"
check "1. the challenge names scope \"$SCOPE\"" test "$SCOPE" = "$ALL_SCOPES"
fetch "$RM"
expect_status 200 "2. GET resource_metadata"
prm_checks "$BASE" "$BASE" "2. PRM"
expect_jq ".resource == \"$BASE/mcp\"" "2. resource is the URL we called"
cp "$BODY" "$WORK/prm-c.json"
AS="$(jq -r '.authorization_servers[0]' "$WORK/prm-c.json")"
fetch "$AS$AS_PATH"
expect_status 200 "3. GET <authorization server>$AS_PATH"
expect_jq ".issuer == \"$AS\"" "3. issuer equals the authorization server named in the PRM (RFC 8414 §3.3)"
expect_jq ".issuer == \"$BASE\"" "3. issuer equals the URL the document is served from"
cp "$BODY" "$WORK/as-c.json"
JWKS_URI="$(jq -r .jwks_uri "$WORK/as-c.json")"
fetch "$JWKS_URI"
expect_status 200 "4. GET jwks_uri"
KID="$(jq -r '.keys[0].kid' "$BODY")"
T="$(gen --username alice --issuer "$AS" --audience "$BASE/mcp" --scopes "${SCOPE// /,}")"; remember walk "$T"
check "4. the token's kid is in the JWKS" test "$(jwt_part "$T" 0 | jq -r .kid)" = "$KID"
rpc '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  -H "Authorization: Bearer $T"
expect_status 200 "5. initialize with a token for the discovered issuer and resource"
{ jq -r '.. | strings | select(test("^https?://"))' "$WORK/prm-c.json" "$WORK/as-c.json"; echo "$RM"; } | sort -u >"$WORK/urls-c"
check "found the advertised URLs" test "$(wc -l <"$WORK/urls-c")" -ge 4
while read -r url; do
  if [ "$url" = "$BASE/mcp" ]; then
    : >"$HEADERS"; : >"$BODY"
    STATUS="$(curl -sS -o "$BODY" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $T" \
      --data-binary '{"jsonrpc":"2.0","id":3,"method":"ping"}' "$url")"
    expect_status 200 "advertised $url answers (POST with a token)"
  elif [ "$url" = "$AS" ]; then
    fetch "$url$AS_PATH"
    expect_status 200 "advertised issuer $url has its metadata at $AS_PATH"
  else
    fetch "$url"
    expect_status 200 "advertised $url answers"
  fi
done <"$WORK/urls-c"

section "D. tokens from another issuer (--jwt-issuer http://other.example)"
start_server step7 --jwt-issuer http://other.example
request GET "$AS_PATH"
expect_status 404 "no local AS metadata when the issuer is someone else"
request GET "$PRM_PATH"
expect_status 200 "PRM still served"
expect_jq '.authorization_servers == ["http://other.example"]' "PRM names the other issuer"
expect_jq '.resource == "http://localhost:9000/mcp"' "PRM resource unchanged"
T="$(gen --username alice)"; remember "local iss" "$T"
auth_ping "$T"
expect_status 401 "a token from the local issuer is refused"
expect_challenge '.params.error_description == "unexpected issuer"' "… unexpected issuer"
T="$(gen --username alice --issuer http://other.example)"; remember "other iss" "$T"
auth_ping "$T"
expect_status 200 "a token with iss http://other.example is accepted"

section "E. bad configuration stops the server"
expect_exit 1 "--jwt-issuer mcp-server (not a URL) exits 1" timeout 10 "$BIN/step7" --port 0 --jwt-issuer mcp-server
expect_output 'JWT_ISSUER' "the message names JWT_ISSUER"
expect_exit 1 "--mcp-server-url localhost:9000 (no scheme) exits 1" timeout 10 "$BIN/step7" --port 0 --mcp-server-url localhost:9000
expect_output 'MCP_SERVER_URL' "the message names MCP_SERVER_URL"

expect_tokens_not_leaked
finish
