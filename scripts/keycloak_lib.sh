# shellcheck shell=bash disable=SC2034  # KC_MODE, KC_ISSUER, STANDIN_*: read by the sourcing scripts
# Keycloak for the step 9-11 test scripts: a real Keycloak when one answers, the local stand-in
# (scripts/keycloak-standin/, oidc-provider serving env/keycloak/mcp-realm.json) otherwise.
#
# Use (after lib.sh):
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/keycloak_lib.sh"
#   start_keycloak_or_standin            # exports KEYCLOAK_URL, sets KC_ISSUER and KC_MODE
#   TOKEN="$(kc_token mcp-user user123)" # password grant via mcp-test-client; prints the token only
#
# Extra arguments of start_keycloak_or_standin / start_standin go to the stand-in
# (e.g. --auto-login mcp-user); a real Keycloak ignores them. Stand-ins are tracked in lib.sh's
# PIDS, so lib.sh's cleanup stops them; their logs are $WORK/standin.*.log, which
# expect_log_lacks searches too. Tokens are never echoed.

KC_REALM="${KEYCLOAK_REALM:-mcp-realm}"
KC_MODE=""
KC_ISSUER=""
STANDIN_DIR="$ROOT/scripts/keycloak-standin"

# The step binaries read these from the environment (flag > environment > env file > default);
# a value left over in the caller's shell would silently change what a test checks.
unset JWT_ISSUER JWT_AUDIENCE KEYCLOAK_REALM MCP_SERVER_URL KEYCLOAK_ADMIN_USER \
  KEYCLOAK_ADMIN_PASSWORD ALLOWED_ORIGINS ALLOWED_HOSTS JWKS_REFRESH_SECONDS \
  JWKS_MIN_REFETCH_SECONDS MCP_PUBLIC_KEY

# free_port: prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_standin [STAND-IN ARGS...]: starts the stand-in on $STANDIN_PORT, or on a port it picks
# itself (port 0: no race with another process for a port chosen beforehand), and waits (deadline
# 20 s) for its discovery document. Sets STANDIN_URL (http://localhost:PORT), STANDIN_ISSUER,
# STANDIN_PID; its output is in $WORK/standin.PORT.out and .log.
start_standin() {
  command -v node >/dev/null || { echo "node is required for the Keycloak stand-in"; exit 1; }
  if [ ! -d "$STANDIN_DIR/node_modules/oidc-provider" ]; then
    echo "installing the stand-in's packages (npm ci in scripts/keycloak-standin)"
    (cd "$STANDIN_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "npm ci failed in $STANDIN_DIR"; exit 1; }
  fi
  local port="" start="$WORK/standin.starting.$RANDOM" log out
  node "$STANDIN_DIR/server.mjs" --port "${STANDIN_PORT:-0}" "$@" >"$start.out" 2>"$start.log" &
  STANDIN_PID=$!
  PIDS+=("$STANDIN_PID")
  local deadline=$((SECONDS + 20))
  while [ $SECONDS -lt $deadline ]; do
    port="$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)$#\1#p' "$start.out" | head -n 1)"
    [ -n "$port" ] && break
    if ! kill -0 "$STANDIN_PID" 2>/dev/null; then
      echo "the Keycloak stand-in exited before listening:"; cat "$start.log"; exit 1
    fi
    sleep 0.1
  done
  [ -n "$port" ] || { echo "the Keycloak stand-in did not listen within 20 s"; cat "$start.log"; exit 1; }
  # Renamed while the stand-in writes to them (same directory: its open files follow).
  log="$WORK/standin.$port.log"
  out="$WORK/standin.$port.out"
  mv "$start.log" "$log"
  mv "$start.out" "$out"
  STANDIN_URL="http://localhost:$port"
  STANDIN_ISSUER="$STANDIN_URL/realms/$KC_REALM"
  while [ $SECONDS -lt $deadline ]; do
    if curl -fsS --max-time 2 -o /dev/null "$STANDIN_ISSUER/.well-known/openid-configuration" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$STANDIN_PID" 2>/dev/null; then
      echo "the Keycloak stand-in exited before answering:"; cat "$log"; exit 1
    fi
    sleep 0.1
  done
  echo "the Keycloak stand-in did not serve its discovery document within 20 s"; cat "$log"; exit 1
}

# start_keycloak_or_standin [STAND-IN ARGS...]: a real Keycloak at ${KEYCLOAK_URL:-http://localhost:8080}
# if its realm's discovery answers within 2 s, else a stand-in. Exports KEYCLOAK_URL; sets
# KC_MODE (keycloak | standin) and KC_ISSUER.
start_keycloak_or_standin() {
  local probe="${KEYCLOAK_URL:-http://localhost:8080}"
  probe="${probe%/}"
  if curl -fsS --max-time 2 -o /dev/null "$probe/realms/$KC_REALM/.well-known/openid-configuration" 2>/dev/null; then
    KC_MODE=keycloak
    export KEYCLOAK_URL="$probe"
    echo "using real Keycloak at $KEYCLOAK_URL"
  else
    start_standin "$@"
    KC_MODE=standin
    export KEYCLOAK_URL="$STANDIN_URL"
    echo "using the local Keycloak stand-in at $KEYCLOAK_URL (no Keycloak answered at $probe)"
  fi
  KC_ISSUER="$KEYCLOAK_URL/realms/$KC_REALM"
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
