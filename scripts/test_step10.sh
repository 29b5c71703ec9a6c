#!/usr/bin/env bash
# Step 10: the MCP server trusts Keycloak. Configuration precedence (flag > environment > env file >
# default) read from the printout and seen in behaviour; /health and the JWKS cache; the policy
# matrix with real Keycloak tokens; RFC 9728 metadata naming Keycloak; a dynamically registered
# client's authorization-code + PKCE token (Keycloak's own login and consent pages, filled in by
# headless Chromium: scripts/browser/login.mjs); Keycloak stopped (last good keys kept, an unknown
# kid is 503 + Retry-After, a server started meanwhile answers 503) and started again (recovery
# without a restart); a key rotated through the Admin REST API (one refetch, the removed key's
# tokens refused, no refetch in steady state); CORS; no token in any log. Runs against real
# Keycloak only (keycloak_lib.sh); the outage needs the Keycloak that scripts/keycloak.sh runs.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"

build_once
use_keycloak
need_browser
ISS="$KC_ISSUER"
PUBLIC=http://localhost:9000
PRM_URL="$PUBLIC/.well-known/oauth-protected-resource/mcp"
REALM_FILE="$ROOT/env/keycloak/mcp-realm.json"

# re TEXT: TEXT as an extended regular expression that matches it literally.
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[][\.*^$()+?{}|/]/\\&/g'; }
# auth_rpc TOKEN JSON: POST /mcp with a bearer token.
auth_rpc() { rpc "$2" -H "Authorization: Bearer $1" -H 'MCP-Protocol-Version: 2025-11-25'; }
health() { request GET /health; }
# jwt_edit TOKEN HEADER_PATCH PAYLOAD_PATCH: the token with JSON members replaced (signature kept).
jwt_edit() {
  python3 - "$1" "$2" "$3" <<'PY'
import base64, json, sys
token, header_patch, payload_patch = sys.argv[1:4]
h, p, s = token.split('.')
dec = lambda x: json.loads(base64.urlsafe_b64decode(x + '=' * (-len(x) % 4)))
enc = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(',', ':')).encode()).rstrip(b'=').decode()
header, payload = dec(h), dec(p)
header.update(json.loads(header_patch))
payload.update(json.loads(payload_patch))
print(enc(header) + '.' + enc(payload) + '.' + s)
PY
}
# jwt_claims TOKEN: its payload, decoded (not verified).
jwt_claims() {
  python3 -c 'import base64, json, sys; p = sys.argv[1].split(".")[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))))' "$1"
}
# cell WHO TOKEN METHOD ID 200|SCOPE [PRM_URL]: one cell of the policy matrix, asserted exactly.
cell() {
  local who="$1" token="$2" method="$3" id="$4" want="$5" prm="${6:-$PRM_URL}"
  auth_rpc "$token" "$(body_for "$method" "$id")"
  if [ "$want" = 200 ]; then
    expect_status 200 "$who $method allowed"
    case "$method" in
      tools/list) expect_jq ".id == $id and ([.result.tools[].name] | index(\"echo\") != null)" "$who $method: result lists echo, id $id echoed" ;;
      tools/call) expect_jq ".id == $id and .result.isError == false and .result.structuredContent.text == \"hi\"" "$who $method: echo says hi, id $id echoed" ;;
      prompts/list) expect_jq ".id == $id and [.result.prompts[].name] == [\"echo_prompt\"]" "$who $method: result lists echo_prompt, id $id echoed" ;;
      prompts/get) expect_jq ".id == $id and .result.messages[0].content.text == \"Please echo: hi\"" "$who $method: prompt rendered, id $id echoed" ;;
    esac
  else
    expect_status 403 "$who $method denied"
    expect_header WWW-Authenticate "^Bearer error=\"insufficient_scope\", scope=\"$(re "$want")\", resource_metadata=\"$(re "$prm")\"" \
      "$who $method: challenge insufficient_scope, scope=\"$want\", resource_metadata"
    expect_jq ".id == $id and .error.code == -32003 and (.error.data.required_scope | index(\"$want\") != null) and (has(\"result\") | not)" \
      "$who $method: JSON-RPC error -32003, id $id echoed, needs $want"
  fi
}
keys_state() { health; expect_jq "$1" "$2"; }
# expect_output_in FILE TEXT DESCRIPTION: FILE contains TEXT.
expect_output_in() { if grep -Fq -- "$2" "$1"; then pass "$3"; else fail "$3: no '$2'"; fi; }

# ---------------------------------------------------------------------------------------------
section "start: the effective configuration, printed with its sources"
start_server step10 --jwks-min-refetch 3600
MAIN="$BASE"; MAIN_LOG="$SERVER_LOG"
expect_config "$MAIN_LOG" MCP_SERVER_URL "$PUBLIC" default "MCP_SERVER_URL default"
expect_config "$MAIN_LOG" KEYCLOAK_URL "$KEYCLOAK_URL" environment "KEYCLOAK_URL from the environment"
expect_config "$MAIN_LOG" KEYCLOAK_REALM mcp-realm default "KEYCLOAK_REALM default"
expect_config "$MAIN_LOG" JWT_ISSUER "$ISS" default "JWT_ISSUER derived: <KEYCLOAK_URL>/realms/<realm>"
expect_config "$MAIN_LOG" JWT_AUDIENCE "$PUBLIC/mcp" default "JWT_AUDIENCE default: <MCP_SERVER_URL>/mcp"

section "/health reports the issuer's keys"
health
expect_status 200 "/health"
expect_jq '.status == "healthy" and .step == 10 and .auth_required == true' "/health: healthy, step 10, auth_required"
expect_jq '.token_check == "jwt" and (has("introspection") | not)' "/health: token_check jwt (the default), no introspection counters"
expect_jq '.issuer_keys.state == "ok" and .issuer_keys.keys >= 1' "/health: issuer_keys.state ok, keys >= 1"
expect_jq ".issuer_keys.jwks_uri == \"$ISS/protocol/openid-connect/certs\"" "/health: jwks_uri found by OIDC discovery"
expect_jq '.issuer_keys.fetches == 1 and (.issuer_keys | has("last_error") | not)' "/health: one JWKS fetch at start, no error"

section "no token, bad tokens"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 401 "no token"
expect_header WWW-Authenticate "^Bearer realm=\"mcp\", resource_metadata=\"$(re "$PRM_URL")\", scope=\"mcp:read mcp:tools mcp:prompts\"\$" \
  "401 challenge: resource_metadata=\"$PRM_URL\" and scope, no error code"
expect_jq '.error == "unauthorized"' "401 body: error unauthorized"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Authorization: Bearer not-a-jwt'
expect_status 401 "a token that is not a JWT"
expect_header WWW-Authenticate 'error="invalid_token", error_description="malformed token"' "challenge: invalid_token, malformed token"

T_ADMIN="$(kc_token mcp-admin admin123)" || exit 1
T_USER="$(kc_token mcp-user user123)" || exit 1
T_RO="$(kc_token mcp-readonly readonly123)" || exit 1

auth_rpc "$(jwt_edit "$T_RO" '{}' '{"scope":"openid mcp:read mcp:tools mcp:prompts"}')" '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_status 401 "mcp-readonly's token with scopes added to its payload"
expect_jq '.error == "invalid_token" and .error_description == "signature verification failed"' "body: invalid_token, signature verification failed"
auth_rpc "$(jwt_edit "$T_USER" '{"kid":"kid-nobody-has"}' '{}')" '{"jsonrpc":"2.0","id":3,"method":"ping"}'
expect_status 401 "a token naming an unknown kid"
expect_jq '.error == "invalid_token" and .error_description == "unknown signing key (kid)"' "body: invalid_token, unknown signing key (kid)"
auth_rpc "$(jwt_edit "$T_USER" '{"kid":"another-unknown-kid"}' '{}')" '{"jsonrpc":"2.0","id":4,"method":"ping"}'
expect_status 401 "a second unknown kid"
keys_state '.issuer_keys.fetches == 1' "unknown kids within --jwks-min-refetch caused no extra JWKS fetch (rate limit)"
auth_rpc "$(jwt_edit "$T_USER" '{"alg":"HS256"}' '{}')" '{"jsonrpc":"2.0","id":5,"method":"ping"}'
expect_status 401 "a token whose header says HS256"
expect_jq '.error_description == "algorithm HS256 is not accepted (RS256 only)"' "body: only RS256 is accepted"

section "protected resource metadata names Keycloak (RFC 9728); no AS metadata here"
request GET /.well-known/oauth-protected-resource/mcp
expect_status 200 "PRM at the path-inserted location"
expect_jq ".resource == \"$PUBLIC/mcp\"" "PRM resource == MCP_SERVER_URL + /mcp"
expect_jq ".authorization_servers == [\"$ISS\"]" "PRM authorization_servers == [issuer]"
expect_jq '.scopes_supported == ["mcp:read","mcp:tools","mcp:prompts"]' "PRM scopes_supported: the three MCP scopes"
expect_jq '.bearer_methods_supported == ["header"]' "PRM bearer_methods_supported: header"
request GET /.well-known/oauth-protected-resource
expect_status 200 "PRM at the root location"
expect_jq ".resource == \"$PUBLIC/mcp\" and .authorization_servers == [\"$ISS\"]" "root PRM: same resource and issuer"
request GET /.well-known/oauth-authorization-server
expect_status 404 "no /.well-known/oauth-authorization-server on step10 (the AS is Keycloak)"
request GET /.well-known/jwks.json
expect_status 404 "no local JWKS on step10"

section "policy matrix: Keycloak users x methods"
cell mcp-admin "$T_ADMIN" tools/list 101 200
cell mcp-admin "$T_ADMIN" tools/call 102 200
cell mcp-admin "$T_ADMIN" prompts/list 103 200
cell mcp-admin "$T_ADMIN" prompts/get 104 200
cell mcp-user "$T_USER" tools/list 201 200
cell mcp-user "$T_USER" tools/call 202 200
cell mcp-user "$T_USER" prompts/list 203 200
cell mcp-user "$T_USER" prompts/get 204 mcp:prompts
cell mcp-readonly "$T_RO" tools/list 301 200
cell mcp-readonly "$T_RO" tools/call 302 mcp:tools
cell mcp-readonly "$T_RO" prompts/list 303 200
cell mcp-readonly "$T_RO" prompts/get 304 mcp:prompts
auth_rpc "$T_RO" '{"jsonrpc":"2.0","id":"p","method":"ping"}'
expect_status 200 "mcp-readonly ping (any valid token)"
expect_jq '.id == "p" and .result == {}' "ping result {}"
# Scopes bound a token, whatever the user's roles: mcp-admin (realm role admin) through a client
# that was allowed to read only.
T_ADMIN_RO="$(kc_token mcp-admin admin123 "openid mcp:read")" || exit 1
jwt_claims "$T_ADMIN_RO" >"$WORK/admin-ro.json"
if jq -e '(.scope | split(" ") | sort) == ["email","mcp:read","openid","profile"] and (.realm_access.roles | index("admin") != null)' "$WORK/admin-ro.json" >/dev/null; then
  pass "mcp-admin's token for scope mcp:read: scope \"openid profile mcp:read email\", realm role admin"
else fail "mcp-admin's mcp:read token: $(jq -c '{scope, roles: .realm_access.roles}' "$WORK/admin-ro.json")"; fi
cell "mcp-admin (mcp:read only)" "$T_ADMIN_RO" tools/list 401 200
cell "mcp-admin (mcp:read only)" "$T_ADMIN_RO" tools/call 402 mcp:tools
cell "mcp-admin (mcp:read only)" "$T_ADMIN_RO" prompts/get 404 mcp:prompts
keys_state '.issuer_keys.fetches == 1' "17 authenticated requests, still one JWKS fetch (cache hits)"

section "whoami: what the server took from Keycloak's claims"
auth_rpc "$T_USER" '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}'
expect_status 200 "mcp-user whoami"
USER_SUB="$(jq -r '.users[] | select(.username == "mcp-user") | .id' "$REALM_FILE")"
expect_jq ".result.structuredContent | .username == \"mcp-user\" and .subject == \"$USER_SUB\" and .client_id == \"mcp-test-client\"" \
  "whoami: username mcp-user, sub from the realm file, client mcp-test-client"
expect_jq '.result.structuredContent.roles | index("read-only") != null and index("tools") != null and index("prompts") == null and index("admin") == null' \
  "whoami: roles read-only and tools (resource_access.echo-mcp-server), not prompts or admin"
expect_jq '[.result.structuredContent.scopes[] | select(startswith("mcp:"))] | sort == ["mcp:read","mcp:tools"]' "whoami: MCP scopes mcp:read mcp:tools"
auth_rpc "$T_ADMIN" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami","arguments":{}}}'
expect_jq '.result.structuredContent.roles | index("admin") != null' "whoami mcp-admin: realm role admin (realm_access.roles)"

section "CORS: the Inspector's origin (http://localhost:6274)"
request OPTIONS /mcp -H 'Origin: http://localhost:6274' -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: authorization,content-type,mcp-protocol-version'
expect_status 200 "preflight answered before auth"
expect_header Access-Control-Allow-Origin '^http://localhost:6274$' "preflight: Access-Control-Allow-Origin echoes the origin"
expect_header Access-Control-Allow-Headers 'authorization' "preflight: Authorization allowed"
expect_header Access-Control-Allow-Headers 'mcp-protocol-version' "preflight: MCP-Protocol-Version allowed"
expect_header Access-Control-Allow-Methods 'POST' "preflight: POST allowed"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Origin: http://localhost:6274'
expect_status 401 "cross-origin POST without a token"
expect_header Access-Control-Expose-Headers '(^|, *)www-authenticate' "401 exposes WWW-Authenticate to the page"
request OPTIONS /mcp -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST'
expect_status 403 "preflight from http://evil.example refused by the Origin guard"
expect_no_header Access-Control-Allow-Origin "no Access-Control-Allow-Origin for http://evil.example"

# ---------------------------------------------------------------------------------------------
section "precedence: env file > default"
closed="$(free_port)"
FILE1="$WORK/step10-file.env"
printf 'KEYCLOAK_URL=%s\nMCP_SERVER_URL=http://localhost:9555\nJWT_AUDIENCE=from-file\nJWKS_REFRESH_SECONDS=120\nTOKEN_CACHE_SIZE=500\n' "$KEYCLOAK_URL" >"$FILE1"
saved_url="$KEYCLOAK_URL"; unset KEYCLOAK_URL
start_server step10 --env "$FILE1"
export KEYCLOAK_URL="$saved_url"
expect_output_in "$SERVER_LOG" "env file: $FILE1" "printout names the env file"
expect_config "$SERVER_LOG" KEYCLOAK_URL "$KEYCLOAK_URL" "env file" "KEYCLOAK_URL from the file"
expect_config "$SERVER_LOG" MCP_SERVER_URL http://localhost:9555 "env file" "MCP_SERVER_URL from the file beats the default"
expect_config "$SERVER_LOG" JWT_AUDIENCE from-file "env file" "JWT_AUDIENCE from the file beats the default"
expect_config "$SERVER_LOG" JWKS_REFRESH_SECONDS 120 "env file" "JWKS_REFRESH_SECONDS from the file"
expect_config "$SERVER_LOG" JWKS_MIN_REFETCH_SECONDS 10 default "JWKS_MIN_REFETCH_SECONDS default"
expect_config "$SERVER_LOG" TOKEN_CACHE_SIZE 500 "env file" "TOKEN_CACHE_SIZE from the file"
expect_config "$SERVER_LOG" JWT_ISSUER "$ISS" default "JWT_ISSUER still derived"
auth_rpc "$T_USER" "$(body_for tools/list 11)"
expect_status 401 "audience from the file: Keycloak's token is refused"
expect_jq '.error == "invalid_token" and .error_description == "unexpected audience"' "body: invalid_token, unexpected audience"
expect_header WWW-Authenticate "error=\"invalid_token\", error_description=\"unexpected audience\", resource_metadata=\"http://localhost:9555/\\.well-known/oauth-protected-resource/mcp\"" \
  "challenge built from the file's MCP_SERVER_URL"
request GET /.well-known/oauth-protected-resource/mcp
expect_jq '.resource == "http://localhost:9555/mcp"' "PRM resource from the file's MCP_SERVER_URL"
stop_server "$SERVER_PID"

section "precedence: environment > env file"
FILE2="$WORK/step10-file2.env"
printf 'KEYCLOAK_URL=http://127.0.0.1:%s\nMCP_SERVER_URL=http://localhost:9555\nJWT_AUDIENCE=from-file\n' "$closed" >"$FILE2"
MCP_SERVER_URL=http://localhost:9666 JWT_AUDIENCE=from-env start_server step10 --env "$FILE2"
expect_config "$SERVER_LOG" KEYCLOAK_URL "$KEYCLOAK_URL" environment "KEYCLOAK_URL: environment beats the file's dead URL"
expect_config "$SERVER_LOG" MCP_SERVER_URL http://localhost:9666 environment "MCP_SERVER_URL: environment beats the file"
expect_config "$SERVER_LOG" JWT_AUDIENCE from-env environment "JWT_AUDIENCE: environment beats the file"
keys_state '.issuer_keys.state == "ok"' "keys fetched from the environment's KEYCLOAK_URL, not the file's"
auth_rpc "$T_USER" "$(body_for tools/list 12)"
expect_status 401 "audience from the environment: still the wrong audience"
expect_jq '.error_description == "unexpected audience"' "body: unexpected audience"
stop_server "$SERVER_PID"

section "precedence: flag > environment"
MCP_SERVER_URL=http://localhost:9666 JWT_AUDIENCE=from-env start_server step10 --env "$FILE2" \
  --jwt-audience "$PUBLIC/mcp" --mcp-server-url http://localhost:9777
expect_config "$SERVER_LOG" JWT_AUDIENCE "$PUBLIC/mcp" flag "JWT_AUDIENCE: flag beats the environment"
expect_config "$SERVER_LOG" MCP_SERVER_URL http://localhost:9777 flag "MCP_SERVER_URL: flag beats the environment"
cell "mcp-user (audience fixed by the flag)" "$T_USER" tools/list 13 200
cell "mcp-user (audience fixed by the flag)" "$T_USER" prompts/get 14 mcp:prompts "http://localhost:9777/.well-known/oauth-protected-resource/mcp"
stop_server "$SERVER_PID"

section "JWT_ISSUER says 127.0.0.1: Keycloak (dev mode) names that issuer there, but its tokens say localhost"
WRONG_ISS="${ISS/localhost/127.0.0.1}"
start_server step10 --jwt-issuer "$WRONG_ISS"
health
expect_jq '.issuer_keys.state == "ok"' "/health: keys fetched (discovery at 127.0.0.1 names the 127.0.0.1 issuer)"
auth_rpc "$T_USER" "$(body_for tools/list 15)"
expect_status 401 "a token fetched through localhost"
expect_jq '.error == "invalid_token" and .error_description == "unexpected issuer"' "body: invalid_token, unexpected issuer"
stop_server "$SERVER_PID"

section "bad configuration stops step10 at start"
expect_exit 1 "--env with a missing file" timeout 10 "$BIN/step10" --port 0 --env "$WORK/missing.env"
expect_output "env file $WORK/missing.env: No such file or directory" "message names the missing env file"
printf 'THIS LINE IS NOT KEY=VALUE\n' >"$WORK/broken.env"
expect_exit 1 "--env with a malformed line" timeout 10 "$BIN/step10" --port 0 --env "$WORK/broken.env"
expect_output "env file $WORK/broken.env: Error parsing line" "message names the malformed env file"
expect_exit 1 "JWKS_MIN_REFETCH_SECONDS that is not a number" timeout 10 env JWKS_MIN_REFETCH_SECONDS=soon "$BIN/step10" --port 0
expect_output 'JWKS_MIN_REFETCH_SECONDS: "soon" is not valid: a whole number of seconds is expected' "message names JWKS_MIN_REFETCH_SECONDS"
KEYCLOAK_URL=notaurl expect_exit 1 "KEYCLOAK_URL=notaurl" timeout 10 "$BIN/step10" --port 0
expect_output 'KEYCLOAK_URL: "notaurl" is not valid' "message names KEYCLOAK_URL"
expect_exit 1 "--jwt-issuer not-a-url" timeout 10 "$BIN/step10" --port 0 --jwt-issuer not-a-url
expect_output 'JWT_ISSUER: "not-a-url" is not valid' "message names JWT_ISSUER"
expect_exit 1 "MCP_SERVER_URL with a query" timeout 10 "$BIN/step10" --port 0 --mcp-server-url 'http://localhost:9000/?x=1'
expect_output 'MCP_SERVER_URL: "http://localhost:9000/\?x=1" is not valid: a query or fragment is not allowed' "message names MCP_SERVER_URL"

# ---------------------------------------------------------------------------------------------
section "a dynamically registered client (RFC 7591) + authorization code + PKCE, Keycloak's login page in a browser"
curl -sS --max-time 5 -o "$WORK/discovery.json" "$ISS/.well-known/openid-configuration"
REG_EP="$(jq -r '.registration_endpoint // empty' "$WORK/discovery.json")"
AUTH_EP="$(jq -r .authorization_endpoint "$WORK/discovery.json")"
TOKEN_EP="$(jq -r .token_endpoint "$WORK/discovery.json")"
if [ -n "$REG_EP" ] && jq -e '.code_challenge_methods_supported | index("S256") != null' "$WORK/discovery.json" >/dev/null; then
  pass "discovery: registration_endpoint and S256 advertised"
else
  fail "discovery: registration_endpoint and S256 advertised"
fi
start_server step10 --jwks-min-refetch 0
D="$BASE"; D_PID="$SERVER_PID"
CB="http://127.0.0.1:$(free_port)/callback"
# Keycloak 26.7.3 answers 500 to a resource request from a client that gets no refresh token
# (keycloak#50251), so the client registers for refresh_token too, as a real MCP client does.
curl -sS --max-time 10 -o "$BODY" -w '%{http_code}' -H 'Content-Type: application/json' "$REG_EP" --data-binary \
  "{\"client_name\":\"test_step10\",\"redirect_uris\":[\"$CB\"],\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"],\"token_endpoint_auth_method\":\"none\",\"scope\":\"mcp:read mcp:tools\"}" >"$WORK/reg.status"
expect_eq "$(cat "$WORK/reg.status")" 201 "anonymous registration with a loopback redirect URI: HTTP 201"
expect_jq '(.client_id | length) > 0 and .token_endpoint_auth_method == "none" and (has("client_secret") | not)' "registered: a public client (auth method none, no secret)"
CLIENT_ID="$(jq -r .client_id "$BODY")"
VERIFIER="$(openssl rand -base64 60 | tr -d '=+/\n' | cut -c1-64)"
CHALLENGE="$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')"
STATE="st-$(openssl rand -hex 8)"
AUTH_URL="$AUTH_EP?$(jq -rn --arg c "$CLIENT_ID" --arg r "$CB" --arg s "$STATE" --arg ch "$CHALLENGE" --arg res "$PUBLIC/mcp" \
  '{response_type:"code", client_id:$c, redirect_uri:$r, scope:"openid mcp:read mcp:tools", state:$s, code_challenge:$ch, code_challenge_method:"S256", resource:$res} | to_entries | map("\(.key)=\(.value | @uri)") | join("&")')"
if LOGIN_USER=mcp-user LOGIN_PASSWORD=user123 node "$ROOT/scripts/browser/login.mjs" --capture "$CB" "$AUTH_URL" >"$WORK/redirect.txt" 2>"$WORK/browser.log"; then
  pass "Chromium filled in Keycloak's login form (mcp-user) and accepted the consent page"
else
  fail "browser login: $(tail -n 1 "$WORK/browser.log")"
fi
location="$(head -n 1 "$WORK/redirect.txt")"
param() { printf '%s' "$location" | sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p"; }
AUTH_CODE="$(param code)"
if [ "${location%%\?*}" = "$CB" ] && [ -n "$AUTH_CODE" ]; then
  pass "Keycloak redirected to the loopback redirect URI with a code"
else
  fail "Keycloak redirected to the loopback redirect URI with a code: got ${location%%\?*}"
fi
expect_eq "$(param state)" "$STATE" "the redirect carries the same state"
expect_eq "$(param iss)" "$(jq -rn --arg s "$ISS" '$s | @uri')" "the redirect carries iss (RFC 9207)"
curl -sS --max-time 10 -o "$BODY" -w '%{http_code}' "$TOKEN_EP" -d grant_type=authorization_code --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "code=$AUTH_CODE" --data-urlencode "redirect_uri=$CB" --data-urlencode "code_verifier=$VERIFIER" \
  --data-urlencode "resource=$PUBLIC/mcp" >"$WORK/token.status"
expect_eq "$(cat "$WORK/token.status")" 200 "code exchange with the PKCE verifier and resource: HTTP 200"
expect_jq '(.access_token | length) > 0 and (.token_type | ascii_downcase) == "bearer"' "token response: a bearer access token"
T_DCR="$(jq -r '.access_token // empty' "$BODY")"
aud="$(printf '%s' "$T_DCR" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null | jq -c .aud 2>/dev/null)"
expect_eq "$aud" "\"$PUBLIC/mcp\"" "RFC 8707: with resource=$PUBLIC/mcp the token's aud is exactly that URI"
BASE="$D"
cell "registered client (mcp-user)" "$T_DCR" tools/list 411 200
cell "registered client (mcp-user)" "$T_DCR" tools/call 412 200
cell "registered client (mcp-user)" "$T_DCR" prompts/list 413 200
cell "registered client (mcp-user)" "$T_DCR" prompts/get 414 mcp:prompts
auth_rpc "$T_DCR" '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami","arguments":{}}}'
expect_jq ".result.structuredContent | .subject == \"$USER_SUB\" and .client_id == \"$CLIENT_ID\" and (has(\"username\") | not) and .roles == []" \
  "whoami: sub of mcp-user, azp the registered client, no preferred_username, no roles (Keycloak's DCR token shape)"
expect_jq '[.result.structuredContent.scopes[] | select(startswith("mcp:"))] | sort == ["mcp:read","mcp:tools"]' "whoami: the scopes the client registered and asked for"
keys_state '.issuer_keys.fetches == 1' "one JWKS fetch so far on this server"

section "unknown kid: refetched at once (--jwks-min-refetch 0), then refused as invalid"
auth_rpc "$(jwt_edit "$T_USER" '{"kid":"kid-nobody-has"}' '{}')" "$(body_for tools/list 17)"
expect_status 401 "a token naming a kid Keycloak does not publish"
expect_jq '.error_description == "unknown signing key (kid)"' "body: unknown signing key (kid)"
keys_state '.issuer_keys.fetches == 2 and .issuer_keys.state == "ok"' "the unknown kid caused one refetch (fetches 1 -> 2)"

section "token check by introspection (RFC 7662): sessions that end, against the offline check"
INTRO_SECRET="$(jq -r '.clients[] | select(.clientId == "echo-mcp-server") | .secret' "$REALM_FILE")"
INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET" start_server step10 --token-check introspection --introspection-cache-seconds 2
IS="$BASE"; IS_LOG="$SERVER_LOG"
expect_config "$IS_LOG" TOKEN_CHECK introspection flag "TOKEN_CHECK from the flag"
expect_config "$IS_LOG" INTROSPECTION_CLIENT_ID echo-mcp-server default "INTROSPECTION_CLIENT_ID default: echo-mcp-server"
expect_config "$IS_LOG" INTROSPECTION_CLIENT_SECRET "(set)" environment "the secret is printed as (set)"
expect_config "$IS_LOG" INTROSPECTION_CACHE_SECONDS 2 flag "INTROSPECTION_CACHE_SECONDS from the flag"
if grep -qF -- "$INTRO_SECRET" "$IS_LOG"; then fail "the introspection secret appears in the log"; else pass "the introspection secret appears nowhere in the log"; fi
if grep -q 'introspection client accepted by the issuer client=echo-mcp-server' "$IS_LOG"; then pass "start: the client's credentials tried and accepted"
else fail "start: no 'introspection client accepted' line"; fi
# intro_state JQ DESCRIPTION: a condition on the introspection server's /health.
intro_state() { local saved="$BASE"; BASE="$IS"; health; expect_jq "$1" "$2"; BASE="$saved"; }
intro_calls() { curl -sS --max-time 5 "$IS/health" | jq -r '.introspection.calls'; }
intro_state '.token_check == "introspection" and .introspection.cache_seconds == 2 and .introspection.last_error == null' \
  "/health: token_check introspection, cache 2 s, no error"
# both CODE WHAT TOKEN: tools/list with TOKEN on the introspection server (IS) and the offline one (D).
on() { local saved="$BASE"; BASE="$1"; auth_rpc "$3" "$(body_for tools/list 900)"; expect_status "$2" "$4"; BASE="$saved"; }

T_LO="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1
before="$(intro_calls)"
for i in $(seq 1 20); do
  curl -sS -o /dev/null --max-time 5 "$IS/mcp" -H "Authorization: Bearer $T_LO" -H 'Content-Type: application/json' \
    -H 'MCP-Protocol-Version: 2025-11-25' --data "$(body_for tools/list "$((920 + i))")"
done
after="$(intro_calls)"
expect_eq "$((after - before))" 1 "20 requests with one token within the cache time: one introspection call"
on "$IS" 200 "$T_LO" "introspection: mcp-user's token → 200"
on "$D" 200 "$T_LO" "offline: the same token → 200"
USER_ID="$(kc_admin GET "/admin/realms/$KC_REALM/users?username=mcp-user&exact=true" | jq -r '.[0].id')"
kc_admin POST "/admin/realms/$KC_REALM/users/$USER_ID/logout" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: mcp-user logged out of every session (HTTP 204)"
sleep 3   # the cache time (2 s) plus one second
on "$IS" 401 "$T_LO" "introspection, 3 s after the logout: 401"
expect_header WWW-Authenticate 'Bearer realm="mcp", error="invalid_token", error_description="token is not active \(introspection\)", resource_metadata=' \
  "introspection: the same challenge as the offline path, invalid_token: token is not active (introspection)"
on "$D" 200 "$T_LO" "offline, after the same logout: still 200 (the blind spot introspection closes)"

T_RO_I="$(kc_token mcp-readonly readonly123 "openid mcp:read")" || exit 1
on "$IS" 200 "$T_RO_I" "introspection: mcp-readonly's token → 200"
RO_ID="$(kc_admin GET "/admin/realms/$KC_REALM/users?username=mcp-readonly&exact=true" | jq -r '.[0].id')"
AT_EXIT+=("kc_admin PUT '/admin/realms/$KC_REALM/users/$RO_ID' '{\"enabled\":true}' >/dev/null")
kc_admin PUT "/admin/realms/$KC_REALM/users/$RO_ID" '{"enabled":false}' >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: mcp-readonly disabled (HTTP 204)"
sleep 3
on "$IS" 401 "$T_RO_I" "introspection, 3 s after the user was disabled: 401"
on "$D" 200 "$T_RO_I" "offline, the disabled user's token: still 200"
kc_admin PUT "/admin/realms/$KC_REALM/users/$RO_ID" '{"enabled":true}' >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: mcp-readonly enabled again (HTTP 204)"
sleep 3
on "$IS" 200 "$T_RO_I" "introspection, once enabled again: 200 (why negative answers are not kept longer than the cache time)"

T_OTHER="$(kc_token mcp-user user123 "openid")" || exit 1
before="$(intro_calls)"
on "$IS" 401 "$T_OTHER" "a token for another audience (scope openid only, aud without $PUBLIC/mcp): 401"
expect_jq '.error_description == "unexpected audience"' "refused by the offline check: unexpected audience"
expect_eq "$(intro_calls)" "$before" "refused before any introspection call (forged or foreign tokens cost Keycloak nothing)"

section "DPoP (RFC 9449): tokens bound to a key; proofs checked on every request; no downgrade to Bearer"
BASE_BEFORE_DPOP="$BASE"
DPOP_BIN="$ROOT/target/debug/examples/dpop_proof"
if [ "${SKIP_BUILD:-0}" != 1 ]; then (cd "$ROOT" && cargo build --quiet --example dpop_proof) || { fail "examples/dpop_proof does not build"; finish; }; fi
KEY1="$WORK/dpop-key-1.der"; KEY2="$WORK/dpop-key-2.der"
TOKEN_URL="$KEYCLOAK_URL/realms/$KC_REALM/protocol/openid-connect/token"
proof() { "$DPOP_BIN" "$@"; }
# challenges: every WWW-Authenticate value of the last response, joined by " | ".
challenges() { grep -i '^WWW-Authenticate:' "$HEADERS" | cut -d: -f2- | sed 's/^ *//' | tr -d '\r' | paste -sd'|' | sed 's/|/ | /g'; }
expect_challenges() { local got; got="$(challenges)"; if printf '%s' "$got" | grep -Eq -- "$1"; then pass "$2"; else fail "$2: WWW-Authenticate is '$got', expected /$1/"; fi; }
# dpop_rpc TOKEN PROOF ID: tools/list as Authorization: DPoP TOKEN with the DPoP header PROOF.
dpop_rpc() { rpc "$(body_for tools/list "$3")" -H "Authorization: DPoP $1" -H "DPoP: $2" -H 'MCP-Protocol-Version: 2025-11-25'; }
curl -sS -o "$WORK/dpop-token.json" --max-time 10 "$TOKEN_URL" -H "DPoP: $(proof "$KEY1" POST "$TOKEN_URL")" \
  -d grant_type=password -d client_id=mcp-test-client --data-urlencode username=mcp-user \
  --data-urlencode password=user123 --data-urlencode "scope=openid mcp:read mcp:tools"
expect_eq "$(stat -c %a "$KEY1")" 600 "the proof key file is 0600"
expect_eq "$(jq -r .token_type "$WORK/dpop-token.json")" DPoP "Keycloak, given a DPoP proof at the token endpoint, issues token_type DPoP"
T_DP="$(jq -r .access_token "$WORK/dpop-token.json")"
JKT1="$(proof "$KEY1" POST "$TOKEN_URL" --jkt)"
expect_eq "$(jwt_claims "$T_DP" | jq -r .cnf.jkt)" "$JKT1" "the token's cnf.jkt is the RFC 7638 thumbprint of the client's key"
T_PLAIN="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1

BASE="$D"
auth_rpc "$T_DP" "$(body_for tools/list 940)"
expect_status 401 "DPOP=off (the default): the DPoP-bound token sent as Bearer → 401 (a stolen bound token is not served)"
expect_challenges '^Bearer realm="mcp", error="invalid_token", error_description="the token is bound to a key \(cnf.jkt\): present it as Authorization: DPoP with a DPoP proof", resource_metadata=' \
  "DPOP=off: invalid_token, the token is bound to a key (cnf.jkt)"
dpop_rpc "$T_DP" "$(proof "$KEY1" POST "$D/mcp" --token "$T_DP")" 941
expect_status 401 "DPOP=off: Authorization: DPoP is not a scheme this server takes → 401"
expect_challenges '^Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+"$' "DPOP=off: the plain Bearer challenge, no error code (RFC 6750 §3.1, unknown scheme)"

start_server step10 --dpop accepted
DS="$BASE"; DS_LOG="$SERVER_LOG"
expect_config "$DS_LOG" DPOP accepted flag "DPOP from the flag"
request GET /.well-known/oauth-protected-resource/mcp
expect_jq '.dpop_signing_alg_values_supported == ["ES256","RS256"] and .dpop_bound_access_tokens_required == false' \
  "metadata (RFC 9728 §2): dpop_signing_alg_values_supported [ES256, RS256], dpop_bound_access_tokens_required false"
HTU="$(jq -r .resource "$BODY")"
request GET /health
expect_jq '.dpop == "accepted" and .dpop_replay_entries == 0' "/health: dpop accepted, replay store empty"
P1="$(proof "$KEY1" POST "$HTU" --token "$T_DP")"
dpop_rpc "$T_DP" "$P1" 942
expect_status 200 "Authorization: DPoP with a fresh proof → 200"
expect_jq '.id == 942 and ([.result.tools[].name] | index("echo") != null)' "DPoP: tools/list answered, id 942"
dpop_rpc "$T_DP" "$(proof "$KEY1" POST "$HTU" --token "$T_DP")" 943
expect_status 200 "a second request, a new proof (the token from the verified-token cache, the proof checked again) → 200"
dpop_rpc "$T_DP" "$P1" 944
expect_status 401 "the first proof replayed (same jti) → 401"
expect_challenges '^Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+" \| DPoP algs="ES256 RS256", error="invalid_dpop_proof", error_description="the proof.s jti was used before \(replay\)", resource_metadata=' \
  "replay: a Bearer challenge and a DPoP challenge (algs) carrying invalid_dpop_proof (RFC 9449 §7.1)"
expect_jq '.error == "invalid_dpop_proof"' "replay: body error invalid_dpop_proof"
# dpop_refused PROOF DESCRIPTION WHY: a DPoP request with PROOF is refused with invalid_dpop_proof WHY.
dpop_refused() {
  dpop_rpc "$T_DP" "$1" 945
  expect_status 401 "$2 → 401"
  expect_jq ".error == \"invalid_dpop_proof\" and .error_description == $(jq -Rn --arg w "$3" '$w')" "$2: invalid_dpop_proof, $3"
}
dpop_refused "$(proof "$KEY1" POST "http://localhost:1/mcp" --token "$T_DP")" "a proof for another URL" "htu must be $HTU"
dpop_refused "$(proof "$KEY1" GET "$HTU" --token "$T_DP")" "a proof for another method (GET)" "htm must be POST"
dpop_refused "$(proof "$KEY2" POST "$HTU" --token "$T_DP")" "a proof from another key" "the proof's key is not the key the token is bound to (cnf.jkt)"
dpop_refused "$(proof "$KEY1" POST "$HTU" --token "$T_PLAIN")" "a proof for another token (ath)" "ath is not the SHA-256 of the access token"
dpop_refused "$(proof "$KEY1" POST "$HTU" --token "$T_DP" --iat-offset -120)" "a proof 120 s old (iat)" "iat is more than 60 s from the server's clock"
dpop_refused "not.a.proof" "a proof that is not a JWT" "the proof's header is not JSON"
rpc "$(body_for tools/list 946)" -H "Authorization: DPoP $T_DP" -H 'MCP-Protocol-Version: 2025-11-25'
expect_status 401 "Authorization: DPoP with no DPoP header → 401"
expect_jq '.error == "invalid_dpop_proof" and .error_description == "Authorization: DPoP needs a DPoP proof header"' "no DPoP header: invalid_dpop_proof, named"
P2="$(proof "$KEY1" POST "$HTU" --token "$T_DP")"
rpc "$(body_for tools/list 947)" -H "Authorization: DPoP $T_DP" -H "DPoP: $P2" -H "DPoP: $P2" -H 'MCP-Protocol-Version: 2025-11-25'
expect_jq '.error == "invalid_dpop_proof" and .error_description == "more than one DPoP header"' "two DPoP headers: invalid_dpop_proof, more than one DPoP header"
auth_rpc "$T_DP" "$(body_for tools/list 948)"
expect_status 401 "DPOP=accepted: the bound token sent as Bearer → 401 (no downgrade)"
expect_challenges '^Bearer realm="mcp", error="invalid_token", error_description="the token is bound to a key \(cnf.jkt\): present it as Authorization: DPoP with a DPoP proof", resource_metadata="[^"]+", scope="[^"]+" \| DPoP algs="ES256 RS256", resource_metadata=' \
  "no downgrade: invalid_token on the Bearer challenge, the DPoP challenge offered beside it"
auth_rpc "$T_PLAIN" "$(body_for tools/list 949)"
expect_status 200 "DPOP=accepted: a plain bearer token as Bearer → 200"
dpop_rpc "$T_PLAIN" "$(proof "$KEY1" POST "$HTU" --token "$T_PLAIN")" 950
expect_status 401 "a token with no cnf.jkt sent as DPoP → 401"
expect_jq '.error == "invalid_token" and .error_description == "the token is not bound to a key (no cnf.jkt): it cannot be presented as DPoP"' "unbound token as DPoP: invalid_token, named"
request GET /health
expect_jq '.dpop_replay_entries == 2' "/health: the replay store holds the 2 accepted proofs' jtis, no refused one"
if grep -qF -- "$T_DP" "$DS_LOG" || grep -qF -- "$P1" "$DS_LOG"; then fail "a token or a proof appears in the DPoP server's log"; else pass "neither the token nor a proof appears in the log"; fi
stop_server "$SERVER_PID"

start_server step10 --dpop required
request GET /.well-known/oauth-protected-resource/mcp
expect_jq '.dpop_bound_access_tokens_required == true' "DPOP=required: metadata says dpop_bound_access_tokens_required true"
auth_rpc "$T_PLAIN" "$(body_for tools/list 951)"
expect_status 401 "DPOP=required: a plain bearer token → 401"
expect_challenges '^DPoP algs="ES256 RS256", error="invalid_token", error_description="this resource accepts only DPoP-bound tokens \(Authorization: DPoP <token> with a DPoP proof\)", resource_metadata="[^"]+", scope="[^"]+"$' \
  "DPOP=required: only the DPoP challenge, invalid_token named"
request POST /mcp -H 'Content-Type: application/json' --data-binary "$(body_for tools/list 952)"
expect_status 401 "DPOP=required: no token → 401"
expect_challenges '^DPoP algs="ES256 RS256", resource_metadata="[^"]+", scope="[^"]+"$' "DPOP=required, no token: the DPoP challenge alone"
dpop_rpc "$T_DP" "$(proof "$KEY1" POST "$HTU" --token "$T_DP")" 953
expect_status 200 "DPOP=required: the bound token with a fresh proof → 200"
stop_server "$SERVER_PID"
expect_exit nonzero "DPOP=yes" "$BIN/step10" --port 0 --dpop yes
expect_output 'DPOP: "yes" is not valid: off, accepted or required is expected' "message names DPOP and the three values"
BASE="$BASE_BEFORE_DPOP"

section "bad introspection configuration stops step10 at start, naming the cause"
INTROSPECTION_CLIENT_SECRET=not-the-secret-step10 expect_exit nonzero "a wrong introspection secret" "$BIN/step10" --port 0 --token-check introspection
expect_output 'INTROSPECTION_CLIENT_SECRET: "\(set\)" is not valid: Keycloak refused the client echo-mcp-server at its introspection endpoint \(HTTP 401 invalid_client\)' \
  "message: Keycloak refused the client (HTTP 401 invalid_client), naming INTROSPECTION_CLIENT_SECRET"
if grep -q 'not-the-secret-step10' "$WORK/exit.out"; then fail "the wrong secret appears in the output"; else pass "the wrong secret appears nowhere in the output"; fi
expect_exit nonzero "introspection without a secret" env -u INTROSPECTION_CLIENT_SECRET "$BIN/step10" --port 0 --token-check introspection
expect_output 'missing: INTROSPECTION_CLIENT_SECRET \(TOKEN_CHECK=introspection authenticates' "message: INTROSPECTION_CLIENT_SECRET missing"
TOKEN_CHECK=opaque expect_exit nonzero "TOKEN_CHECK=opaque" "$BIN/step10" --port 0
expect_output 'TOKEN_CHECK: "opaque" is not valid: jwt or introspection is expected' "message names TOKEN_CHECK and the two values"
INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET" expect_exit nonzero "INTROSPECTION_CACHE_SECONDS=3600" "$BIN/step10" --port 0 --token-check introspection --introspection-cache-seconds 3600
expect_output 'INTROSPECTION_CACHE_SECONDS: "3600" is not valid: a whole number from 0 to 300 is expected' "message names INTROSPECTION_CACHE_SECONDS and its range"

if ! "$ROOT/scripts/keycloak.sh" status >/dev/null 2>&1; then
  fail "Keycloak at $KEYCLOAK_URL was not started by scripts/keycloak.sh: the outage and rotation tests need to stop and start it"
  finish
fi

section "Keycloak stopped: the last good keys keep serving; an unknown kid is 503, not invalid_token"
kc_token mcp-admin admin123 "openid mcp:read" >"$WORK/t-out.txt" || exit 1
on "$IS" 200 "$(cat "$WORK/t-out.txt")" "introspection before the outage: mcp-admin's token → 200"
"$ROOT/scripts/keycloak.sh" stop >"$WORK/kc-stop.log" 2>&1
if kc_discovery_answers "$KEYCLOAK_URL"; then fail "Keycloak still answers after scripts/keycloak.sh stop"; else pass "Keycloak is down (scripts/keycloak.sh stop)"; fi
served=0
for i in $(seq 1 50); do
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$D/mcp" -H "Authorization: Bearer $T_DCR" \
    -H 'Content-Type: application/json' -H 'MCP-Protocol-Version: 2025-11-25' --data "$(body_for tools/call "$((800 + i))")")"
  [ "$code" = 200 ] && served=$((served + 1))
done
expect_eq "$served" 50 "50 tools/call with a cached key while Keycloak is down: all 200"
auth_rpc "$(jwt_edit "$T_DCR" '{"kid":"kid-rotated-in-during-the-outage"}' '{}')" "$(body_for tools/call 502)"
expect_status 503 "an unknown kid while Keycloak cannot be asked"
expect_header Retry-After '^[0-9]+$' "503 carries Retry-After"
expect_no_header WWW-Authenticate "503 is not an invalid_token challenge"
expect_jq '.error == "temporarily_unavailable"' "503 body: temporarily_unavailable"
health
expect_jq '.issuer_keys.state == "ok" and .issuer_keys.keys >= 1' "/health: still ok with the cached key"
expect_jq '.issuer_keys.last_error | startswith("GET ")' "/health: last_error records the failed refetch"
T_OUT="$(cat "$WORK/t-out.txt")"
sleep 2.1   # past the introspection cache time: the next request must ask Keycloak
on "$IS" 503 "$T_OUT" "introspection while Keycloak is down: 503, never a pass and never a 401"
expect_header Retry-After '^[0-9]+$' "introspection 503 carries Retry-After"
expect_no_header WWW-Authenticate "introspection 503 is not an invalid_token challenge"
expect_jq '.error == "temporarily_unavailable" and .error_description == "the authorization server cannot confirm the token right now"' \
  "503 body: temporarily_unavailable, the authorization server cannot confirm the token right now"
intro_state '.introspection.last_error | startswith("POST ")' "/health: introspection.last_error records the failed call"
start_server step10 --jwks-min-refetch 1
U="$BASE"
health
expect_jq '.issuer_keys.state == "unavailable" and .issuer_keys.keys == 0' "a server started during the outage: /health issuer_keys unavailable, keys 0"
expect_jq ".issuer_keys.last_error | startswith(\"GET $ISS/.well-known/openid-configuration\")" "/health: last_error names the discovery URL"
auth_rpc "$T_USER" "$(body_for tools/list 701)"
expect_status 503 "an authenticated request to it: 503"
expect_header Retry-After '^[0-9]+$' "503 carries Retry-After"
expect_jq '.error == "temporarily_unavailable" and (.error_description | length) > 0' "503 body: error temporarily_unavailable"

section "Keycloak started again (same database): both servers recover without a restart"
started=$SECONDS
"$ROOT/scripts/keycloak.sh" start --keep >"$WORK/kc-restart.log" 2>&1 || { cat "$WORK/kc-restart.log"; fail "scripts/keycloak.sh start --keep"; finish; }
echo "  Keycloak back after $((SECONDS - started)) s"
sleep 1.2   # past --jwks-min-refetch 1 since the last attempt
BASE="$U"
cell "mcp-user on the server started during the outage" "$T_USER" tools/call 702 200
keys_state '.issuer_keys.state == "ok" and .issuer_keys.keys >= 1 and (.issuer_keys | has("last_error") | not)' "/health: keys fetched once Keycloak answered"
BASE="$D"
auth_rpc "$(jwt_edit "$T_DCR" '{"kid":"kid-after-the-outage"}' '{}')" "$(body_for tools/call 703)"
expect_status 401 "an unknown kid once Keycloak answers again: invalid_token (401)"
keys_state '(.issuer_keys | has("last_error") | not)' "/health: error cleared after the refetch"
on "$IS" 200 "$T_OUT" "introspection once Keycloak answers again: 200, without a restart"
intro_state '.introspection.last_error == null' "/health: introspection error cleared"

section "key rotation through the Admin REST API: a new active RSA key, the old one removed"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/keys" >"$WORK/keys-before.json"
OLD_KID="$(jq -r '[.keys[] | select(.algorithm == "RS256" and .use == "SIG" and .status == "ACTIVE")] | max_by(.providerPriority) | .kid' "$WORK/keys-before.json")"
OLD_PROVIDER="$(jq -r '[.keys[] | select(.algorithm == "RS256" and .use == "SIG" and .status == "ACTIVE")] | max_by(.providerPriority) | .providerId' "$WORK/keys-before.json")"
REALM_ID="$(kc_admin GET "$R" | jq -r .id)"
T_OLD="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1
cell "mcp-user, token signed with the old key" "$T_OLD" tools/call 901 200
kc_admin POST "$R/components" "{\"name\":\"rsa-rotated-by-test-step10\",\"providerId\":\"rsa-generated\",\"providerType\":\"org.keycloak.keys.KeyProvider\",\"parentId\":\"$REALM_ID\",\"config\":{\"priority\":[\"200\"],\"keySize\":[\"2048\"],\"active\":[\"true\"],\"enabled\":[\"true\"],\"algorithm\":[\"RS256\"]}}" >/dev/null
expect_eq "$KC_STATUS" 201 "Admin REST API: a new rsa-generated key provider, priority 200 (HTTP 201)"
kc_admin DELETE "$R/components/$OLD_PROVIDER" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the old key provider removed (HTTP 204)"
kc_admin GET "$R/keys" >"$WORK/keys-after.json"
NEW_KID="$(jq -r '[.keys[] | select(.algorithm == "RS256" and .use == "SIG" and .status == "ACTIVE")] | max_by(.providerPriority) | .kid' "$WORK/keys-after.json")"
if [ -n "$NEW_KID" ] && [ "$NEW_KID" != "$OLD_KID" ] && ! jq -e --arg k "$OLD_KID" '.keys[] | select(.kid == $k)' "$WORK/keys-after.json" >/dev/null; then
  pass "Keycloak signs with a new kid and no longer holds the old one"
else
  fail "Keycloak signs with a new kid and no longer holds the old one (old $OLD_KID, new ${NEW_KID:-none})"
fi
health; before="$(jq .issuer_keys.fetches "$BODY")"
T_NEW="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1
cell "mcp-user, token signed with the new key" "$T_NEW" tools/call 902 200
health; after="$(jq .issuer_keys.fetches "$BODY")"
expect_eq "$((after - before))" 1 "the new kid was fetched with exactly one refetch ($before -> $after)"
auth_rpc "$T_OLD" "$(body_for tools/call 903)"
expect_status 401 "a token signed by the removed key (cached before: the token cache checks its key is still published)"
expect_jq '.error_description == "unknown signing key (kid)"' "body: unknown signing key (kid)"
health; after_old="$(jq .issuer_keys.fetches "$BODY")"
expect_eq "$((after_old - after))" 1 "the removed kid cost one refetch (--jwks-min-refetch 0 on this server)"
after="$after_old"
for i in $(seq 1 100); do
  curl -sS -o /dev/null --max-time 5 "$D/mcp" -H "Authorization: Bearer $T_NEW" -H 'Content-Type: application/json' \
    -H 'MCP-Protocol-Version: 2025-11-25' --data "$(body_for tools/list "$((1000 + i))")"
done
health
expect_eq "$(jq .issuer_keys.fetches "$BODY")" "$after" "100 more requests with the new key: no JWKS fetch (steady state)"
echo "  (tested against Keycloak $KC_VERSION)"

section "no token in any log"
n=0
for t in "$T_ADMIN" "$T_USER" "$T_RO" "$T_DCR" "$T_OLD" "$T_NEW"; do
  n=$((n + 1))
  expect_log_lacks "$t" "logs lack token $n of 6 (${#t} characters)"
done
expect_log_lacks "$VERIFIER" "logs lack the PKCE code_verifier"
expect_log_lacks "user123" "logs lack the demo password"
if grep -Eq 'eyJ[A-Za-z0-9_-]{10,}\.eyJ' "$WORK"/*.log; then fail "no JWT-looking string in any log"; else pass "no JWT-looking string in any log"; fi

finish
