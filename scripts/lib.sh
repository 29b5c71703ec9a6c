# shellcheck shell=bash
# Shared by scripts/test_step*.sh: build once, start servers on free ports, wait with a deadline,
# capture status / headers / body, assert, clean up only our own PIDs, print "N passed, M failed".
#
# Use:   source "$(dirname "$0")/lib.sh"
#        start_server step4            # sets BASE=http://127.0.0.1:PORT
#        rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
#        expect_status 200 "ping answers"
#        expect_jq '.result == {}' "ping result is {}"
#        finish                        # prints the summary, exits non-zero on any failure

set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/debug"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-steps.XXXXXX")"
PASSED=0
FAILED=0
PIDS=()
# Commands run (eval) at exit, after our own PIDs are stopped: e.g. stopping a Keycloak we started.
AT_EXIT=()
STATUS=""
HEADERS="$WORK/headers"
BODY="$WORK/body"
BASE=""
SERVER_LOG=""
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  local command
  for command in "${AT_EXIT[@]}"; do
    eval "$command"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n== %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$*"; }
fail() {
  FAILED=$((FAILED + 1))
  printf '  FAIL %s\n' "$*"
  if [ -s "$BODY" ]; then printf '       body: %s\n' "$(head -c 400 "$BODY")"; fi
}

# Builds the binaries once (test_all.sh builds first and sets SKIP_BUILD=1).
# expect_eq ACTUAL EXPECTED DESCRIPTION: two strings are equal.
expect_eq() {
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3: expected '$2', got '$1'"; fi
}

build_once() {
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --quiet --bins) || { echo "build failed"; exit 1; }
  fi
}

# start_server NAME [ARGS...]: runs target/debug/NAME --port 0 ARGS, waits for its
# "listening on" line and for /health (deadline 20 s). Sets BASE and SERVER_LOG.
start_server() {
  local name="$1"; shift
  local out="$WORK/$name.$RANDOM.out"
  SERVER_LOG="$WORK/$name.$RANDOM.log"
  : >"$out"
  (cd "$ROOT" && exec "$BIN/$name" --port 0 "$@" >"$out" 2>"$SERVER_LOG") &
  local pid=$!
  PIDS+=("$pid")
  SERVER_PID=$pid
  local deadline=$((SECONDS + 20))
  BASE=""
  while [ $SECONDS -lt $deadline ]; do
    BASE="$(sed -n 's/^listening on //p' "$out" | head -n 1)"
    [ -n "$BASE" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before listening:"; cat "$SERVER_LOG"; exit 1
    fi
    sleep 0.1
  done
  [ -n "$BASE" ] || { echo "$name did not print its address within 20 s"; cat "$SERVER_LOG"; exit 1; }
  while [ $SECONDS -lt $deadline ]; do
    if curl -fsS -o /dev/null "$BASE/health" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not answer /health within 20 s"; exit 1
}

# stop_server PID: stops one server we started and waits for it.
stop_server() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# request METHOD PATH [CURL ARGS...]: sets STATUS, fills $HEADERS and $BODY.
request() {
  local method="$1" path="$2"; shift 2
  : >"$HEADERS"; : >"$BODY"
  STATUS="$(curl -sS -X "$method" -o "$BODY" -D "$HEADERS" -w '%{http_code}' --max-time 20 "$@" "$BASE$path")" || STATUS="curl-error"
}

# raw_http REQUEST: sends REQUEST (printf escapes: \r\n) as bytes to BASE's host and port, for
# what curl will not send (two Host or Origin headers, none at all). Sets STATUS, $HEADERS, $BODY.
raw_http() {
  local hostport="${BASE#http://}"
  printf "$1" | python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(sys.stdin.buffer.read())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
open(sys.argv[2], "w").write("\r\n".join(lines) + "\r\n")
open(sys.argv[3], "wb").write(body)
print(lines[0].split(" ")[1])
' "$hostport" "$HEADERS" "$BODY" >"$WORK/raw.status" 2>/dev/null || { STATUS="connection-error"; return; }
  STATUS="$(cat "$WORK/raw.status")"
}

# rpc JSON [CURL ARGS...]: POST /mcp with Content-Type application/json.
rpc() {
  local body="$1"; shift
  request POST /mcp -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# modern_rpc ID METHOD PARAMS [CURL ARGS...]: a 2026-07-28 request as a modern client sends it:
# PARAMS (a JSON object) gets `_meta` with the protocol version, client capabilities and
# clientInfo {"name":"test-script"}; the headers MCP-Protocol-Version, Mcp-Method and, when
# PARAMS has a string "name", Mcp-Name. Extra curl args (-H ...) come after.
modern_rpc() {
  local id="$1" method="$2" params="$3"; shift 3
  local body name
  body="$(jq -cn --argjson id "$id" --arg m "$method" --argjson p "$params" '{jsonrpc:"2.0", id:$id, method:$m,
    params: ($p + {_meta: {"io.modelcontextprotocol/protocolVersion":"2026-07-28",
      "io.modelcontextprotocol/clientCapabilities":{},
      "io.modelcontextprotocol/clientInfo":{name:"test-script",version:"1"}}})}')"
  name="$(jq -r 'if (.name | type) == "string" then .name else empty end' <<<"$params")"
  local extra=(-H 'MCP-Protocol-Version: 2026-07-28' -H "Mcp-Method: $method")
  [ -n "$name" ] && extra+=(-H "Mcp-Name: $name")
  rpc "$body" "${extra[@]}" "$@"
}

# body_for METHOD ID: a JSON-RPC request for one of the four policed methods (steps 8, 10) that
# succeeds when the caller is allowed.
body_for() {
  case "$1" in
    tools/list) printf '{"jsonrpc":"2.0","id":%s,"method":"tools/list"}' "$2" ;;
    tools/call) printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}' "$2" ;;
    prompts/list) printf '{"jsonrpc":"2.0","id":%s,"method":"prompts/list"}' "$2" ;;
    prompts/get) printf '{"jsonrpc":"2.0","id":%s,"method":"prompts/get","params":{"name":"echo_prompt","arguments":{"message":"hi"}}}' "$2" ;;
  esac
}

expect_status() {
  if [ "$STATUS" = "$1" ]; then pass "$2 (HTTP $1)"; else fail "$2: expected HTTP $1, got $STATUS"; fi
}

# expect_header NAME EXTENDED-REGEX DESCRIPTION (case-insensitive name; value must match).
expect_header() {
  local value
  value="$(header_value "$1")"
  if [ -n "$value" ] && printf '%s' "$value" | grep -Eq -- "$2"; then
    pass "$3"
  else
    fail "$3: header $1 is '${value}', expected /$2/"
  fi
}

expect_no_header() {
  if grep -qi "^$1:" "$HEADERS"; then fail "$2: unexpected header $(grep -i "^$1:" "$HEADERS" | tr -d '\r')"; else pass "$2"; fi
}

header_value() {
  grep -i "^$1:" "$HEADERS" | head -n 1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# expect_jq FILTER DESCRIPTION: the body must be JSON and the filter true.
# (jq 1.6 `-e` exits 0 on empty input, so an empty body is a failure here, not a pass.)
expect_jq() {
  if [ -s "$BODY" ] && jq -e "$1" "$BODY" >/dev/null 2>&1; then pass "$2"; else fail "$2: jq '$1' is not true"; fi
}

expect_empty_body() {
  if [ ! -s "$BODY" ]; then pass "$1"; else fail "$1: body is not empty"; fi
}

# expect_exit CODE DESCRIPTION COMMAND...: runs the command; checks its exit status is CODE
# (use "nonzero" for any failure). Output goes to $WORK/exit.out for expect_output.
expect_exit() {
  local want="$1" what="$2"; shift 2
  (cd "$ROOT" && "$@") >"$WORK/exit.out" 2>&1
  local got=$?
  if [ "$want" = nonzero ] && [ "$got" -ne 0 ]; then pass "$what (exit $got)"
  elif [ "$want" = "$got" ]; then pass "$what (exit $got)"
  else
    fail "$what: expected exit $want, got $got: $(head -c 300 "$WORK/exit.out")"
    # A checker's own failing rows (step 9's FAIL lines), which the first 300 bytes rarely reach.
    grep -m 5 '^FAIL' "$WORK/exit.out" | cut -c1-200 | sed 's/^/       its row: /'
  fi
}

# expect_output REGEX DESCRIPTION: the last expect_exit's output matches.
expect_output() {
  if grep -Eq -- "$1" "$WORK/exit.out"; then pass "$2"; else fail "$2: output lacks /$1/: $(head -c 300 "$WORK/exit.out")"; fi
}

# Servers write their log from a background thread (http::log_writer, every 2 ms): a line is in
# the file milliseconds after it is logged, not before the response leaves. So log checks wait for it.

# log_has FILE EXTENDED-REGEX [SECONDS]: true once FILE has a line matching (polls, 5 s default).
log_has() {
  local deadline=$((SECONDS + ${3:-5}))
  until grep -Eq -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# expect_log FILE EXTENDED-REGEX DESCRIPTION: a line of FILE matches (waiting for it, see log_has).
expect_log() {
  if log_has "$1" "$2"; then pass "$3"; else fail "$3: no line matching /$2/ in $(basename "$1")"; fi
}

# logs_settled: waits until no captured server log has grown for 0.2 s (at most 5 s), so that a
# check of what the logs lack sees every line already logged.
logs_settled() {
  local before after deadline=$((SECONDS + 5))
  before="$(cat "$WORK"/*.log 2>/dev/null | wc -c)"
  while [ $SECONDS -lt $deadline ]; do
    sleep 0.2
    after="$(cat "$WORK"/*.log 2>/dev/null | wc -c)"
    [ "$after" = "$before" ] && return 0
    before="$after"
  done
}

# expect_log_lacks STRING DESCRIPTION: no server log we captured contains STRING.
expect_log_lacks() {
  logs_settled
  if grep -rqF -- "$1" "$WORK"/*.log 2>/dev/null; then fail "$2"; else pass "$2"; fi
}

# no_secret DESCRIPTION EXTENDED-REGEX FILE...: passes when no line of the FILEs matches. A hit is
# reported by file and its first 16 characters only, so the report cannot leak the secret either.
no_secret() {
  local what="$1" pattern="$2" hits
  shift 2
  hits="$(grep -EHo -- "$pattern" "$@" | head -n 3 |
    awk '{ n = index($0, ":"); m = substr($0, n + 1); printf "%s%s: %s… (%d characters)", sep, substr($0, 1, n - 1), substr(m, 1, 16), length(m); sep = "; " }')"
  if [ -z "$hits" ]; then pass "$what"; else fail "$what: $hits"; fi
}

finish() {
  echo
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
