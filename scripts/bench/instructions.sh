#!/usr/bin/env bash
# Instructions a server executes per authenticated `tools/call echo` request, counted by
# valgrind's callgrind: a count, not a time, so it repeats on a machine whose speed drifts (the
# wall-clock figures of scripts/bench.sh move 20-25% within a run here).
#
#   scripts/bench/instructions.sh BINARY [legacy|modern] [N]
#   REQUEST=health scripts/bench/instructions.sh target/release/step1   # GET /health (step 1 has no /mcp)
#
# Runs BINARY --port 0 under callgrind twice, serving N (default 2000) and then N+2000 requests
# on one keep-alive connection (Python's http.client), and prints the difference divided by 2000:
# start-up, shutdown and the first requests cancel out. legacy: a 2025-11-25 request; modern: the
# same call as a 2026-07-28 request (MCP-Protocol-Version, Mcp-Method, Mcp-Name, params._meta).
# The token is minted with target/release/examples/mint_tokens (build with
# `cargo build --release --bins --examples`). Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${1:?usage: instructions.sh BINARY [legacy|modern] [N]}"
SHAPE="${2:-legacy}"
N="${3:-2000}"
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
case "$SHAPE" in legacy|modern) ;; *) echo "instructions.sh: shape must be legacy or modern" >&2; exit 2 ;; esac
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
"$ROOT/target/release/examples/mint_tokens" --count 1 >"$WORK/token" 2>/dev/null

# count REQUESTS: callgrind's total for a server run that serves REQUESTS requests.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" "$BIN" --port 0 >"$WORK/out" 2>/dev/null &
  local pid=$! base=""
  for _ in $(seq 300); do
    base="$(sed -n 's/^listening on //p' "$WORK/out")"
    [ -n "$base" ] && break
    sleep 0.1
  done
  [ -n "$base" ] || { echo "instructions.sh: $BIN did not start under valgrind" >&2; kill "$pid"; exit 1; }
  if python3 - "$base" "$1" "$WORK/token" "$SHAPE" "${REQUEST:-mcp}" <<'PY'
import http.client, json, sys
base, n, token_file, shape, request = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
host, port = base.removeprefix("http://").rsplit(":", 1)
token = open(token_file).read().strip()
params = {"name": "echo", "arguments": {"message": "hello"}}
headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
if shape == "modern":
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                       "io.modelcontextprotocol/clientCapabilities": {},
                       "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}
    headers.update({"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"})
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
conn = http.client.HTTPConnection(host, int(port))
for _ in range(n):
    if request == "health":
        conn.request("GET", "/health")
    else:
        conn.request("POST", "/mcp", body, headers)
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"instructions.sh: HTTP {answer.status}")
PY
  then :; else kill -TERM "$pid"; wait "$pid" 2>/dev/null; return 1; fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  local file
  file="$(ls -t "$WORK"/cg.* | head -n 1)"
  sed -n 's/^\(summary\|totals\): \([0-9]*\).*/\2/p' "$file" | head -n 1
  rm -f "$WORK"/cg.*
}
small="$(count "$N")" || exit 1
large="$(count $((N + 2000)))" || exit 1
[[ "$small" =~ ^[0-9]+$ && "$large" =~ ^[0-9]+$ ]] || { echo "instructions.sh: callgrind gave no total" >&2; exit 1; }
echo "$(( (large - small) / 2000 )) instructions per request ($(basename "$BIN"), ${REQUEST:-mcp}, $SHAPE)"
