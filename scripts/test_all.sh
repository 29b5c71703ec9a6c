#!/usr/bin/env bash
# The one test command (README): cargo test, every step's script (steps 9-11 against one real
# Keycloak, started here with scripts/keycloak.sh and stopped at the end), and the real-client
# interop checks. Prints one line per suite, then "N passed, M failed"
# (suites), and exits non-zero when any suite failed.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
passed=0
failed=0
summary=()

suite() {
  local name="$1"; shift
  printf '\n######## %s\n' "$name"
  local started=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); summary+=("ok   $name ($((SECONDS - started))s)")
  else
    failed=$((failed + 1)); summary+=("FAIL $name ($((SECONDS - started))s)")
  fi
}

printf '######## build\n'
cargo build --bins --quiet || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
export SKIP_BUILD=1

suite "cargo test" cargo test --quiet

# Steps 9-11 share one real Keycloak. When none answers on :8080, it is started here and stopped
# at exit; when it cannot start, the step scripts fail and say why (they fall back to nothing).
kc_started=""
stop_keycloak() { if [ -n "$kc_started" ]; then scripts/keycloak.sh stop; fi; }
trap stop_keycloak EXIT
if ! curl -fsS --max-time 2 -o /dev/null http://localhost:8080/realms/mcp-realm/.well-known/openid-configuration 2>/dev/null; then
  printf '\n######## Keycloak (scripts/keycloak.sh start)\n'
  started=$SECONDS
  if scripts/keycloak.sh start; then
    kc_started=1
    summary+=("--   Keycloak started for steps 9-11 ($((SECONDS - started))s)")
  else
    echo "Keycloak could not be started: steps 9-11 will fail"
  fi
fi

for n in 1 2 3 4 5 6 7 8 9 10 11; do
  script="scripts/test_step$n.sh"
  if [ -x "$script" ]; then suite "step $n ($script)" "$script"; fi
done
suite "docs: every command the pages show (scripts/doc_test.py)" bash -c "python3 scripts/doc_test.py --self-test && python3 scripts/doc_test.py"
suite "interop: conformance suite, TypeScript SDK v1 (legacy), Python SDK and TypeScript SDK v2 (2026-07-28), SDK OAuth providers and the Inspector on Keycloak" scripts/test_interop.sh
if [ -x scripts/step11_conformance.sh ]; then
  suite "interop: conformance client auth scenarios (step11)" scripts/step11_conformance.sh
fi

printf '\n######## summary\n'
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
