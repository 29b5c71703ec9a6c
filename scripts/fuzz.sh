#!/usr/bin/env bash
# Coverage-guided fuzzing of every hand-written parser of untrusted input (fuzz/, cargo-fuzz
# layout; each target's doc comment says what must hold). Builds the targets with the nightly
# toolchain, then runs each one for SECONDS (default 30), starting from a copy of its checked-in
# seeds (fuzz/seeds/TARGET), so a run never changes the repository.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # scripts/test_all.sh runs it with 10
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 3600   # the long run: 10 million executions, or an hour
#   FUZZ_OUT=docs/benchmarks.md ...           # also writes the "fuzz" section of that page
#
# Needs the nightly toolchain and cargo-fuzz (.ci/run installs both); without them this is a
# failed suite that names what is missing, never a silent skip. A target that finds a failing
# input fails the run and names the file libFuzzer wrote it to (fuzz/artifacts/TARGET/); the fix
# goes with that input in fuzz/seeds/TARGET and a unit test beside the parser.
#
# Built with `--sanitizer none` and debug assertions: this crate forbids unsafe code, so an
# address sanitizer would watch only the dependencies, at a third of the speed; overflow checks
# and every assert in the targets stay on.
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/bench/lib.sh"
BUDGET="${1:-30}"
shift || true
case "$BUDGET" in '' | *[!0-9]*) echo "usage: fuzz.sh [SECONDS] [TARGET...]"; exit 2 ;; esac
FUZZ="$ROOT/fuzz"

section "toolchain"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fail "the nightly toolchain is missing (rustup toolchain install nightly --profile minimal)"
  finish
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  fail "cargo-fuzz is missing (cargo install cargo-fuzz --locked)"
  finish
fi
pass "$(cargo +nightly --version), $(cargo +nightly fuzz --version)"

section "build (cargo +nightly fuzz build -O --sanitizer none --debug-assertions)"
if ! (cd "$FUZZ" && cargo +nightly fuzz build -O --sanitizer none --debug-assertions 2>"$WORK/build.log"); then
  tail -n 30 "$WORK/build.log"
  fail "the fuzz targets do not build"
  finish
fi
pass "every target built"

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(cd "$FUZZ" && cargo +nightly fuzz list)
fi
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
section "runs: ${BUDGET} s each${FUZZ_RUNS:+, or $FUZZ_RUNS executions}"
for target in "${TARGETS[@]}"; do
  [ -d "$FUZZ/seeds/$target" ] || { fail "$target: no seeds in fuzz/seeds/$target"; continue; }
  corpus="$WORK/corpus/$target"
  mkdir -p "$corpus" "$FUZZ/artifacts/$target"
  cp "$FUZZ/seeds/$target"/* "$corpus/"
  log="$WORK/$target.log"
  limits=(-max_total_time="$BUDGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -n "${FUZZ_RUNS:-}" ] && limits+=(-runs="$FUZZ_RUNS")
  started=$SECONDS
  (cd "$FUZZ" && cargo +nightly fuzz run -O --sanitizer none --debug-assertions "$target" "$corpus" -- "${limits[@]}") >"$log" 2>&1
  rc=$?
  took=$((SECONDS - started))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
  ft="$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
  found="$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | cut -d' ' -f5)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "${execs:-0}" "${speed:-0}" "${cov:-?}" "${ft:-?}" "$took" "${found:-none}" >>"$RESULTS"
  if [ "$rc" -eq 0 ] && [ -z "$found" ] && [ -n "$execs" ]; then
    pass "$target: $execs executions in ${took} s ($speed/s), coverage $cov edges, $ft features, no failing input"
  else
    grep -E 'panicked|assertion|ERROR' "$log" | head -n 5
    fail "$target: a failing input (rc $rc): ${found:-see the log}"
  fi
done

if [ -n "${FUZZ_OUT:-}" ]; then
  SECTION="$WORK/section.md"
  {
    echo "## Fuzzing (\`scripts/fuzz.sh\`)"
    echo
    echo "Produced by \`FUZZ_RUNS=${FUZZ_RUNS:-} scripts/fuzz.sh $BUDGET\` ($(date -u '+%Y-%m-%d %H:%M UTC'); $(cargo +nightly --version | cut -d' ' -f1-2); $(nproc) cores; libFuzzer through cargo-fuzz, \`--sanitizer none\`, debug assertions on; each target from its checked-in seeds in \`fuzz/seeds/\`). What each target asserts is in its doc comment in \`fuzz/fuzz_targets/\`."
    echo
    echo "| target | executions | per second | coverage (edges) | features | seconds | failing input |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    awk -F'\t' '{ printf "| `%s` | %d | %d | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$RESULTS"
  } >"$SECTION"
  write_section "$ROOT/$FUZZ_OUT" fuzz "$SECTION"
  echo "wrote $FUZZ_OUT"
fi
finish
