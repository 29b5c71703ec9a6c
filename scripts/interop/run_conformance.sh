#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package-lock.json) one scenario at a time, with the Node 22 binary installed under
# scripts/interop/node_modules.
#
#   scripts/interop/run_conformance.sh --url http://127.0.0.1:PORT/mcp [--scenario NAME]...
#   scripts/interop/run_conformance.sh --client-command "CMD ARGS" [--scenario NAME]...
#   common options: [--keep-results DIR] [--verbose] [--timeout-ms N (client mode, default 30000)]
#
# Server mode (--url) tests a running server.
# Default scenarios: the ones that apply to a stateless server that answers application/json,
# declares tools + prompts, has only the `echo` tool and the `echo_prompt` prompt, and no
# resources, logging or completions:
#   server-initialize            SDK client connects (initialize + notifications/initialized)
#   ping                         ping -> {}
#   dns-rebinding-protection     Host+Origin evil.example.com -> 4xx; Host+Origin = the URL's
#                                own host:port -> 2xx (no auth: only meaningful for steps 1-5)
#   tools-list                   every tool has name, description, inputSchema
#   prompts-list                 every prompt has name and description
#   server-sse-multiple-streams  three concurrent POSTs; a server without Mcp-Session-Id gets a
#                                WARNING ("no session ID") and the scenario stops there
# Every other server scenario needs fixture tools/prompts/resources (test_simple_text,
# test_simple_prompt, ...) or capabilities (logging, completions) that this project does not have.
#
# Client mode (--client-command) tests an MCP client: for each scenario the suite starts its own
# fake MCP server + authorization server on localhost, runs `CMD ARGS <server-url>` (through
# /bin/sh, the URL appended as the last argument; env MCP_CONFORMANCE_SCENARIO=<scenario> and, for
# auth/pre-registration, MCP_CONFORMANCE_CONTEXT={"name":...,"client_id":...,"client_secret":...}),
# then grades what the client did. Scenarios run one after another (the suite's --suite mode runs
# them in parallel, which a client with a fixed callback port cannot survive). Default: the auth
# scenarios that apply to a DCR + PKCE client:
#   auth/metadata-default auth/metadata-var1 auth/metadata-var2 auth/metadata-var3
#   auth/scope-from-www-authenticate auth/scope-from-scopes-supported
#   auth/scope-omitted-when-undefined auth/scope-step-up auth/scope-retry-limit
#   auth/token-endpoint-auth-basic auth/token-endpoint-auth-post auth/token-endpoint-auth-none
#   auth/2025-03-26-oauth-metadata-backcompat auth/2025-03-26-oauth-endpoint-fallback
# auth/basic-cimd (URL client ids) and auth/pre-registration (static credentials) are opt-in with
# --scenario.
#
# Server mode: a scenario passes when the suite exits 0 and reports no FAILURE check; WARNING
# checks are printed but do not fail it (the suite's own rule in server mode). Client mode: the
# suite's own rule, stricter: no FAILURE, no WARNING, no time-out, and a zero exit status of the
# client unless the scenario expects the client to fail (auth/scope-retry-limit).
# Prints one line per scenario ("ok - ..." / "not ok - ..."), then "N passed, M failed"; exits
# non-zero on any failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_SERVER_SCENARIOS=(server-initialize ping dns-rebinding-protection tools-list prompts-list server-sse-multiple-streams)
DEFAULT_CLIENT_SCENARIOS=(
  auth/metadata-default auth/metadata-var1 auth/metadata-var2 auth/metadata-var3
  auth/scope-from-www-authenticate auth/scope-from-scopes-supported
  auth/scope-omitted-when-undefined auth/scope-step-up auth/scope-retry-limit
  auth/token-endpoint-auth-basic auth/token-endpoint-auth-post auth/token-endpoint-auth-none
  auth/2025-03-26-oauth-metadata-backcompat auth/2025-03-26-oauth-endpoint-fallback
)

URL=""
CLIENT_CMD=""
TIMEOUT_MS=30000
SCENARIOS=()
KEEP=""
VERBOSE=0
usage() { sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}/  /'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="${2:?--url needs a value}"; shift 2 ;;
    --url=*) URL="${1#--url=}"; shift ;;
    --client-command) CLIENT_CMD="${2:?--client-command needs a value}"; shift 2 ;;
    --client-command=*) CLIENT_CMD="${1#--client-command=}"; shift ;;
    --timeout-ms) TIMEOUT_MS="${2:?--timeout-ms needs a value}"; shift 2 ;;
    --scenario) SCENARIOS+=("${2:?--scenario needs a value}"); shift 2 ;;
    --scenario=*) SCENARIOS+=("${1#--scenario=}"); shift ;;
    --keep-results) KEEP="${2:?--keep-results needs a directory}"; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_conformance.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$URL" ] && [ -n "$CLIENT_CMD" ]; then
  echo "run_conformance.sh: give either --url (server mode) or --client-command (client mode), not both" >&2
  exit 2
elif [ -n "$URL" ]; then
  MODE=server
  [ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${DEFAULT_SERVER_SCENARIOS[@]}")
elif [ -n "$CLIENT_CMD" ]; then
  MODE=client
  [ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${DEFAULT_CLIENT_SCENARIOS[@]}")
  case "$TIMEOUT_MS" in ''|*[!0-9]*) echo "run_conformance.sh: --timeout-ms must be a number" >&2; exit 2 ;; esac
else
  echo "run_conformance.sh: --url URL (server mode) or --client-command CMD (client mode) is required" >&2
  usage >&2
  exit 2
fi
command -v jq >/dev/null 2>&1 || { echo "run_conformance.sh: jq is required" >&2; exit 1; }

"$HERE/install.sh"
NODE="$HERE/node_modules/.bin/node"
CONFORMANCE="$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js"
VERSION="$(jq -r .version "$HERE/node_modules/@modelcontextprotocol/conformance/package.json")"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ "$MODE" = server ]; then
  echo "# MCP conformance $VERSION (node $("$NODE" --version)), server mode, against $URL"
else
  echo "# MCP conformance $VERSION (node $("$NODE" --version)), client mode, client: $CLIENT_CMD"
fi

passed=0
failed=0
for scenario in "${SCENARIOS[@]}"; do
  out="$WORK/${scenario//\//_}"
  mkdir -p "$out"
  set +e
  # Everything talks to localhost directly, never through a proxy.
  if [ "$MODE" = server ]; then
    NO_COLOR=1 NO_PROXY='*' no_proxy='*' timeout 120 \
      "$NODE" "$CONFORMANCE" server --url "$URL" --scenario "$scenario" -o "$out" >"$out/output.txt" 2>&1
  else
    NO_COLOR=1 NO_PROXY='*' no_proxy='*' timeout $((TIMEOUT_MS / 1000 + 60)) \
      "$NODE" "$CONFORMANCE" client --command "$CLIENT_CMD" --scenario "$scenario" --timeout "$TIMEOUT_MS" \
      -o "$out" >"$out/output.txt" 2>&1
  fi
  rc=$?
  set -e
  checks="$(find "$out" -name checks.json -print -quit)"
  if [ "$VERBOSE" = 1 ]; then sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/#   /' "$out/output.txt"; fi
  if [ -z "$checks" ]; then
    failed=$((failed + 1))
    echo "not ok - $scenario: the suite wrote no results (exit $rc)"
    sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/#   /' "$out/output.txt" | tail -n 20
    continue
  fi
  counts="$(jq -r '[(map(select(.status=="SUCCESS"))|length), (map(select(.status=="FAILURE"))|length),
                    (map(select(.status=="WARNING"))|length), (map(select(.status=="INFO"))|length)]|@tsv' "$checks")"
  read -r n_ok n_fail n_warn n_info <<<"$counts"
  summary="$n_ok checks passed, $n_fail failed, $n_warn warnings, $n_info info"
  if [ "$MODE" = client ] && grep -q 'CLIENT TIMED OUT' "$out/output.txt"; then summary="$summary; client timed out"; fi
  if [ "$MODE" = client ] && grep -q 'CLIENT EXITED WITH ERROR' "$out/output.txt"; then summary="$summary; client exited non-zero"; fi
  if [ "$rc" -eq 0 ] && [ "$n_fail" -eq 0 ] && { [ "$MODE" = server ] || [ "$n_warn" -eq 0 ]; }; then
    passed=$((passed + 1))
    echo "ok - $scenario ($summary)"
  else
    failed=$((failed + 1))
    echo "not ok - $scenario ($summary; suite exit $rc)"
  fi
  # Say what failed or warned, with the suite's own words and the HTTP details it recorded.
  jq -r '.[] | select(.status=="FAILURE" or .status=="WARNING")
         | "#   \(.status) [\(.id)] \(.description)"
           + (if .errorMessage then " -- \(.errorMessage)" else "" end)
           + (if .details then " -- details: \(.details|tostring)" else "" end)' "$checks" | cut -c1-600
  if [ "$MODE" = client ] && { [ "$rc" -ne 0 ] || [ "$VERBOSE" = 1 ]; }; then
    # The client's own output, as the suite captured it (the suite prints it when the client failed).
    find "$out" -name stderr.txt -exec sh -c 'test -s "$1" && sed "s/^/#   client stderr: /" "$1" | tail -n 15' _ {} \;
  fi
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp -R "$out" "$KEEP/"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
