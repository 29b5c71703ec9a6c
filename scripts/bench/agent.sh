#!/usr/bin/env bash
# What a caller without a person costs before its first MCP call: runs examples/bench_agent.rs
# (release; its doc comment says what is timed) against the Keycloak of keycloak_lib.sh and writes
# its figures to the "agent" section of docs/benchmarks.md.
#
#   scripts/bench/agent.sh          # ~20 s; BENCH_OUT=- prints only
set -u
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=../keycloak_lib.sh
source "$ROOT/scripts/keycloak_lib.sh"
use_keycloak
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks.md}"
(cd "$ROOT" && cargo build --release --example bench_agent --quiet) || { echo "build failed"; exit 1; }
RUN="$WORK/agent.txt"
(cd "$ROOT" && KEYCLOAK_URL="$KEYCLOAK_URL" "$ROOT/target/release/examples/bench_agent") | tee "$RUN" || exit 1
if [ "$OUT" != "-" ]; then
  SECTION="$WORK/agent-section.md"
  {
    echo "## Callers without a person (\`scripts/bench/agent.sh\`)"
    echo
    echo "Produced by \`scripts/bench/agent.sh\` (\`examples/bench_agent.rs\`, release) against Keycloak $KC_VERSION on this machine: 100 client credentials token requests each way, one at a time over a kept-alive connection, with \`resource\` and \`scope\` as step 11 sends them; then one ES256 client assertion signed in-process, 10,000 times. This is what an agent pays once per run, before its first MCP call; step 10's cost per request is that of any token (the throughput table above)."
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; $(rustc --version)"
    echo
    sed -n '/^|/p' "$RUN"
    echo
    echo "- $(grep '^client assertion signed' "$RUN")."
  } >"$SECTION"
  write_section "$OUT" agent "$SECTION"
  echo "wrote $OUT"
fi
