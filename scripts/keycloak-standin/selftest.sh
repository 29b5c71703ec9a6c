#!/usr/bin/env bash
# Self-test of the Keycloak stand-in: starts it on a free port, checks what the
# tutorial relies on (discovery, JWKS, password-grant tokens per user, anonymous
# registration policies, authorization code + PKCE, client credentials), prints
# "N passed, M failed" and exits non-zero on any failure.
#
#   bash scripts/keycloak-standin/selftest.sh
#
# Needs node (>= 20.19), curl, jq (1.6 is enough) and openssl; runs `npm ci` first
# when node_modules is missing. Kills only the processes it started.

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REALM_FILE="${REALM_FILE:-$HERE/../../env/keycloak/mcp-realm.json}"
WORK="$(mktemp -d)"
PIDS=()
PASS=0
FAIL=0

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); printf 'ok   %s\n' "$1"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$1"; [ -n "${2:-}" ] && printf '     %s\n' "$2"; }
# check NAME JQ_FILTER FILE: passes when the jq filter is true for FILE
# jq -e on a non-empty file (the file is the last argument): jq 1.6 -e passes on empty input.
jq_file_e() { [ -s "${*: -1}" ] && jq -e "$@"; }
check() {
  if [ -s "$3" ] && jq -e "$2" "$3" >/dev/null 2>&1; then ok "$1"; else fail "$1" "$(head -c 400 "$3" 2>/dev/null)"; fi
}
b64url_decode() {
  local s
  s="$(printf '%s' "$1" | tr '_-' '/+')"
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d 2>/dev/null
}
jwt_part() { b64url_decode "$(printf '%s' "$1" | cut -d. -f"$2")"; }

for tool in node curl jq openssl; do
  command -v "$tool" >/dev/null || { echo "selftest: $tool is required" >&2; exit 2; }
done
if [ ! -d "$HERE/node_modules/oidc-provider" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "selftest: npm ci failed" >&2; exit 2; }
fi

# start NAME ARGS...: starts the stand-in on port 0, sets PORT from its one stdout line.
start() {
  local name="$1"; shift
  node "$HERE/server.mjs" --port 0 --realm-file "$REALM_FILE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  local i
  for i in $(seq 1 100); do
    if grep -q '^listening on ' "$WORK/$name.out" 2>/dev/null; then break; fi
    sleep 0.1
  done
  PORT="$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$WORK/$name.out")"
  if [ -z "$PORT" ]; then
    echo "selftest: the stand-in ($name) did not start:" >&2
    cat "$WORK/$name.err" >&2
    exit 1
  fi
}

start main --auto-login mcp-user
BASE="http://localhost:$PORT"
REALM="$BASE/realms/mcp-realm"
OIDC="$REALM/protocol/openid-connect"
ISSUER="$REALM"

# ------------------------------------------------------------ start-up
if [ "$(wc -l <"$WORK/main.out")" -eq 1 ] && grep -qx "listening on http://127.0.0.1:$PORT" "$WORK/main.out"; then
  ok "stdout is exactly one 'listening on' line"
else
  fail "stdout is exactly one 'listening on' line" "$(cat "$WORK/main.out")"
fi

# ----------------------------------------------------------- discovery
curl -s "$REALM/.well-known/openid-configuration" >"$WORK/disc.json"
check "discovery: issuer is <public url>/realms/mcp-realm" ".issuer == \"$ISSUER\"" "$WORK/disc.json"
check "discovery: Keycloak endpoint paths" \
  ".token_endpoint == \"$OIDC/token\" and .authorization_endpoint == \"$OIDC/auth\" and .jwks_uri == \"$OIDC/certs\" and .userinfo_endpoint == \"$OIDC/userinfo\" and .registration_endpoint == \"$REALM/clients-registrations/openid-connect\"" \
  "$WORK/disc.json"
check "discovery: S256 in code_challenge_methods_supported" '.code_challenge_methods_supported | index("S256") != null' "$WORK/disc.json"
check "discovery: grant types" \
  '[.grant_types_supported[]] as $g | all(("authorization_code","refresh_token","client_credentials","password"); . as $x | $g | index($x) != null)' \
  "$WORK/disc.json"
check "discovery: token endpoint auth methods include none and client_secret_basic" \
  '(.token_endpoint_auth_methods_supported | index("none") != null) and (.token_endpoint_auth_methods_supported | index("client_secret_basic") != null)' \
  "$WORK/disc.json"
check "discovery: MCP scopes in scopes_supported" \
  '[.scopes_supported[]] as $s | all(("openid","mcp:read","mcp:tools","mcp:prompts"); . as $x | $s | index($x) != null)' \
  "$WORK/disc.json"

code=$(curl -s -o "$WORK/as.json" -w '%{http_code}' "$BASE/.well-known/oauth-authorization-server/realms/mcp-realm")
if [ "$code" = 200 ] && jq_file_e ".issuer == \"$ISSUER\"" "$WORK/as.json" >/dev/null; then
  ok "RFC 8414 metadata at /.well-known/oauth-authorization-server/realms/mcp-realm"
else
  fail "RFC 8414 metadata at /.well-known/oauth-authorization-server/realms/mcp-realm" "HTTP $code"
fi
code=$(curl -s -o "$WORK/as2.json" -w '%{http_code}' "$REALM/.well-known/oauth-authorization-server")
if [ "$code" = 200 ] && jq_file_e ".issuer == \"$ISSUER\"" "$WORK/as2.json" >/dev/null; then
  ok "RFC 8414 metadata at /realms/mcp-realm/.well-known/oauth-authorization-server"
else
  fail "RFC 8414 metadata at /realms/mcp-realm/.well-known/oauth-authorization-server" "HTTP $code"
fi

# ---------------------------------------------------------------- JWKS
curl -s "$OIDC/certs" >"$WORK/jwks.json"
check "JWKS: one RS256 signing key with kid, n, e" \
  '[.keys[] | select(.use == "sig" and .alg == "RS256" and .kty == "RSA" and (.kid|length) > 0 and (.n|length) > 300 and .e == "AQAB")] | length == 1' \
  "$WORK/jwks.json"
check "JWKS: an encryption key (use enc) as Keycloak publishes" '[.keys[] | select(.use == "enc")] | length == 1' "$WORK/jwks.json"
check "JWKS: no private members" '[.keys[] | has("d") or has("p") or has("q")] | any | not' "$WORK/jwks.json"
curl -s "$OIDC/certs" >/dev/null
curl -s "$OIDC/certs" >"$WORK/jwks3.json"
check "JWKS: the same set on the third fetch (no key added per request)" \
  "(.keys | length == 2) and ([.keys[].kid] | unique | length == 2)" "$WORK/jwks3.json"

# ---------------------------------------------------- password grant
# password_token USER PASSWORD SCOPE -> writes $WORK/tok-USER.json and .hdr/.claims
password_token() {
  curl -s -o "$WORK/tok-$1.json" -w '%{http_code}' "$OIDC/token" \
    -d grant_type=password -d client_id=mcp-test-client \
    --data-urlencode "username=$1" --data-urlencode "password=$2" \
    --data-urlencode "scope=$3" --data-urlencode "resource=http://localhost:9000/mcp"
}
SIG_KID="$(jq -r '.keys[] | select(.use == "sig") | .kid' "$WORK/jwks.json")"

# user password expected-mcp-scopes expected-client-roles expected-realm-roles
while read -r user password scopes roles realm_roles; do
  code=$(password_token "$user" "$password" "openid mcp:read mcp:tools mcp:prompts")
  if [ "$code" != 200 ]; then fail "$user: password grant answers 200" "HTTP $code $(cat "$WORK/tok-$user.json")"; continue; fi
  ok "$user: password grant answers 200"
  at="$(jq -r .access_token "$WORK/tok-$user.json")"
  jwt_part "$at" 1 >"$WORK/$user.hdr"
  jwt_part "$at" 2 >"$WORK/$user.claims"
  check "$user: header alg RS256, typ JWT, kid of the JWKS signing key" \
    ".alg == \"RS256\" and .typ == \"JWT\" and .kid == \"$SIG_KID\"" "$WORK/$user.hdr"
  want_scopes="$(printf '%s' "$scopes" | tr ',' '\n' | jq -R . | jq -sc 'sort')"
  check "$user: MCP scopes exactly $scopes" \
    "([.scope | split(\" \")[] | select(startswith(\"mcp:\"))] | sort) == $want_scopes" "$WORK/$user.claims"
  check "$user: token response scope equals the scope claim" \
    ".scope == \"$(jq -r .scope "$WORK/$user.claims")\"" "$WORK/tok-$user.json"
  check "$user: iss, azp, typ, sub, preferred_username" \
    ".iss == \"$ISSUER\" and .azp == \"mcp-test-client\" and .typ == \"Bearer\" and (.sub|length) == 36 and .preferred_username == \"$user\"" \
    "$WORK/$user.claims"
  check "$user: aud contains echo-mcp-server" \
    '(.aud | if type == "array" then . else [.] end) | index("echo-mcp-server") != null' "$WORK/$user.claims"
  want_roles="$(printf '%s' "$roles" | tr ',' '\n' | jq -R . | jq -sc 'sort')"
  check "$user: resource_access.echo-mcp-server.roles = $roles" \
    "(.resource_access[\"echo-mcp-server\"].roles | sort) == $want_roles" "$WORK/$user.claims"
  if [ "$realm_roles" = "-" ]; then
    check "$user: no realm roles" '(.realm_access.roles // []) == []' "$WORK/$user.claims"
  else
    check "$user: realm_access.roles contains $realm_roles" ".realm_access.roles | index(\"$realm_roles\") != null" "$WORK/$user.claims"
  fi
  check "$user: lifetime 300 s, jti and sid present" '(.exp - .iat) == 300 and (.jti|length) > 0 and (.sid|length) > 0' "$WORK/$user.claims"
  check "$user: id_token and refresh_token issued, token_type Bearer" \
    '(.id_token|length) > 0 and (.refresh_token|length) > 0 and .token_type == "Bearer" and .expires_in == 300' \
    "$WORK/tok-$user.json"
done <<'EOF'
mcp-admin admin123 mcp:read,mcp:tools,mcp:prompts tools,prompts,read-only admin
mcp-user user123 mcp:read,mcp:tools tools,read-only -
mcp-readonly readonly123 mcp:read read-only -
EOF

# The signature, checked with a JOSE library against the JWKS (not by this server's code).
if (cd "$HERE" && TOKEN="$(jq -r .access_token "$WORK/tok-mcp-user.json")" JWKS_URL="$OIDC/certs" ISSUER="$ISSUER" \
  node --input-type=module -e '
    import { createRemoteJWKSet, jwtVerify } from "jose";
    const { payload } = await jwtVerify(process.env.TOKEN, createRemoteJWKSet(new URL(process.env.JWKS_URL)),
      { issuer: process.env.ISSUER, audience: "echo-mcp-server", algorithms: ["RS256"] });
    if (payload.azp !== "mcp-test-client") process.exit(1);
  ' 2>/dev/null); then
  ok "mcp-user: signature verifies against the JWKS (jose), iss and aud match"
else
  fail "mcp-user: signature verifies against the JWKS (jose), iss and aud match"
fi

code=$(password_token mcp-user wrong-password "openid")
check "wrong password: 401 invalid_grant" '.error == "invalid_grant"' "$WORK/tok-mcp-user.json"
[ "$code" = 401 ] && ok "wrong password: HTTP 401" || fail "wrong password: HTTP 401" "HTTP $code"
code=$(password_token mcp-user user123 "openid mcp:unknown")
[ "$code" = 400 ] && jq_file_e '.error == "invalid_scope"' "$WORK/tok-mcp-user.json" >/dev/null \
  && ok "unknown scope: 400 invalid_scope" || fail "unknown scope: 400 invalid_scope" "HTTP $code"

password_token mcp-readonly readonly123 "openid mcp:read" >/dev/null
rt="$(jq -r .refresh_token "$WORK/tok-mcp-readonly.json")"
code=$(curl -s -o "$WORK/refresh.json" -w '%{http_code}' "$OIDC/token" \
  -d grant_type=refresh_token -d client_id=mcp-test-client --data-urlencode "refresh_token=$rt")
if [ "$code" = 200 ]; then
  jwt_part "$(jq -r .access_token "$WORK/refresh.json")" 2 >"$WORK/refresh.claims"
  check "refresh_token grant: new token keeps mcp:read and the audience" \
    '(.scope | split(" ") | index("mcp:read") != null) and .aud == "echo-mcp-server" and .preferred_username == "mcp-readonly"' \
    "$WORK/refresh.claims"
else
  fail "refresh_token grant: new token keeps mcp:read and the audience" "HTTP $code"
fi

at="$(jq -r .access_token "$WORK/tok-mcp-admin.json")"
code=$(curl -s -o "$WORK/userinfo.json" -w '%{http_code}' -H "Authorization: Bearer $at" "$OIDC/userinfo")
[ "$code" = 200 ] && jq_file_e '.preferred_username == "mcp-admin" and (.sub|length) == 36' "$WORK/userinfo.json" >/dev/null \
  && ok "userinfo accepts the access token" || fail "userinfo accepts the access token" "HTTP $code"

# ---------------------------------------------- anonymous registration
REG="$REALM/clients-registrations/openid-connect"
register() {
  curl -s -o "$WORK/$1.json" -w '%{http_code}' "$REG" -H 'Content-Type: application/json' -d "$2"
}
code=$(register reg-public '{"client_name":"selftest cli","redirect_uris":["http://127.0.0.1:53682/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"scope":"mcp:read mcp:tools mcp:prompts"}')
if [ "$code" = 201 ] && jq_file_e '(.client_id|length) > 0 and (has("client_secret")|not) and .token_endpoint_auth_method == "none" and (.registration_client_uri|length) > 0' "$WORK/reg-public.json" >/dev/null; then
  ok "registration: public client with a loopback redirect URI is created (201)"
else
  fail "registration: public client with a loopback redirect URI is created (201)" "HTTP $code $(cat "$WORK/reg-public.json")"
fi
DCR_ID="$(jq -r .client_id "$WORK/reg-public.json")"

code=$(register reg-evil '{"client_name":"evil","redirect_uris":["https://evil.example/cb"],"token_endpoint_auth_method":"none"}')
if [ "$code" = 403 ] && jq_file_e '.error == "insufficient_scope" and (.error_description | startswith("Policy '"'"'Trusted Hosts'"'"' rejected"))' "$WORK/reg-evil.json" >/dev/null; then
  ok "registration: https://evil.example/cb refused with 403 insufficient_scope (Trusted Hosts)"
else
  fail "registration: https://evil.example/cb refused with 403 insufficient_scope (Trusted Hosts)" "HTTP $code $(cat "$WORK/reg-evil.json")"
fi
code=$(register reg-scope '{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","scope":"mcp:read not-a-scope"}')
if [ "$code" = 403 ] && jq_file_e '.error_description | startswith("Policy '"'"'Allowed Client Scopes'"'"' rejected")' "$WORK/reg-scope.json" >/dev/null; then
  ok "registration: a scope outside the allowed client scopes is refused (403)"
else
  fail "registration: a scope outside the allowed client scopes is refused (403)" "HTTP $code $(cat "$WORK/reg-scope.json")"
fi

# --------------------------------------- authorization code + PKCE (auto-login)
VERIFIER="$(openssl rand -base64 48 | tr -d '=+/\n' | cut -c1-64)"
CHALLENGE="$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')"
STATE="st-$(openssl rand -hex 8)"
CB="http://127.0.0.1:53682/callback"
authorize() { # CLIENT_ID REDIRECT_URI EXTRA_QUERY -> prints "HTTP LOCATION"
  curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -G "$OIDC/auth" \
    --data-urlencode response_type=code --data-urlencode "client_id=$1" --data-urlencode "redirect_uri=$2" \
    --data-urlencode "scope=openid mcp:read mcp:tools mcp:prompts" --data-urlencode "state=$STATE" \
    --data-urlencode "resource=http://localhost:9000/mcp" $3
}
query_param() { printf '%s' "$1" | sed -n "s/.*[?&]$2=\([^&]*\).*/\1/p"; }

read -r code location <<<"$(authorize "$DCR_ID" "$CB" "--data-urlencode code_challenge=$CHALLENGE --data-urlencode code_challenge_method=S256")"
AUTH_CODE="$(query_param "$location" code)"
if [ "$code" = 302 ] && [ "${location%%\?*}" = "$CB" ] && [ -n "$AUTH_CODE" ] && [ "$(query_param "$location" state)" = "$STATE" ]; then
  ok "auto-login: /auth redirects straight back with code and the same state"
else
  fail "auto-login: /auth redirects straight back with code and the same state" "HTTP $code"
fi
[ "$(query_param "$location" iss)" = "$(jq -rn --arg s "$ISSUER" '$s|@uri')" ] \
  && ok "auto-login: the redirect carries iss (RFC 9207)" || fail "auto-login: the redirect carries iss (RFC 9207)"

code=$(curl -s -o "$WORK/code-bad.json" -w '%{http_code}' "$OIDC/token" -d grant_type=authorization_code \
  --data-urlencode "client_id=$DCR_ID" --data-urlencode "code=$AUTH_CODE" --data-urlencode "redirect_uri=$CB" \
  --data-urlencode "code_verifier=${VERIFIER}x")
[ "$code" = 400 ] && jq_file_e '.error == "invalid_grant"' "$WORK/code-bad.json" >/dev/null \
  && ok "code exchange with a wrong code_verifier: 400 invalid_grant" || fail "code exchange with a wrong code_verifier: 400 invalid_grant" "HTTP $code"

# The failed attempt above does not consume the code in oidc-provider; get a fresh one anyway.
read -r code location <<<"$(authorize "$DCR_ID" "$CB" "--data-urlencode code_challenge=$CHALLENGE --data-urlencode code_challenge_method=S256")"
AUTH_CODE="$(query_param "$location" code)"
code=$(curl -s -o "$WORK/code.json" -w '%{http_code}' "$OIDC/token" -d grant_type=authorization_code \
  --data-urlencode "client_id=$DCR_ID" --data-urlencode "code=$AUTH_CODE" --data-urlencode "redirect_uri=$CB" \
  --data-urlencode "code_verifier=$VERIFIER" --data-urlencode "resource=http://localhost:9000/mcp")
if [ "$code" = 200 ]; then
  ok "code exchange with the right code_verifier: 200"
  jwt_part "$(jq -r .access_token "$WORK/code.json")" 2 >"$WORK/code.claims"
  check "auth code token (registered client, mcp-user): scopes mcp:read mcp:tools, aud echo-mcp-server, azp the client" \
    "([.scope | split(\" \")[] | select(startswith(\"mcp:\"))] | sort) == [\"mcp:read\",\"mcp:tools\"] and .aud == \"echo-mcp-server\" and .azp == \"$DCR_ID\" and .iss == \"$ISSUER\"" \
    "$WORK/code.claims"
  check "auth code token (registered client): sub of mcp-user, no preferred_username (Keycloak: no profile scope)" \
    "(.sub == \"$(jq -r .sub "$WORK/mcp-user.claims")\") and (has(\"preferred_username\") | not)" "$WORK/code.claims"
else
  fail "code exchange with the right code_verifier: 200" "HTTP $code $(cat "$WORK/code.json")"
fi

read -r code location <<<"$(authorize "$DCR_ID" "$CB" "")"
if [ "$(query_param "$location" error)" = invalid_request ] && [ "${location%%\?*}" = "$CB" ]; then
  ok "authorization request without PKCE is refused (error=invalid_request to the redirect URI)"
else
  fail "authorization request without PKCE is refused (error=invalid_request to the redirect URI)" "HTTP $code $location"
fi

STATIC_CB="http://127.0.0.1:$((20000 + RANDOM % 20000))/cb"
read -r code location <<<"$(authorize mcp-test-client "$STATIC_CB" "--data-urlencode code_challenge=$CHALLENGE --data-urlencode code_challenge_method=S256")"
if [ "$code" = 302 ] && [ "${location%%\?*}" = "$STATIC_CB" ] && [ -n "$(query_param "$location" code)" ]; then
  ok "mcp-test-client: loopback redirect on any port accepted (http://127.0.0.1/*)"
else
  fail "mcp-test-client: loopback redirect on any port accepted (http://127.0.0.1/*)" "HTTP $code"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -G "$OIDC/auth" --data-urlencode response_type=code \
  --data-urlencode client_id=mcp-test-client --data-urlencode redirect_uri=https://evil.example/cb \
  --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256)
[ "$code" = 400 ] && ok "mcp-test-client: unregistered redirect URI is refused without redirecting (400)" \
  || fail "mcp-test-client: unregistered redirect URI is refused without redirecting (400)" "HTTP $code"

# ------------------------------------------------ client credentials
code=$(register reg-conf '{"client_name":"selftest service","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}')
CONF_ID="$(jq -r .client_id "$WORK/reg-conf.json")"
CONF_SECRET="$(jq -r .client_secret "$WORK/reg-conf.json")"
if [ "$code" = 201 ] && [ -n "$CONF_SECRET" ] && [ "$CONF_SECRET" != null ]; then
  ok "registration: confidential client gets a client_secret"
else
  fail "registration: confidential client gets a client_secret" "HTTP $code"
fi
code=$(curl -s -o "$WORK/cc.json" -w '%{http_code}' -u "$CONF_ID:$CONF_SECRET" "$OIDC/token" -d grant_type=client_credentials)
if [ "$code" = 200 ]; then
  jwt_part "$(jq -r .access_token "$WORK/cc.json")" 2 >"$WORK/cc.claims"
  check "client_credentials: service-account token with azp and client_id" \
    ".azp == \"$CONF_ID\" and .client_id == \"$CONF_ID\" and .preferred_username == (\"service-account-\" + \"$CONF_ID\") and .iss == \"$ISSUER\"" \
    "$WORK/cc.claims"
else
  fail "client_credentials: service-account token with azp and client_id" "HTTP $code $(cat "$WORK/cc.json")"
fi
code=$(curl -s -o "$WORK/cc-bad.json" -w '%{http_code}' -u "$CONF_ID:wrong" "$OIDC/token" -d grant_type=client_credentials)
[ "$code" = 401 ] && jq_file_e '.error == "invalid_client"' "$WORK/cc-bad.json" >/dev/null \
  && ok "client_credentials with a wrong secret: 401 invalid_client" || fail "client_credentials with a wrong secret: 401 invalid_client" "HTTP $code"
code=$(curl -s -o "$WORK/cc-pw.json" -w '%{http_code}' -u "$CONF_ID:$CONF_SECRET" "$OIDC/token" \
  -d grant_type=password -d username=mcp-user -d password=user123)
[ "$code" = 400 ] && jq_file_e '.error == "unauthorized_client"' "$WORK/cc-pw.json" >/dev/null \
  && ok "password grant for a client without it: 400 unauthorized_client" || fail "password grant for a client without it: 400 unauthorized_client" "HTTP $code"

# -------------------------------------------------------------- --deny
start deny --deny
DENY_OIDC="http://localhost:$PORT/realms/mcp-realm/protocol/openid-connect"
location=$(curl -s -o /dev/null -w '%{redirect_url}' -G "$DENY_OIDC/auth" --data-urlencode response_type=code \
  --data-urlencode client_id=mcp-test-client --data-urlencode redirect_uri="$CB" --data-urlencode "state=$STATE" \
  --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256 --data-urlencode "scope=openid mcp:read")
if [ "$(query_param "$location" error)" = access_denied ] && [ "$(query_param "$location" state)" = "$STATE" ]; then
  ok "--deny: redirect back with error=access_denied and the state"
else
  fail "--deny: redirect back with error=access_denied and the state" "$location"
fi

# ------------------------------------------------------------ secrets
if grep -Eq 'admin123|user123|readonly123|eyJ[A-Za-z0-9_-]{20,}' "$WORK"/*.err "$WORK"/*.out; then
  fail "logs carry no password or token"
else
  ok "logs carry no password or token"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
