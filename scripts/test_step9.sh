#!/usr/bin/env bash
# Step 9: step9 verifies the Keycloak realm end to end and prints a table; every mismatch is a
# FAIL row, a "fix:" line and exit status 1; bad configuration stops it with a message that names
# the file or variable. Runs against real Keycloak (keycloak_lib.sh: the one at
# ${KEYCLOAK_URL:-http://localhost:8080}, else one started with scripts/keycloak.sh): the imported
# realm is verified; each kind of self-registration (RFC 7591) is replayed with its exact answer;
# refresh-token reuse and brute-force lockout are shown on the real realm; then the realm is
# broken on purpose through the Admin REST API (an audience mapper, the registration client
# policy, refresh-token rotation and brute-force detection removed), then deleted and created
# again with --apply.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"

build_once
use_keycloak
ISS="$KC_ISSUER"
AUD="http://localhost:9000/mcp"
# step9 reads the realm's brute-force and offline-session settings through the Admin REST API.
export KEYCLOAK_ADMIN_USER="$KC_ADMIN_USER" KEYCLOAK_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD"
# ... and checks that Keycloak accepts step 10's introspecting client with the realm file's secret.
INTRO_SECRET="$(jq -r '.clients[] | select(.clientId == "echo-mcp-server") | .secret' "$ROOT/env/keycloak/mcp-realm.json")"
export INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET"
# ROWS: how many rows a correct realm has.
ROWS=39

# step9 ARGS...: runs step9 (expect_exit does that); this one squeezes the table's padding so rows
# can be compared as single-spaced lines.
squeeze() { tr -s ' ' <"$WORK/exit.out" >"$WORK/exit.sq" && mv "$WORK/exit.sq" "$WORK/exit.out"; }
# expect_line LINE DESCRIPTION: the last output has exactly this (single-spaced) line.
expect_line() {
  if grep -Fxq -- "$1" "$WORK/exit.out"; then pass "$2"; else fail "$2: no line '$1'"; fi
}
expect_no_line() {
  if grep -Eq -- "$1" "$WORK/exit.out"; then fail "$2: found $(grep -E -- "$1" "$WORK/exit.out" | head -n 1)"; else pass "$2"; fi
}

section "a correct realm: every row ok, exit 0"
expect_exit 0 "step9 verifies the realm" "$BIN/step9" --wait 10
squeeze
expect_config "$WORK/exit.out" KEYCLOAK_URL "$KEYCLOAK_URL" environment "KEYCLOAK_URL from the environment"
expect_config "$WORK/exit.out" KEYCLOAK_REALM mcp-realm default "realm defaults to mcp-realm"
expect_config "$WORK/exit.out" JWT_ISSUER "$ISS" default "issuer derived from KEYCLOAK_URL and the realm"
expect_config "$WORK/exit.out" MCP_SERVER_URL http://localhost:9000 default "MCP_SERVER_URL defaults to http://localhost:9000"
expect_config "$WORK/exit.out" JWT_AUDIENCE "$AUD" default "audience defaults to <MCP_SERVER_URL>/mcp, the canonical resource URI"
expect_line "[1] waiting for Keycloak at $KEYCLOAK_URL (up to 10s)" "step [1] says where it waits for Keycloak"
expect_line "[2] verifying realm mcp-realm at $ISS" "step [2] (no --apply) says which realm it verifies"
expect_no_line '^\[3\]' "without --apply the steps are [1] and [2]"
expect_line "ok discovery issuer $ISS $ISS" "row: discovery issuer"
expect_line "ok PKCE S256 advertised yes yes" "row: PKCE S256 advertised"
expect_line "ok iss in authorization responses (RFC 9207) yes yes" "row: RFC 9207 iss advertised"
expect_line "ok client ID metadata documents (CIMD) yes yes" "row: CIMD advertised"
expect_output "^ok JWKS RS256 signing keys >= 1 [1-9][0-9]* at $ISS/protocol/openid-connect/certs\$" "row: JWKS has RS256 signing keys"
expect_config "$WORK/exit.out" KEYCLOAK_ADMIN_USER "$KC_ADMIN_USER" environment "KEYCLOAK_ADMIN_USER from the environment"
for shape in "loopback redirect + client_uri on another host" "https redirect on a permitted domain + loopback" \
  "private-use scheme (RFC 8252 7.1)"; do
  expect_line "ok registration: $shape HTTP 201 HTTP 201" "row: registration accepted: $shape"
done
for shape in "https redirect on another domain|403 invalid_request" "http redirect off loopback|403 invalid_request" \
  "redirect with a fragment|403 invalid_request" "wildcard redirect|403 invalid_request" \
  "javascript: redirect|400 A redirect URI uses an illegal scheme" "data: redirect|400 A redirect URI uses an illegal scheme" \
  "implicit grant|403 invalid_client_metadata" "password grant|403 invalid_client_metadata"; do
  code="${shape#*|}"; code="${code%% *}"
  expect_line "ok registration: ${shape%|*} HTTP $code HTTP ${shape#*|}" "row: registration refused: ${shape%|*} (${shape#*|})"
done
expect_line "ok registration: dpop_bound_access_tokens true HTTP 201, then 400 invalid_request DPoP proof is missing HTTP 201, then 400 invalid_request DPoP proof is missing" \
  "row: a client registered with dpop_bound_access_tokens gets no token without a DPoP proof (RFC 9449 §5.2)"
expect_line "ok registration: without dpop_bound_access_tokens HTTP 201, then 400 invalid_grant Invalid refresh token HTTP 201, then 400 invalid_grant Invalid refresh token" \
  "row: a client registered without it is not held to DPoP (MCP hosts without DPoP still get tokens)"
expect_line "ok agent mcp-agent-basic: client_credentials client; mcp:read mcp:tools; read-only tools client; mcp:read mcp:tools; read-only tools" \
  "row: the demo agent gets a client's token (client credentials): mcp:read mcp:tools, roles read-only tools"
expect_line "ok mcp-test-client: redirect URIs exact /callback 200, /other 400 /callback 200, /other 400" "row: mcp-test-client's redirect URIs are exact (any loopback port, only /callback)"
expect_line "ok refresh token reused HTTP 200, then 400 invalid_grant HTTP 200, then 400 invalid_grant" "row: a refresh token works once"
expect_line "ok brute-force detection on, lockout after <= 10 failures on, 5 failures, 60 s" "row: brute-force detection on (5 failures, 60 s)"
expect_line "ok offline sessions limited max lifespan on on, 5184000 s" "row: offline sessions end after 60 days"
expect_line "ok introspection client echo-mcp-server accepted (probe: active false) accepted" "row: Keycloak accepts step 10's introspecting client"
if grep -qF -- "$INTRO_SECRET" "$WORK/exit.out"; then fail "the introspection secret appears in step9's output"; else pass "the introspection secret appears nowhere in step9's output"; fi
expect_line "ok mcp-admin: token verifies (sig, iss, aud) valid valid" "row: mcp-admin token verifies"
expect_line "ok mcp-admin: MCP scopes mcp:prompts mcp:read mcp:tools mcp:prompts mcp:read mcp:tools" "row: mcp-admin MCP scopes"
expect_line "ok mcp-admin: azp mcp-test-client mcp-test-client" "row: mcp-admin azp"
expect_line "ok mcp-admin: echo-mcp-server roles prompts read-only tools prompts read-only tools" "row: mcp-admin roles"
expect_line "ok mcp-user: token verifies (sig, iss, aud) valid valid" "row: mcp-user token verifies"
expect_line "ok mcp-user: MCP scopes mcp:read mcp:tools mcp:read mcp:tools" "row: mcp-user MCP scopes"
expect_line "ok mcp-user: azp mcp-test-client mcp-test-client" "row: mcp-user azp"
expect_line "ok mcp-user: echo-mcp-server roles read-only tools read-only tools" "row: mcp-user roles"
expect_line "ok mcp-readonly: token verifies (sig, iss, aud) valid valid" "row: mcp-readonly token verifies"
expect_line "ok mcp-readonly: MCP scopes mcp:read mcp:read" "row: mcp-readonly MCP scopes"
expect_line "ok mcp-readonly: azp mcp-test-client mcp-test-client" "row: mcp-readonly azp"
expect_line "ok mcp-readonly: echo-mcp-server roles read-only read-only" "row: mcp-readonly roles"
for scope in mcp:read mcp:tools mcp:prompts; do
  expect_output "^ok $scope alone: aud contains $AUD ([^ ]+ )*${AUD//./\\.}( |\$)" "row: a token for $scope alone names $AUD in aud"
done
expect_no_line '^(FAIL|fix:)' "no FAIL row and no fix: line"
expect_line "$ROWS passed, 0 failed" "summary line: $ROWS passed, 0 failed"

section "--env env/keycloak_direct.env: the environment beats the file"
unset KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD INTROSPECTION_CLIENT_SECRET
# The file names Keycloak on :8080; KEYCLOAK_URL and JWT_ISSUER from the environment win.
JWT_ISSUER="$ISS" expect_exit 0 "env file + environment overrides verify the realm" \
  "$BIN/step9" --env env/keycloak_direct.env --wait 10
squeeze
expect_line " env file: env/keycloak_direct.env" "printout names the env file"
expect_config "$WORK/exit.out" KEYCLOAK_URL "$KEYCLOAK_URL" environment "KEYCLOAK_URL: environment beats the file"
expect_config "$WORK/exit.out" JWT_ISSUER "$ISS" environment "JWT_ISSUER: environment beats the file"
expect_config "$WORK/exit.out" KEYCLOAK_REALM mcp-realm "env file" "KEYCLOAK_REALM only in the file"
expect_config "$WORK/exit.out" JWT_AUDIENCE "$AUD" "env file" "JWT_AUDIENCE only in the file"
expect_config "$WORK/exit.out" KEYCLOAK_ADMIN_USER admin "env file" "KEYCLOAK_ADMIN_USER only in the file"
expect_config "$WORK/exit.out" KEYCLOAK_ADMIN_PASSWORD "(set)" "env file" "the admin password is printed as (set)"
expect_line "$ROWS passed, 0 failed" "summary line: $ROWS passed, 0 failed"

expect_exit 1 "without admin credentials the two settings rows cannot be read: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL brute-force detection read through the Admin REST API no admin credentials" "row: brute-force detection not checked without credentials is a FAIL, not a pass"
expect_line "fix: brute-force detection: set KEYCLOAK_ADMIN_USER and KEYCLOAK_ADMIN_PASSWORD (env/keycloak_direct.env has the demo ones) so step9 can read the realm's settings" \
  "fix line names the two variables"
expect_line "FAIL introspection client echo-mcp-server accepted (probe: active false) INTROSPECTION_CLIENT_SECRET not set" \
  "row: without INTROSPECTION_CLIENT_SECRET the introspection client is a FAIL, not a pass"
expect_line "$((ROWS - 3)) passed, 3 failed" "summary line: $((ROWS - 3)) passed, 3 failed"
INTROSPECTION_CLIENT_SECRET=not-the-secret expect_exit 1 "a wrong introspection secret: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL introspection client echo-mcp-server accepted (probe: active false) refused: HTTP 401 invalid_client" "row: Keycloak refuses a wrong secret (HTTP 401 invalid_client)"
export KEYCLOAK_ADMIN_USER="$KC_ADMIN_USER" KEYCLOAK_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD" INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET"

JWT_AUDIENCE=from-env expect_exit 0 "a flag beats the environment" \
  "$BIN/step9" --wait 10 --jwt-audience "$AUD"
squeeze
expect_config "$WORK/exit.out" JWT_AUDIENCE "$AUD" flag "JWT_AUDIENCE: flag beats the environment"

MCP_SERVER_URL=http://localhost:9555 expect_exit 1 "MCP_SERVER_URL=http://localhost:9555: the realm binds tokens to :9000" \
  "$BIN/step9" --wait 10
squeeze
expect_config "$WORK/exit.out" JWT_AUDIENCE http://localhost:9555/mcp default "the audience follows MCP_SERVER_URL"
expect_line "FAIL mcp-user: token verifies (sig, iss, aud) valid invalid_token: unexpected audience" "row: the token's audience is :9000's, not :9555's"

if [ "$KEYCLOAK_URL" != "http://localhost:8080" ]; then
  # Overriding KEYCLOAK_URL alone leaves the file's JWT_ISSUER (…:8080…) in force: a mismatch.
  expect_exit 1 "KEYCLOAK_URL overridden but the file's JWT_ISSUER kept: exit 1" \
    "$BIN/step9" --env env/keycloak_direct.env --wait 10
  squeeze
  expect_config "$WORK/exit.out" JWT_ISSUER http://localhost:8080/realms/mcp-realm "env file" "JWT_ISSUER still from the file"
  expect_line "FAIL discovery issuer http://localhost:8080/realms/mcp-realm $ISS" "row: discovery issuer FAIL (expected vs actual)"
  expect_output "^fix: discovery issuer: set JWT_ISSUER to Keycloak's issuer" "fix line names JWT_ISSUER"
fi

section "mismatches: FAIL rows, fix: lines, exit 1"
expect_exit 1 "--jwt-audience wrong-aud: exit 1" "$BIN/step9" --wait 10 --jwt-audience wrong-aud
squeeze
for user in mcp-admin mcp-user mcp-readonly; do
  expect_line "FAIL $user: token verifies (sig, iss, aud) valid invalid_token: unexpected audience" "row: $user token refused for its audience"
  expect_output "^fix: $user: token verifies \\(sig, iss, aud\\): .*JWT_AUDIENCE" "fix line for $user names JWT_AUDIENCE"
done
for scope in mcp:read mcp:tools mcp:prompts; do
  expect_output "^FAIL $scope alone: aud contains wrong-aud " "row: $scope alone FAIL for wrong-aud"
done
expect_output "^FAIL agent mcp-agent-basic: client_credentials client; mcp:read mcp:tools; read-only tools HTTP 400 The requested resource is invalid, missing, unknown, or malformed\.\$" \
  "row: the agent's resource wrong-aud refused by Keycloak (invalid_target)"
expect_line "fix: agent mcp-agent-basic: client_credentials: Keycloak refuses the resource wrong-aud: JWT_AUDIENCE must be the resource_url of echo-mcp-server in the realm (RFC 8707)" \
  "fix line for the agent names JWT_AUDIENCE and resource_url"
expect_line "$((ROWS - 16)) passed, 7 failed" "summary line: $((ROWS - 16)) passed, 7 failed (a refused token skips its three detail rows)"

expect_exit 1 "--jwt-issuer http://localhost:1/realms/x: exit 1" "$BIN/step9" --wait 10 --jwt-issuer http://localhost:1/realms/x
squeeze
expect_line "FAIL discovery issuer http://localhost:1/realms/x $ISS" "row: discovery issuer FAIL"
expect_output "^fix: discovery issuer: set JWT_ISSUER to Keycloak's issuer" "fix line names JWT_ISSUER"
expect_output "^[0-9]+ passed, [1-9][0-9]* failed\$" "summary line counts the failures"

expect_exit 1 "--keycloak-realm no-such-realm: exit 1" "$BIN/step9" --wait 10 --keycloak-realm no-such-realm
squeeze
expect_output "^FAIL discovery document HTTP 200 JSON GET .*/realms/no-such-realm/\\.well-known/openid-configuration: HTTP 404" "row: discovery document FAIL with HTTP 404"
expect_output "^fix: discovery document: start Keycloak with the realm imported" "fix line says how to get the realm"
expect_line "0 passed, 1 failed" "summary line: 0 passed, 1 failed"

section "bad configuration stops step9 with a message naming the file or variable"
expect_exit nonzero "--env /nonexistent.env" "$BIN/step9" --env /nonexistent.env --wait 1
expect_output "env file /nonexistent.env: No such file or directory" "message names the env file"
expect_no_line "^\\[1\\] waiting" "nothing is contacted with a missing env file"
KEYCLOAK_URL=notaurl expect_exit nonzero "KEYCLOAK_URL=notaurl" "$BIN/step9" --wait 1
expect_output 'KEYCLOAK_URL: "notaurl" is not valid' "message names KEYCLOAK_URL"
KEYCLOAK_URL=localhost:8080 expect_exit nonzero "KEYCLOAK_URL=localhost:8080 (no scheme)" "$BIN/step9" --wait 1
expect_output 'KEYCLOAK_URL: "localhost:8080" is not valid: the scheme must be http or https' "message says it must be an http(s) URL"

section "Keycloak not answering: a clear message within the --wait deadline"
closed="$(free_port)"
started=$SECONDS
KEYCLOAK_URL="http://127.0.0.1:$closed" expect_exit nonzero "nothing listening on :$closed, --wait 2" "$BIN/step9" --wait 2
elapsed=$((SECONDS - started))
expect_output "^Error: http://127\\.0\\.0\\.1:$closed did not answer within 2s" "message names the URL and the deadline"
if [ "$elapsed" -le 6 ]; then pass "gave up after ${elapsed}s (deadline 2 s)"; else fail "gave up after ${elapsed}s, expected about 2 s"; fi

section "--apply needs admin credentials"
unset KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD
expect_exit nonzero "--apply without KEYCLOAK_ADMIN_USER / KEYCLOAK_ADMIN_PASSWORD" "$BIN/step9" --wait 10 --apply
expect_output "KEYCLOAK_ADMIN_USER and KEYCLOAK_ADMIN_PASSWORD \\(for --apply\\)" "message names KEYCLOAK_ADMIN_USER"
expect_no_line "^\\[[0-9]+\\] verifying" "no verification after the refusal"
KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD=not-the-password-step9 expect_exit nonzero \
  "--apply with a wrong admin password" "$BIN/step9" --wait 10 --apply
expect_output "admin login failed \\(HTTP 400 Bad Request\\): check KEYCLOAK_ADMIN_USER / KEYCLOAK_ADMIN_PASSWORD" "the admin login failure names its status and the two variables"
expect_no_line "not-the-password-step9" "the admin password never appears in the output"

KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD=admin expect_exit nonzero "--apply with a missing realm file" \
  "$BIN/step9" --wait 10 --apply --realm-file "$WORK/no-such-realm.json"
expect_output "realm file $WORK/no-such-realm\\.json: No such file or directory" "message names the realm file"
KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD=admin expect_exit nonzero "--apply with the file for another realm" \
  "$BIN/step9" --wait 10 --apply --keycloak-realm other-realm
expect_output 'defines realm "mcp-realm", but KEYCLOAK_REALM is "other-realm"' "message names both realms"
export KEYCLOAK_ADMIN_USER="$KC_ADMIN_USER" KEYCLOAK_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD"

section "self-registration, one shape at a time (RFC 7591, anonymous, as an MCP host sends it)"
REG="$ISS/clients-registrations/openid-connect"
# register NAME JSON: POSTs the metadata; sets STATUS and $BODY; deletes a registered client again.
register() {
  request POST "$REG" -H 'Content-Type: application/json' --data "$2"
  if [ "$STATUS" = 201 ]; then
    local uri token
    uri="$(jq -r .registration_client_uri "$BODY")"; token="$(jq -r .registration_access_token "$BODY")"
    cp "$BODY" "$WORK/registered-$1.json"
    curl -sS -o /dev/null --max-time 10 -X DELETE -H "Authorization: Bearer $token" "$uri"
  fi
}
base='"client_name":"shape test (safe to delete)","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"]'
# An MCP host's registration: mcp-remote 0.15.1's body, captured from the real client.
register mcp-remote '{"redirect_uris":["http://localhost:22926/oauth/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"MCP CLI Proxy","client_uri":"https://github.com/modelcontextprotocol/mcp-cli","software_id":"2e6dc280-f3c3-4e01-99a7-8181dbd1d23d","software_version":"0.15.1","scope":"mcp:read mcp:tools mcp:prompts offline_access","application_type":"native"}'
expect_status 201 "mcp-remote's registration (loopback redirect, client_uri on github.com): 201"
expect_jq '.redirect_uris == ["http://localhost:22926/oauth/callback"] and .client_uri == "https://github.com/modelcontextprotocol/mcp-cli"' \
  "its redirect URI and client_uri are kept as sent"
expect_jq '.token_endpoint_auth_method == "none" and (.grant_types | index("implicit") == null and index("password") == null)' \
  "public client: no secret, no implicit or password grant"
register all-informational "{$base,\"redirect_uris\":[\"http://127.0.0.1:33418/callback\"],\"client_uri\":\"https://example.com/app\",\"logo_uri\":\"https://cdn.example.net/logo.png\",\"policy_uri\":\"https://example.org/privacy\",\"tos_uri\":\"https://example.org/tos\"}"
expect_status 201 "client_uri, logo_uri, policy_uri and tos_uri on three other hosts: 201 (informational)"
for shape in 'editor: https://vscode.dev/redirect + http://127.0.0.1:33418|"https://vscode.dev/redirect","http://127.0.0.1:33418"' \
  'private-use scheme cursor://anysphere.cursor-retrieval/oauth/callback|"cursor://anysphere.cursor-retrieval/oauth/callback"' \
  'hosted assistant: https://claude.ai/api/mcp/auth_callback|"https://claude.ai/api/mcp/auth_callback"' \
  'IPv6 loopback http://[::1]:33418/callback|"http://[::1]:33418/callback"'; do
  register shape "{$base,\"redirect_uris\":[${shape#*|}]}"
  expect_status 201 "${shape%%|*}: 201"
done
for shape in 'https://evil.example/callback (another domain)|"https://evil.example/callback"|invalid_request' \
  'https://vscode.dev.attacker.example/redirect (a look-alike domain)|"https://vscode.dev.attacker.example/redirect"|invalid_request' \
  'http://evil.example/callback (http off loopback)|"http://evil.example/callback"|invalid_request' \
  'http://127.0.0.1.evil.example/cb (a loopback look-alike)|"http://127.0.0.1.evil.example/cb"|invalid_request' \
  'http://127.0.0.1:33418/callback#x (a fragment)|"http://127.0.0.1:33418/callback#x"|invalid_request' \
  'http://127.0.0.1/* (a wildcard)|"http://127.0.0.1/*"|invalid_request' \
  'https://vscode.dev/* (a wildcard on a permitted domain)|"https://vscode.dev/*"|invalid_request'; do
  what="${shape%%|*}"; rest="${shape#*|}"; uris="${rest%|*}"; err="${rest##*|}"
  register refused "{$base,\"redirect_uris\":[$uris]}"
  expect_status 403 "$what: 403"
  expect_jq ". == {\"error\":\"insufficient_scope\",\"error_description\":\"$err\"}" "$what: insufficient_scope, $err"
done
for shape in 'javascript:alert(1)|"javascript:alert(1)"' 'data:text/html,hi|"data:text/html,hi"'; do
  register refused "{$base,\"redirect_uris\":[${shape#*|}]}"
  expect_status 400 "${shape%%|*}: 400 (Keycloak's own scheme check)"
  expect_jq '. == {"error":"invalid_redirect_uri","error_description":"A redirect URI uses an illegal scheme"}' "${shape%%|*}: invalid_redirect_uri, A redirect URI uses an illegal scheme"
done
# The known limit (docs/step09-keycloak.md): one allow-http-scheme switch serves loopback and the
# permitted domains alike, so http on a permitted domain is accepted.
register http-permitted "{$base,\"redirect_uris\":[\"http://vscode.dev/redirect\"]}"
expect_status 201 "http://vscode.dev/redirect (http on a permitted domain): 201, the known limit"
register implicit '{"client_name":"shape test","token_endpoint_auth_method":"none","grant_types":["implicit"],"response_types":["token"],"redirect_uris":["http://127.0.0.1:33418/callback"]}'
expect_status 403 "the implicit grant (response_types token): 403"
expect_jq '. == {"error":"insufficient_scope","error_description":"invalid_client_metadata"}' "implicit grant: insufficient_scope, invalid_client_metadata"
register password '{"client_name":"shape test","token_endpoint_auth_method":"none","grant_types":["password"],"response_types":["code"],"redirect_uris":["http://127.0.0.1:33418/callback"]}'
expect_status 403 "the password grant: 403"
expect_jq '. == {"error":"insufficient_scope","error_description":"invalid_client_metadata"}' "password grant: insufficient_scope, invalid_client_metadata"
kc_admin GET "/admin/realms/$KC_REALM/clients?first=0&max=1000" >"$WORK/left.json"
if jq -e 'length > 2 and ([.[] | select((.name // "") | startswith("shape test") or . == "MCP CLI Proxy")] | length) == 0' "$WORK/left.json" >/dev/null; then
  pass "no client of these requests is left in the realm: nothing refused was created, the accepted ones were deleted again"
else fail "clients left over: $(jq -c '[.[] | select((.name // "") | startswith("shape test") or . == "MCP CLI Proxy") | .name]' "$WORK/left.json")"; fi

section "a refresh token works once (rotation), on the real realm"
request POST "$ISS/protocol/openid-connect/token" -d grant_type=password -d client_id=mcp-test-client \
  -d username=mcp-readonly -d password=readonly123 -d scope=openid
expect_status 200 "password grant for mcp-readonly"
RT="$(jq -r .refresh_token "$BODY")"
request POST "$ISS/protocol/openid-connect/token" -d grant_type=refresh_token -d client_id=mcp-test-client --data-urlencode "refresh_token=$RT"
expect_status 200 "the refresh token, first use: 200"
expect_jq '.refresh_token | type == "string"' "a new refresh token comes with it"
request POST "$ISS/protocol/openid-connect/token" -d grant_type=refresh_token -d client_id=mcp-test-client --data-urlencode "refresh_token=$RT"
expect_status 400 "the same refresh token, second use: 400"
expect_jq '. == {"error":"invalid_grant","error_description":"Maximum allowed refresh token reuse exceeded"}' \
  "invalid_grant: Maximum allowed refresh token reuse exceeded"

section "brute-force detection locks an account (a user made for this test)"
R="/admin/realms/$KC_REALM"
kc_admin POST "$R/users" '{"username":"lockout-probe","enabled":true,"emailVerified":true,"firstName":"Lockout","lastName":"Probe","email":"lockout-probe@example.com","credentials":[{"type":"password","value":"probe-password-1","temporary":false}]}' >/dev/null
expect_eq "$KC_STATUS" 201 "Admin REST API: user lockout-probe created (HTTP 201)"
PROBE_ID="$(kc_admin GET "$R/users?username=lockout-probe&exact=true" | jq -r '.[0].id')"
AT_EXIT+=("kc_admin DELETE '$R/users/$PROBE_ID' >/dev/null")
probe() {
  request POST "$ISS/protocol/openid-connect/token" -d grant_type=password -d client_id=mcp-test-client \
    -d username=lockout-probe --data-urlencode "password=$1" -d scope=openid
}
probe probe-password-1
expect_status 200 "the right password works before any failure"
for i in 1 2 3 4 5; do probe "wrong-$i"; sleep 1.1; done
expect_status 400 "wrong password: 400"
expect_jq '. == {"error":"invalid_grant","error_description":"Invalid user credentials"}' "wrong password: invalid_grant, Invalid user credentials"
probe probe-password-1
expect_status 400 "after 5 failures the right password is refused too: 400"
expect_jq '. == {"error":"invalid_grant","error_description":"Invalid user credentials"}' "the answer does not say the account is locked (no hint for the guesser)"
kc_admin GET "$R/attack-detection/brute-force/users/$PROBE_ID" >"$WORK/lock.json"
if jq -e '.disabled == true and .numFailures == 5 and (.failedLoginNotBefore - (.lastFailure / 1000 | floor)) == 60' "$WORK/lock.json" >/dev/null; then
  pass "attack detection: disabled, 5 failures, locked for 60 s after the last one (waitIncrementSeconds)"
else fail "attack detection status: $(cat "$WORK/lock.json")"; fi
kc_admin DELETE "$R/attack-detection/brute-force/users/$PROBE_ID" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the lockout cleared (HTTP 204)"
probe probe-password-1
expect_status 200 "the right password works again once an administrator clears the lockout"

section "a realm that binds every self-registered client to DPoP (dpop-bind-enforcer in mcp-dcr): the FAIL row and its fix line"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/client-policies/profiles" >"$WORK/profiles.json"
jq -c '.profiles |= map(if .name == "mcp-dcr" then .executors += [{"executor": "dpop-bind-enforcer", "configuration": {"auto-configure": "true"}}] else . end)' \
  "$WORK/profiles.json" >"$WORK/profiles-dpop.json"
kc_admin PUT "$R/client-policies/profiles" "$(cat "$WORK/profiles-dpop.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: dpop-bind-enforcer (auto-configure) added to the profile mcp-dcr (HTTP 204)"
expect_exit 1 "step9 with every self-registered client bound to DPoP: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL registration: without dpop_bound_access_tokens HTTP 201, then 400 invalid_grant Invalid refresh token HTTP 201, then 400 invalid_request DPoP proof is missing" \
  "row: a client that did not ask for DPoP is held to it anyway"
expect_line "fix: registration: without dpop_bound_access_tokens: remove the executor dpop-bind-enforcer from the client profile mcp-dcr: it binds every self-registered client, and MCP hosts without DPoP (the Inspector, mcp-remote) could no longer get a token; DPoP clients ask for it with dpop_bound_access_tokens" \
  "fix line names the executor and the profile"
expect_output "^ok registration: dpop_bound_access_tokens true " "row: the DPoP client is still bound"
expect_line "$((ROWS - 1)) passed, 1 failed" "summary line: $((ROWS - 1)) passed, 1 failed"
kc_admin PUT "$R/client-policies/profiles" "$(jq -c . "$WORK/profiles.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the profile restored (HTTP 204)"

section "an agent whose service account lost the tools role: the FAIL row and its fix line"
SA_ID="$(kc_admin GET "$R/clients?clientId=mcp-agent-basic" | jq -r '.[0].id')"
SA_USER="$(kc_admin GET "$R/clients/$SA_ID/service-account-user" | jq -r '.id')"
ECHO_ID="$(kc_admin GET "$R/clients?clientId=echo-mcp-server" | jq -r '.[0].id')"
TOOLS_ROLE="$(kc_admin GET "$R/clients/$ECHO_ID/roles/tools")"
kc_admin DELETE "$R/users/$SA_USER/role-mappings/clients/$ECHO_ID" "[$TOOLS_ROLE]" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the tools role taken from mcp-agent-basic's service account (HTTP 204)"
expect_exit 1 "step9 with the agent's tools role gone: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL agent mcp-agent-basic: client_credentials client; mcp:read mcp:tools; read-only tools client; mcp:read; read-only" \
  "row: the agent's token lacks mcp:tools and the tools role"
expect_output "^fix: agent mcp-agent-basic: client_credentials: the realm needs the client mcp-agent-basic as env/keycloak/mcp-realm.json has it: a service account holding echo-mcp-server's read-only and tools roles" \
  "fix line names the service account's roles"
expect_line "$((ROWS - 1)) passed, 1 failed" "summary line: $((ROWS - 1)) passed, 1 failed"
kc_admin POST "$R/users/$SA_USER/role-mappings/clients/$ECHO_ID" "[$TOOLS_ROLE]" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the role given back (HTTP 204)"

section "a realm broken on purpose (Admin REST API): FAIL rows and the exact fix lines"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/client-scopes" >"$WORK/scopes.json"
TOOLS_ID="$(jq -r '.[] | select(.name == "mcp:tools") | .id' "$WORK/scopes.json")"
kc_admin GET "$R/client-scopes/$TOOLS_ID/protocol-mappers/models" >"$WORK/mappers.json"
MAPPER_ID="$(jq -r --arg aud "$AUD" '.[] | select(.protocolMapper == "oidc-audience-mapper" and .config["included.custom.audience"] == $aud) | .id' "$WORK/mappers.json")"
if [ -n "$MAPPER_ID" ]; then pass "mcp:tools has an Audience mapper for $AUD"; else fail "no Audience mapper for $AUD on mcp:tools"; fi
kc_admin DELETE "$R/client-scopes/$TOOLS_ID/protocol-mappers/models/$MAPPER_ID" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the mapper is deleted (HTTP 204)"
expect_exit 1 "step9 with mcp:tools' audience mapper gone: exit 1" "$BIN/step9" --wait 10
squeeze
expect_output "^FAIL mcp:tools alone: aud contains $AUD echo-mcp-server\$" "row: a token for mcp:tools alone lacks $AUD"
expect_line "fix: mcp:tools alone: aud contains: the client scope mcp:tools needs an Audience mapper with included.custom.audience = $AUD (JWT_AUDIENCE)" "fix line names the scope, the mapper and the audience"
expect_output "^ok mcp:read alone: aud contains" "mcp:read, still mapped, is ok"
expect_line "$((ROWS - 1)) passed, 1 failed" "summary line: $((ROWS - 1)) passed, 1 failed"

kc_admin GET "$R/client-policies/policies" >"$WORK/policies.json"
if jq -e '.policies | map(.name) | index("mcp-dcr") != null' "$WORK/policies.json" >/dev/null; then pass "the realm applies the client policy mcp-dcr"; else fail "no client policy mcp-dcr: $(head -c 300 "$WORK/policies.json")"; fi
kc_admin PUT "$R/client-policies/policies" "$(jq -c '.policies |= map(select(.name != "mcp-dcr"))' "$WORK/policies.json")" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the policy mcp-dcr is removed (HTTP 204)"
realm_json="$(kc_admin GET "$R")"
kc_admin PUT "$R" '{"revokeRefreshToken":false,"bruteForceProtected":false}' >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: refresh-token rotation and brute-force detection off (HTTP 204)"
expect_exit 1 "step9 with the policy, rotation and brute-force detection gone too: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL registration: https redirect on another domain HTTP 403 HTTP 201" "row: a registration for https://evil.example is accepted (201)"
expect_line "FAIL registration: wildcard redirect HTTP 403 HTTP 201" "row: a wildcard redirect is accepted (201)"
expect_line "FAIL registration: implicit grant HTTP 403 HTTP 201" "row: an implicit-grant registration is accepted (201)"
expect_line "FAIL registration: password grant HTTP 403 HTTP 201" "row: a password-grant registration is accepted (201)"
expect_line "fix: registration: https redirect on another domain: apply the client policy mcp-dcr (profile mcp-dcr: secure-redirect-uris-enforcer, reject-implicit-grant, reject-ropc-grant) to anonymous registrations, as env/keycloak/mcp-realm.json does" \
  "fix line names the client policy and its executors"
expect_line "FAIL refresh token reused HTTP 200, then 400 invalid_grant HTTP 200, then 200 -" "row: a refresh token reused is accepted (200)"
expect_line "fix: refresh token reused: rotate refresh tokens: revokeRefreshToken true and refreshTokenMaxReuse 0 in the realm" "fix line names revokeRefreshToken"
expect_line "FAIL brute-force detection on, lockout after <= 10 failures off, 5 failures, 60 s" "row: brute-force detection off"
expect_line "fix: brute-force detection: set bruteForceProtected true, failureFactor 5, waitIncrementSeconds 60, maxFailureWaitSeconds 900 (permanentLockout false) in the realm" \
  "fix line names the brute-force settings"
kc_admin PUT "$R" "$(printf '%s' "$realm_json" | jq -c '{revokeRefreshToken, bruteForceProtected}')" >/dev/null
kc_admin PUT "$R/client-policies/policies" "$(cat "$WORK/policies.json")" >/dev/null

section "--apply in a Keycloak without the realm: creates it from the file; a second run changes nothing"
kc_admin DELETE "$R" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the broken realm is deleted (HTTP 204)"
expect_exit 1 "step9 without the realm: exit 1" "$BIN/step9" --wait 10
squeeze
expect_output "^FAIL discovery document HTTP 200 JSON GET .*/realms/$KC_REALM/\\.well-known/openid-configuration: HTTP 404" "row: no discovery document (HTTP 404)"
export KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD=admin
expect_exit 0 "step9 --apply creates the realm and verifies it" "$BIN/step9" --wait 10 --apply
squeeze
expect_line "[2] created realm $KC_REALM from env/keycloak/mcp-realm.json" "step [2] says the realm was created from the file"
expect_line "[3] verifying realm $KC_REALM at $ISS" "step [3] verifies it"
expect_line "$ROWS passed, 0 failed" "the created realm passes every row"
expect_exit 0 "step9 --apply again" "$BIN/step9" --wait 10 --apply
squeeze
expect_line "[2] realm $KC_REALM already exists; left unchanged" "a second --apply changes nothing"
expect_line "$ROWS passed, 0 failed" "and the realm still passes every row"
unset KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD
echo "  (tested against Keycloak $KC_VERSION)"

finish
