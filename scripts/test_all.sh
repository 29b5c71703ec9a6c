#!/usr/bin/env bash
# The one test command (README): cargo test, every step's script (steps 9-11 against one real
# Keycloak, started here with scripts/keycloak.sh and stopped at the end), the docs' commands, the
# real-client interop checks, the official conformance suite's requirement sets, the production
# setup (scripts/test_production.sh: nginx, PostgreSQL, two production Keycloak nodes) and the
# fuzz targets. Prints one
# line per suite, then "N passed, M failed" (suites), and exits non-zero when any suite failed.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
passed=0
failed=0
summary=()

# suite NAME COMMAND...: runs one suite. A suite may write a note for its summary line (counts) to
# the file named by $SUITE_NOTE.
suite() {
  local name="$1"; shift
  printf '\n######## %s\n' "$name"
  local started=$SECONDS note
  note="$(mktemp)"
  if SUITE_NOTE="$note" "$@"; then
    passed=$((passed + 1)); name="ok   $name"
  else
    failed=$((failed + 1)); name="FAIL $name"
  fi
  if [ -s "$note" ]; then name="$name: $(cat "$note")"; fi
  rm -f "$note"
  summary+=("$name ($((SECONDS - started))s)")
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
suite "docs: every command the pages show (scripts/doc_test.py) and every Rust excerpt matches its source (scripts/doc_excerpts.py)" \
  bash -c "python3 scripts/doc_excerpts.py --self-test && python3 scripts/doc_excerpts.py && python3 scripts/doc_test.py --self-test && python3 scripts/doc_test.py"
suite "interop: conformance suite, TypeScript SDK v1 (legacy), Python SDK and TypeScript SDK v2 (2026-07-28), SDK OAuth providers and the Inspector on Keycloak" scripts/test_interop.sh
suite "conformance: requirement sets 2026-07-28 and 2025-11-25, client (step11) and server (steps 4 and 8), required scenarios passing" \
  scripts/conformance.sh
suite "conformance: step11, the 2025-03-26 back-compat scenarios (in no requirement set)" \
  scripts/step11_conformance.sh --scenario auth/2025-03-26-oauth-metadata-backcompat --scenario auth/2025-03-26-oauth-endpoint-fallback
suite "production: nginx TLS + 3 step10 replicas + 2 Keycloak nodes on PostgreSQL; real clients over TLS, restarts and kills under load (scripts/test_production.sh)" \
  scripts/test_production.sh
suite "fuzz: every hand-written parser, 10 s per target from its seeds (scripts/fuzz.sh 10, nightly + cargo-fuzz)" \
  scripts/fuzz.sh 10

printf '\n######## summary\n'
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
