#!/usr/bin/env bash
# The one test command (README): cargo test, every step's script, the Keycloak stand-in's self
# test, and the real-client interop checks. Prints one line per suite, then "N passed, M failed"
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
for n in 1 2 3 4 5 6 7 8 9 10 11; do
  script="scripts/test_step$n.sh"
  if [ -x "$script" ]; then suite "step $n ($script)" "$script"; fi
done
if [ -x scripts/keycloak-standin/selftest.sh ]; then
  suite "Keycloak stand-in self test" scripts/keycloak-standin/selftest.sh
fi
suite "interop: MCP conformance suite + TypeScript SDK client" scripts/test_interop.sh
if [ -x scripts/step11_conformance.sh ]; then
  suite "interop: conformance client auth scenarios (step11)" scripts/step11_conformance.sh
fi

printf '\n######## summary\n'
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
