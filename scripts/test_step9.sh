#!/usr/bin/env bash
# Step 9: step9 verifies the Keycloak realm end to end and prints a table; every mismatch is a
# FAIL row, a "fix:" line and exit status 1; bad configuration stops it with a message that names
# the file or variable. Runs against real Keycloak (keycloak_lib.sh: the one at
# ${KEYCLOAK_URL:-http://localhost:8080}, else one started with scripts/keycloak.sh): the imported
# realm is verified, then broken on purpose through the Admin REST API (an audience mapper and
# the Trusted Hosts policy removed), then deleted and created again with --apply.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/keycloak_lib.sh
source "$(dirname "$0")/keycloak_lib.sh"

build_once
use_keycloak
ISS="$KC_ISSUER"
AUD="http://localhost:9000/mcp"

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
expect_line "ok anonymous registration (loopback redirect) HTTP 201 with client_id HTTP 201" "row: anonymous registration accepted for a loopback redirect"
expect_line "ok registration refused (foreign redirect) HTTP 4xx HTTP 403" "row: registration refused for https://evil.example (403)"
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
expect_line "22 passed, 0 failed" "summary line: 22 passed, 0 failed"

section "--env env/keycloak_direct.env: the environment beats the file"
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
expect_line "22 passed, 0 failed" "summary line: 22 passed, 0 failed"

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
expect_line "7 passed, 6 failed" "summary line: 7 passed, 6 failed"

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
expect_line "21 passed, 1 failed" "summary line: 21 passed, 1 failed"

kc_admin GET "$R/components?type=org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy" >"$WORK/policies.json"
TRUSTED_ID="$(jq -r '.[] | select(.providerId == "trusted-hosts" and .subType == "anonymous") | .id' "$WORK/policies.json")"
if [ -n "$TRUSTED_ID" ]; then pass "the realm has an anonymous Trusted Hosts registration policy"; else fail "no anonymous Trusted Hosts policy"; fi
kc_admin DELETE "$R/components/$TRUSTED_ID" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: the Trusted Hosts policy is deleted (HTTP 204)"
expect_exit 1 "step9 with the Trusted Hosts policy gone too: exit 1" "$BIN/step9" --wait 10
squeeze
expect_line "FAIL registration refused (foreign redirect) HTTP 4xx HTTP 201" "row: a registration for https://evil.example is accepted (201)"
expect_line "fix: registration refused (foreign redirect): the Trusted Hosts policy must check client URIs (client-uris-must-match = true)" "fix line names the Trusted Hosts policy"
expect_line "20 passed, 2 failed" "summary line: 20 passed, 2 failed (both breakages)"

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
expect_line "22 passed, 0 failed" "the created realm passes every row"
expect_exit 0 "step9 --apply again" "$BIN/step9" --wait 10 --apply
squeeze
expect_line "[2] realm $KC_REALM already exists; left unchanged" "a second --apply changes nothing"
expect_line "22 passed, 0 failed" "and the realm still passes every row"
unset KEYCLOAK_ADMIN_USER KEYCLOAK_ADMIN_PASSWORD
echo "  (tested against Keycloak $KC_VERSION)"

finish
