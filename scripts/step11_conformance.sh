#!/usr/bin/env bash
# The step-11 client against the official MCP conformance suite's client `auth` scenarios.
#
#   scripts/step11_conformance.sh                 # the 14 scenarios a DCR + PKCE client must pass
#   scripts/step11_conformance.sh --optional      # CIMD, pre-registration, draft scenarios
#   scripts/step11_conformance.sh --all           # both lists
#   scripts/step11_conformance.sh --scenario auth/scope-step-up [--scenario ...]
#   common options: [--keep-results DIR] [--verbose]   (passed on to run_conformance.sh)
#
# For every scenario the suite starts a fresh fake MCP server + authorization server and runs
# this script as `step11_conformance.sh --as-client <server-url>`. That shim gives target/debug/step11
# a FRESH --state-dir each time (the fake AS is new in every scenario, so credentials registered in
# one scenario must never be reused in the next), runs it --headless (the fake AS approves without
# a login page), and maps the suite's MCP_CONFORMANCE_CONTEXT to STEP11_CLIENT_ID /
# STEP11_CLIENT_SECRET, and for the agent scenarios (client credentials, workload identity,
# enterprise-managed authorization) to step11's agent flags (no --headless: no browser at all). It also passes --client-metadata-url with the URL the
# suite's auth/basic-cimd scenario expects as a Client ID Metadata Document client id; the client
# only uses it when an authorization server advertises client_id_metadata_document_supported.
#
# Prints run_conformance.sh's "ok - ..." / "not ok - ..." lines, then "N passed, M failed"; exits
# non-zero on any failure. Set SKIP_BUILD=1 to skip `cargo build`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/step11_conformance.sh"
BIN="$ROOT/target/debug/step11"
CIMD_URL="https://conformance-test.local/client-metadata.json"

if [ "${1:-}" = --as-client ]; then
  shift
  state="$(mktemp -d "${TMPDIR:-/tmp}/step11-conformance-state.XXXXXX")"
  trap 'rm -rf "$state"' EXIT
  if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
    id="$(printf '%s' "$MCP_CONFORMANCE_CONTEXT" | jq -r '.client_id // empty')"
    secret="$(printf '%s' "$MCP_CONFORMANCE_CONTEXT" | jq -r '.client_secret // empty')"
    if [ -n "$id" ]; then export STEP11_CLIENT_ID="$id"; fi
    if [ -n "$secret" ]; then export STEP11_CLIENT_SECRET="$secret"; fi
  fi
  # The agent scenarios (callers without a person) hand over what their client was registered
  # with; each becomes the flag or variable a reader would use.
  agent=()
  ctx() { printf '%s' "${MCP_CONFORMANCE_CONTEXT:-}" | jq -r "$1 // empty" 2>/dev/null; }
  case "${MCP_CONFORMANCE_SCENARIO:-}" in
    auth/client-credentials-jwt)
      ctx .private_key_pem >"$state/agent-key.pem"; chmod 600 "$state/agent-key.pem"
      agent=(--client-credentials --private-key "$state/agent-key.pem") ;;
    auth/client-credentials-basic)
      agent=(--client-credentials) ;;
    auth/wif-jwt-bearer)
      ctx .valid_jwt >"$state/workload.jwt"
      agent=(--workload-token-file "$state/workload.jwt") ;;
    auth/enterprise-managed-authorization)
      STEP11_ID_TOKEN="$(ctx .idp_id_token)"; export STEP11_ID_TOKEN
      agent=(--enterprise-idp "$(ctx .idp_token_endpoint)" --idp-client-id "$(ctx .idp_client_id)") ;;
  esac
  set +e
  if [ ${#agent[@]} -gt 0 ]; then
    "$BIN" --state-dir "$state" "${agent[@]}" "$@"
  else
    "$BIN" --headless --state-dir "$state" --client-metadata-url "$CIMD_URL" "$@"
  fi
  rc=$?
  set -e
  exit "$rc"
fi

REQUIRED=(
  auth/metadata-default auth/metadata-var1 auth/metadata-var2 auth/metadata-var3
  auth/scope-from-www-authenticate auth/scope-from-scopes-supported
  auth/scope-omitted-when-undefined auth/scope-step-up auth/scope-retry-limit
  auth/token-endpoint-auth-basic auth/token-endpoint-auth-post auth/token-endpoint-auth-none
  auth/2025-03-26-oauth-metadata-backcompat auth/2025-03-26-oauth-endpoint-fallback
)
OPTIONAL=(
  auth/basic-cimd auth/pre-registration
  auth/resource-mismatch auth/offline-access-scope auth/offline-access-not-supported
)

SCENARIOS=()
PASS_ON=()
while [ $# -gt 0 ]; do
  case "$1" in
    --optional) SCENARIOS+=("${OPTIONAL[@]}"); shift ;;
    --all) SCENARIOS+=("${REQUIRED[@]}" "${OPTIONAL[@]}"); shift ;;
    --scenario) SCENARIOS+=("${2:?--scenario needs a value}"); shift 2 ;;
    --keep-results) PASS_ON+=(--keep-results "${2:?--keep-results needs a directory}"); shift 2 ;;
    --verbose) PASS_ON+=(--verbose); shift ;;
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "step11_conformance.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${REQUIRED[@]}")

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --quiet --bin step11) || { echo "build failed"; exit 1; }
fi

ARGS=()
for s in "${SCENARIOS[@]}"; do ARGS+=(--scenario "$s"); done
# The suite splits the command on spaces and runs it through /bin/sh: %q keeps odd paths intact.
exec "$ROOT/scripts/interop/run_conformance.sh" \
  --client-command "$(printf '%q' "$SELF") --as-client" "${ARGS[@]}" ${PASS_ON[@]+"${PASS_ON[@]}"}
