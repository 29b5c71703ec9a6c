# shellcheck shell=bash disable=SC2034  # KC_ISSUER, KC_VERSION: read by the sourcing scripts
# Real Keycloak for the step 9-11 test scripts (and the fault and bench scripts): the one
# scripts/keycloak.sh runs (Keycloak 26.7.3 from Maven Central, realm env/keycloak/mcp-realm.json
# imported), or any Keycloak already answering at $KEYCLOAK_URL (e.g. the Docker compose file).
# There is no fallback: when no Keycloak answers and none can be started, the script stops and
# says why.
#
# Use (after lib.sh):
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/keycloak_lib.sh"
#   use_keycloak                         # exports KEYCLOAK_URL, sets KC_ISSUER and KC_VERSION
#   TOKEN="$(kc_token mcp-user user123)" # password grant via mcp-test-client; prints the token only
#   kc_admin GET "/admin/realms/mcp-realm/client-scopes"   # Admin REST API (admin/admin, demo)
#
# Tokens are never echoed.

KC_REALM="${KEYCLOAK_REALM:-mcp-realm}"
KC_ISSUER=""
KC_VERSION=""
KC_ADMIN_USER="${KEYCLOAK_ADMIN_USER:-admin}"
KC_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-admin}"

# The step binaries read these from the environment (flag > environment > env file > default);
# a value left over in the caller's shell would silently change what a test checks.
unset JWT_ISSUER JWT_AUDIENCE KEYCLOAK_REALM MCP_SERVER_URL KEYCLOAK_ADMIN_USER TOKEN_CHECK \
  INTROSPECTION_CLIENT_ID INTROSPECTION_CLIENT_SECRET INTROSPECTION_CACHE_SECONDS INTROSPECTION_CACHE_ENTRIES \
  KEYCLOAK_ADMIN_PASSWORD ALLOWED_ORIGINS ALLOWED_HOSTS JWKS_REFRESH_SECONDS \
  JWKS_MIN_REFETCH_SECONDS MCP_PUBLIC_KEY

# free_port: prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

kc_discovery_answers() {
  curl -fsS --max-time 2 -o /dev/null "$1/realms/$KC_REALM/.well-known/openid-configuration" 2>/dev/null
}

# use_keycloak: the Keycloak at ${KEYCLOAK_URL:-http://localhost:8080}; when none answers there,
# scripts/keycloak.sh starts one (and this script stops it at exit). Exports KEYCLOAK_URL; sets
# KC_ISSUER and KC_VERSION (asked of the Admin REST API) and prints which Keycloak it uses.
use_keycloak() {
  local url="${KEYCLOAK_URL:-http://localhost:8080}"
  url="${url%/}"
  if ! kc_discovery_answers "$url"; then
    if [ "$url" != "http://localhost:${KEYCLOAK_PORT:-8080}" ]; then
      echo "no Keycloak answers at $url (KEYCLOAK_URL), and scripts/keycloak.sh only starts one on http://localhost:${KEYCLOAK_PORT:-8080}"
      exit 1
    fi
    echo "no Keycloak at $url: starting one with scripts/keycloak.sh (stopped again at exit)"
    "$ROOT/scripts/keycloak.sh" start || { echo "Keycloak could not be started (scripts/keycloak.sh start failed; see above)"; exit 1; }
    AT_EXIT+=("\"$ROOT/scripts/keycloak.sh\" stop >/dev/null")
  fi
  export KEYCLOAK_URL="$url"
  KC_ISSUER="$KEYCLOAK_URL/realms/$KC_REALM"
  KC_VERSION="$(kc_admin GET /admin/serverinfo | jq -r '.systemInfo.version // empty' 2>/dev/null)"
  [ -n "$KC_VERSION" ] || { echo "Keycloak at $KEYCLOAK_URL answered, but its Admin REST API did not (admin user $KC_ADMIN_USER)"; exit 1; }
  echo "using Keycloak $KC_VERSION at $KEYCLOAK_URL"
}

# need_browser: the login driver (scripts/browser/login.mjs: playwright-core and Debian's
# chromium) is installed, or the script stops naming what is missing.
need_browser() {
  "$ROOT/scripts/browser/install.sh" >"$WORK/browser-install.log" 2>&1 || {
    echo "the browser driver is not installed:"; cat "$WORK/browser-install.log"; exit 1
  }
}

# kc_admin_token: an access token of the master realm's admin (admin-cli, password grant).
kc_admin_token() {
  curl -fsS --max-time 10 "$KEYCLOAK_URL/realms/master/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=admin-cli \
    --data-urlencode "username=$KC_ADMIN_USER" --data-urlencode "password=$KC_ADMIN_PASSWORD" |
    jq -r '.access_token // empty'
}

# kc_admin METHOD PATH [JSON BODY]: one Admin REST API call (PATH starts with /admin/). Prints
# the response body; sets KC_STATUS to the HTTP status (call it as `kc_admin ... >FILE`, not
# inside $(...), when the status matters).
KC_STATUS=""
kc_admin() {
  local method="$1" path="$2" body="${3:-}" token out="$WORK/kc_admin.$RANDOM"
  token="$(kc_admin_token)" || token=""
  [ -n "$token" ] || { KC_STATUS="no-admin-token"; return 1; }
  local args=(-sS --max-time 20 -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  KC_STATUS="$(curl "${args[@]}" "$KEYCLOAK_URL$path")" || KC_STATUS="curl-error"
  cat "$out"
  rm -f "$out"
}

# kc_token USER PASSWORD [SCOPE] [KEYCLOAK BASE URL]: password grant through mcp-test-client.
# Prints only the access token; on failure prints the HTTP status and OAuth error to stderr
# (never the response body's tokens) and returns 1.
kc_token() {
  local user="$1" password="$2" scope="${3:-openid mcp:read mcp:tools mcp:prompts}" base="${4:-$KEYCLOAK_URL}"
  local out="$WORK/kc_token.$RANDOM.json" code
  code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 \
    "$base/realms/$KC_REALM/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=mcp-test-client \
    --data-urlencode "username=$user" --data-urlencode "password=$password" \
    --data-urlencode "scope=$scope")" || code="curl-error"
  if [ "$code" != 200 ] || ! jq -e '.access_token | type == "string"' "$out" >/dev/null 2>&1; then
    echo "kc_token $user: HTTP $code $(jq -r '[.error, .error_description] | map(select(. != null)) | join(": ")' "$out" 2>/dev/null)" >&2
    rm -f "$out"
    return 1
  fi
  jq -r .access_token "$out"
  rm -f "$out"
}

# expect_config FILE NAME VALUE SOURCE DESCRIPTION: the "effective configuration" printout in FILE
# has the line "  NAME = VALUE [SOURCE]" (SOURCE: flag, environment, env file or default).
expect_config() {
  local file="$1" name="$2" value="$3" source="$4" what="$5" line
  line="$(awk -v n="$name" '$1 == n && $2 == "=" { print; exit }' "$file")"
  if awk -v n="$name" -v v="$value" -v s="[$source]" '
       $1 == n && $2 == "=" { rest = $4; for (i = 5; i <= NF; i++) rest = rest " " $i;
                              if ($3 == v && rest == s) found = 1 }
       END { exit !found }' "$file"; then
    pass "$what ($name = $value [$source])"
  else
    fail "$what: expected '$name = $value [$source]', printout has '${line:-no $name line}'"
  fi
}
