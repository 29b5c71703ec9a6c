#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers whose arguments are optional
# Throughput of the authenticated MCP endpoint: step 8 (local key) and step 10 (keys from real
# Keycloak, keycloak_lib.sh), next to a no-auth baseline (examples/bench_baseline.rs), all release builds,
# driven by wrk with authenticated `tools/call echo` requests.
#
#   scripts/bench.sh                 # ~2 minutes; prints a table, writes docs/benchmarks.md
#   BENCH_DURATION=30 scripts/bench.sh
#
# Each (server, mode) gets a fresh server process: a warm-up run, then the measured run. Modes:
#   one token        every request carries the same token (what MCP clients do): after the
#                    first request the verified-token cache answers.
#   distinct tokens  step 8: BENCH_TOKENS (20,000) different tokens minted with
#                    examples/mint_tokens.rs, sent round-robin, so that no token comes back
#                    before 10,000 others (the cache's size) have pushed it out: one RS256
#                    verification per request, proven by the cache's hit counter staying at 0.
#                    Step 10: tokens come from Keycloak's password grant (tens per second),
#                    so step 10 runs with --token-cache-size 0 over BENCH_KC_TOKENS (200)
#                    tokens: the same one-verification-per-request cost.
# Per run: requests/s, p50/p99 latency, non-2xx answers, socket errors, peak RSS (VmHWM), the
# server's CPU time per request, JWKS fetches during the measured run (step 10, from /health),
# and the token cache's hits/misses during the run (from /health).
#
# The load generator (wrk, BENCH_THREADS threads) and the server share this machine's cores;
# ratios to the baseline measured in the same run are the figures that hold on a noisy machine.
# Ends with "N passed, M failed" over the targets of issues 6 and 28, exits non-zero on a miss.
# The targets on ratios (step 8 / baseline in both request shapes, step 10 / step 8 with one
# token) come from BENCH_ROUNDS (5) paired rounds of BENCH_ROUND_SECONDS (5) s runs, whose
# median ratio is compared: the machine drifts by 10-15% within one run of this script.
# BENCH_OUT=- skips writing docs/benchmarks.md.
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/bench/lib.sh"

DURATION="${BENCH_DURATION:-10}"
ROUNDS="${BENCH_ROUNDS:-5}"
ROUND_SECONDS="${BENCH_ROUND_SECONDS:-5}"
WARMUP="${BENCH_WARMUP:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
THREADS="${BENCH_THREADS:-2}"
DISTINCT="${BENCH_TOKENS:-20000}"
KC_DISTINCT="${BENCH_KC_TOKENS:-200}"
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks.md}"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

build_release
ensure_wrk

section "tokens"
"$BIN/examples/mint_tokens" --count 1 >"$WORK/step8-one.txt" 2>/dev/null
started=$SECONDS
"$BIN/examples/mint_tokens" --count "$DISTINCT" >"$WORK/step8-distinct.txt" 2>/dev/null
echo "  minted $(wc -l <"$WORK/step8-distinct.txt") local tokens in $((SECONDS - started)) s"
use_keycloak
kc_token mcp-user user123 "openid mcp:read mcp:tools" >"$WORK/step10-one.txt" || exit 1
kc_tokens "$KC_DISTINCT" "$WORK/step10-distinct.txt"
echo "  got $(wc -l <"$WORK/step10-distinct.txt") Keycloak tokens"

# measure NAME MODE TOKEN_FILE [WARM-UP TOKEN_FILE]: warm-up, then the measured run against the
# server that was just started ($BASE, $SERVER_PID); appends one JSON line to $RESULTS and stops
# the server. The warm-up of a distinct-token run uses one token, so that the measured run starts
# with none of its tokens in the cache.
measure() {
  local name="$1" mode="$2" tokens="$3" warm="${4:-$3}"
  local lua="$LUA_DIR/mcp_call.lua" before after cpu0 cpu1 busy0 busy1 kids0 kids1
  local out="$WORK/wrk.$RANDOM.txt"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$lua" "$BASE" -- "$warm" "$THREADS" "$SHAPE" >/dev/null
  before="$(curl -fsS "$BASE/health")"
  cpu0="$(cpu_ticks "$SERVER_PID")"; busy0="$(busy_ticks)"; read_children_ticks; kids0=$CHILD_TICKS
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${RUN_SECONDS:-$DURATION}s" -s "$lua" "$BASE" -- "$tokens" "$THREADS" "$SHAPE" >"$out"
  cpu1="$(cpu_ticks "$SERVER_PID")"; busy1="$(busy_ticks)"; read_children_ticks; kids1=$CHILD_TICKS
  after="$(curl -fsS "$BASE/health")"
  local bench
  bench="$(sed -n 's/^BENCH //p' "$out")"
  [ -n "$bench" ] || { echo "wrk produced no result:"; cat "$out"; exit 1; }
  jq -nc --arg name "$name" --arg mode "$mode" --argjson b "$bench" \
    --argjson before "$before" --argjson after "$after" \
    --argjson cpu "$((cpu1 - cpu0))" --argjson tick "$(getconf CLK_TCK)" \
    --argjson hwm "$(hwm_kb "$SERVER_PID")" --argjson cores "$(nproc)" \
    --argjson wrk "$((kids1 - kids0))" --argjson busy "$((busy1 - busy0))" \
    --argjson log "$(stat -c %s "$SERVER_LOG")" '
    def delta(p): (($after | p) // null) as $a | (($before | p) // null) as $b
      | if $a == null then null else $a - $b end;
    {name: $name, mode: $mode,
     rps: ($b.requests / ($b.duration_us / 1e6)), requests: $b.requests,
     p50_ms: ($b.p50_us / 1000), p99_ms: ($b.p99_us / 1000), max_ms: ($b.max_us / 1000),
     non2xx: $b.non2xx,
     socket_errors: ($b.connect_errors + $b.read_errors + $b.write_errors + $b.timeouts),
     peak_rss_mib: ($hwm / 1024), cpu_us_per_request: ($cpu * 1e6 / $tick / $b.requests),
     wrk_cpu_us_per_request: ($wrk * 1e6 / $tick / $b.requests),
     others_cpu_pct: ([($busy - $cpu - $wrk) / ($b.duration_us / 1e6 * $tick * $cores) * 100, 0] | max),
     jwks_fetches: delta(.issuer_keys.fetches),
     cache_hits: delta(.token_cache.hits), cache_misses: delta(.token_cache.misses),
     introspection_calls: delta(.introspection.calls),
     log_bytes: $log}' >>"$RESULTS"
  printf '  %-22s %-16s %8.0f req/s  p99 %6.2f ms  non-2xx %s\n' "$name" "$mode" \
    "$(tail -n 1 "$RESULTS" | jq .rps)" "$(tail -n 1 "$RESULTS" | jq .p99_ms)" \
    "$(tail -n 1 "$RESULTS" | jq .non2xx)"
  stop_pid "$SERVER_PID"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
section "runs: ${DURATION} s each after ${WARMUP} s of warm-up, $CONNECTIONS connections, $THREADS wrk threads"
echo "  load average before the runs: $LOAD_BEFORE (other work on the machine lowers every figure)"
ONE8="$WORK/step8-one.txt"; ONE10="$WORK/step10-one.txt"
SHAPE=legacy  # the request shape (scripts/bench/mcp_call.lua): legacy, or modern (2026-07-28)
# The baseline gets the very same request bytes (the Authorization header is ignored).
start_baseline;                     measure "baseline (no auth)" "one token" "$ONE8"
start_step8;                        measure "step 8" "one token" "$ONE8"
start_step8;                        measure "step 8" "distinct tokens" "$WORK/step8-distinct.txt" "$ONE8"
start_step8 --token-cache-size 0;   measure "step 8, cache off" "one token" "$ONE8"
RUST_LOG=warn start_step8;          measure "step 8, RUST_LOG=warn" "one token" "$ONE8"
start_server step4;                 measure "step 4 (no auth)" "one token" "$ONE8"
start_step10;                       measure "step 10" "one token" "$ONE10"
start_step10 --token-cache-size 0;  measure "step 10, cache off" "distinct tokens" "$WORK/step10-distinct.txt" "$ONE10"
# TOKEN_CHECK=introspection: the answer kept 10 s (the default), then asked every time (the
# uncached cost: one RFC 7662 call to Keycloak per request).
INTRO_SECRET="$(jq -r '.clients[] | select(.clientId == "echo-mcp-server") | .secret' "$ROOT/env/keycloak/mcp-realm.json")"
INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET" start_step10 --token-check introspection
measure "step 10, introspection" "one token" "$ONE10"
INTROSPECTION_CLIENT_SECRET="$INTRO_SECRET" start_step10 --token-check introspection --introspection-cache-seconds 0
measure "step 10, introspection uncached" "one token" "$ONE10"
# The same call in the 2026-07-28 shape (headers and _meta; the era checks run in step 8).
SHAPE=modern
start_baseline;                     measure "baseline (no auth)" "one token, modern" "$ONE8"
start_step8;                        measure "step 8" "one token, modern" "$ONE8"
SHAPE=legacy
# The baseline again at the end: this machine's speed drifts during a run (other tenants), and
# the ratios are taken to the faster of the two baseline runs, the stricter comparison.
start_baseline;                     measure "baseline (no auth), again" "one token" "$ONE8"

# Paired rounds, for the ratios issue 28 sets targets on. This machine's speed drifts by 10-15%
# within one run of this script (compare the table's two baseline rows), more than the gaps being
# measured, so a ratio of two runs minutes apart says as much about the drift as about the servers.
# Each round runs the servers compared one right after the other (which goes first rotates), and
# a target takes the median of the rounds' ratios. Legacy rounds: baseline, step 8, step 10;
# 2026-07-28 rounds: baseline, step 8.
section "paired rounds: $ROUNDS per request shape, ${ROUND_SECONDS} s per run"
TABLE_RESULTS="$RESULTS"
RESULTS="$WORK/rounds.jsonl"
: >"$RESULTS"
# round_run SERVER SHAPE ROUND: one run of a paired round.
round_run() {
  case "$1" in
    baseline) start_baseline; RUN_SECONDS=$ROUND_SECONDS measure "baseline (no auth)" "$2 $3" "$ONE8" ;;
    step8) start_step8; RUN_SECONDS=$ROUND_SECONDS measure "step 8" "$2 $3" "$ONE8" ;;
    step10) start_step10; RUN_SECONDS=$ROUND_SECONDS measure "step 10" "$2 $3" "$ONE10" ;;
  esac
}
for SHAPE in legacy modern; do
  servers=(baseline step8); [ "$SHAPE" = legacy ] && servers+=(step10)
  for round in $(seq "$ROUNDS"); do
    for k in $(seq 0 $((${#servers[@]} - 1))); do
      round_run "${servers[$(((k + round) % ${#servers[@]}))]}" "$SHAPE" "$round"
    done
  done
done
SHAPE=legacy
ROUNDS_FILE="$RESULTS"
RESULTS="$TABLE_RESULTS"
# ratios SHAPE A B: each round's requests/s of server A over server B, in round order (JSON array).
ratios() {
  jq -s --arg shape "$1" --arg a "$2" --arg b "$3" '[group_by(.mode)[] | select(.[0].mode | startswith($shape + " "))
    | {round: (.[0].mode | split(" ")[1] | tonumber),
       ratio: ((map(select(.name == $a))[0].rps) / (map(select(.name == $b))[0].rps))}]
    | sort_by(.round) | map(.ratio)' "$ROUNDS_FILE"
}
median() { jq -n --argjson a "$1" '$a | sort | .[(length - 1) / 2 | floor]'; }
listed() { jq -rn --argjson a "$1" '$a | map(. * 100 | floor | tostring + "%") | join(", ")'; }
LEGACY_RATIOS="$(ratios legacy "step 8" "baseline (no auth)")"
MODERN_RATIOS="$(ratios modern "step 8" "baseline (no auth)")"
STEP10_RATIOS="$(ratios legacy "step 10" "step 8")"
LEGACY_MEDIAN="$(median "$LEGACY_RATIOS")"; MODERN_MEDIAN="$(median "$MODERN_RATIOS")"
STEP10_MEDIAN="$(median "$STEP10_RATIOS")"
echo "  step 8 / baseline, legacy requests, per round: $(listed "$LEGACY_RATIOS")"
echo "  step 8 / baseline, 2026-07-28 requests, per round: $(listed "$MODERN_RATIOS")"
echo "  step 10 / step 8, one token, per round: $(listed "$STEP10_RATIOS")"

# ------------------------------------------------------------------ table and targets
r() { jq -s --arg n "$1" --arg m "$2" ".[] | select(.name == \$n and .mode == \$m) | $3" "$RESULTS"; }
BASE_RPS="$(jq -s '[.[] | select((.name | startswith("baseline")) and (.mode | endswith("modern") | not)) | .rps] | max' "$RESULTS")"
TABLE="$WORK/table.md"
{
  echo "| server | mode | req/s | vs baseline | p50 ms | p99 ms | non-2xx | socket errors | peak RSS MiB | server CPU µs/req | wrk CPU µs/req | JWKS fetches | cache hits / misses | others' CPU |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  jq -rs --argjson base "$BASE_RPS" '.[] |
    "| \(.name) | \(.mode) | \(.rps | floor) | \(.rps / $base * 100 | floor)% | \(.p50_ms * 100 | round / 100) | \(.p99_ms * 100 | round / 100) | \(.non2xx) | \(.socket_errors) | \(.peak_rss_mib * 10 | round / 10) | \(.cpu_us_per_request * 10 | round / 10) | \(.wrk_cpu_us_per_request * 10 | round / 10) | \(.jwks_fetches // "–") | \(if .cache_hits == null then "–" else "\(.cache_hits) / \(.cache_misses)" end) | \(.others_cpu_pct | round)% |"' "$RESULTS"
} >"$TABLE"
section "results"
cat "$TABLE"

section "targets (issues 6 and 28)"
CHECKS="$WORK/checks.md"
: >"$CHECKS"
target() { # target OK DESCRIPTION
  if [ "$1" = true ]; then pass "$2"; echo "- ✅ $2" >>"$CHECKS"; else fail "$2"; echo "- ❌ $2" >>"$CHECKS"; fi
}
S8="$(r "step 8" "one token" .rps)"; S8D="$(r "step 8" "distinct tokens" .rps)"
S10="$(r "step 10" "one token" .rps)"; S10D="$(r "step 10, cache off" "distinct tokens" .rps)"
pct() { jq -n "$1 / $2 * 100 | floor"; }
target "$(jq -n "$LEGACY_MEDIAN >= 0.85")" "step 8, one token: $(jq -n "$LEGACY_MEDIAN * 100 | floor")% of the baseline's req/s, the median of $ROUNDS paired rounds ($(listed "$LEGACY_RATIOS"); target ≥ 85%, issue 28)"
target "$(r "step 8" "one token" '.p99_ms <= 20')" "step 8, one token: p99 $(r "step 8" "one token" '.p99_ms') ms (target ≤ 20 ms)"
target "$(r "step 8" "one token" '.non2xx == 0 and .socket_errors == 0')" "step 8, one token: $(r "step 8" "one token" .non2xx) non-2xx, $(r "step 8" "one token" .socket_errors) socket errors, at the default log level (target 0)"
target "$(jq -n "$S8D >= 8000")" "step 8, distinct tokens: $(jq -n "$S8D | floor") req/s (target ≥ 8,000)"
target "$(r "step 8" "distinct tokens" '.cache_hits == 0 and .non2xx == 0')" "step 8, distinct tokens: every request verified in full ($(r "step 8" "distinct tokens" .cache_hits) cache hits, $(r "step 8" "distinct tokens" .non2xx) non-2xx)"
target "$(jq -n "$STEP10_MEDIAN >= 0.90")" "step 10, one token: $(jq -n "$STEP10_MEDIAN * 100 | floor")% of step 8's req/s, the median of $ROUNDS paired rounds ($(listed "$STEP10_RATIOS"); target within 10%)"
target "$(jq -n "$S10D >= 0.90 * $S8D")" "step 10, every request verified: $(pct "$S10D" "$S8D")% of step 8's distinct-token req/s (target within 10%)"
S10I="$(r "step 10, introspection" "one token" .rps)"
target "$(jq -n "$S10I >= 0.85 * $S10")" "step 10, introspection with its 10 s cache: $(pct "$S10I" "$S10")% of offline step 10's req/s (target within 15%); $(r "step 10, introspection" "one token" .introspection_calls) introspection calls in the ${DURATION} s run"
echo "- ℹ️ step 10, introspection uncached (INTROSPECTION_CACHE_SECONDS=0, one Keycloak call per request): $(r "step 10, introspection uncached" "one token" '.rps | floor') req/s, p50 $(r "step 10, introspection uncached" "one token" '.p50_ms * 100 | round / 100') ms, p99 $(r "step 10, introspection uncached" "one token" '.p99_ms * 100 | round / 100') ms, $(r "step 10, introspection uncached" "one token" .introspection_calls) introspection calls (not a target: what the cache saves)" >>"$CHECKS"
target "$(jq -s '[.[] | select(.name | startswith("step 10")) | .jwks_fetches] | all(. == 0)' "$RESULTS")" "step 10: $(jq -s '[.[] | select(.name | startswith("step 10")) | .jwks_fetches] | add' "$RESULTS") JWKS fetches during the steady runs (target 0)"
target "$(jq -s '[.[] | select(.name | startswith("step")) | .non2xx + .socket_errors] | add == 0' "$RESULTS")" "no non-2xx answer and no socket error in any authenticated run"
target "$(jq -n "$MODERN_MEDIAN >= 0.85")" "step 8, one token, 2026-07-28 requests: $(jq -n "$MODERN_MEDIAN * 100 | floor")% of the baseline's req/s for the same shape, the median of $ROUNDS paired rounds ($(listed "$MODERN_RATIOS"); target ≥ 85%, issue 28)"
S4="$(r "step 4 (no auth)" "one token" .rps)"
echo "  info step 8 vs step 4 (same Origin guard and log line, no CORS, auth or policy): $(pct "$S8" "$S4")% of its req/s; server CPU $(r "step 4 (no auth)" "one token" '.cpu_us_per_request * 10 | round / 10') → $(r "step 8" "one token" '.cpu_us_per_request * 10 | round / 10') µs/req"
echo "- ℹ️ step 8 vs step 4 (same Origin guard and log line; no CORS, auth or policy): $(pct "$S8" "$S4")% of its req/s; server CPU $(r "step 4 (no auth)" "one token" '.cpu_us_per_request * 10 | round / 10') → $(r "step 8" "one token" '.cpu_us_per_request * 10 | round / 10') µs/req (not a target: what CORS, bearer auth with the cache and the policy cost together)" >>"$CHECKS"

if [ "$OUT" != "-" ]; then
  mkdir -p "$(dirname "$OUT")"
  SECTION="$WORK/section.md"
  {
    echo "## Throughput (\`scripts/bench.sh\`)"
    echo
    echo "Produced by \`scripts/bench.sh\` (release builds; wrk, $CONNECTIONS connections, $THREADS threads, ${DURATION} s per run after ${WARMUP} s of warm-up; a fresh server process per run; authenticated \`tools/call echo\`; default log level, one INFO line per request written to a file). Load average before the runs: $LOAD_BEFORE."
    echo
    machine_md
    echo
    cat "$TABLE"
    echo
    echo "- *vs baseline*: requests/s as a share of \`examples/bench_baseline.rs\` (same request bytes, same JSON-RPC parsing and \`echo\` result; no Origin guard, CORS, auth, policy or log line), measured in the same run, first and last; the share is taken of the faster of the two baseline runs. *step 8, RUST_LOG=warn* (no log line) and *step 4* (guard and log line, no CORS, auth or policy) show where the rest of the difference goes."
    echo "- *paired rounds*: the targets on ratios are not read from this table. The machine's speed drifts by 10-15% within one run of the script (compare the two baseline rows), so they take $ROUNDS rounds of ${ROUND_SECONDS} s runs of the servers compared (baseline and step 8 per request shape; step 8 and step 10 with one token), one right after the other with the order rotating, and compare the median of the rounds' ratios."
    echo "- *one token, modern*: the same call as a 2026-07-28 request (\`MCP-Protocol-Version\`, \`Mcp-Method\`, \`Mcp-Name\`, \`params._meta\`); its *vs baseline* column is still relative to the legacy baseline; the target compares it with the baseline in the same shape (paired rounds, below). *one token*: the same token on every request (what MCP clients do); the verified-token cache answers after the first request. *distinct tokens*: step 8 sends $DISTINCT different tokens round-robin, more than the cache holds, so each request pays one RS256 verification (the hit counter proves it). Keycloak's password grant mints tens of tokens per second, so step 10 runs with \`--token-cache-size 0\` over $KC_DISTINCT tokens instead: the same one-verification-per-request cost."
    echo "- *server CPU µs/req* and *wrk CPU µs/req*: user+system time of the server and of the load generator during the run, divided by the requests served. Both share the same cores, so requests/s ≈ cores ÷ (server + wrk + kernel per request); the server's figure holds whatever the sharing."
    echo "- *others' CPU*: the share of the machine's CPU used during the run by processes other than this server and wrk (other work on the machine makes every figure lower)."
    echo "- *peak RSS*: the server's VmHWM at the end of the run. *JWKS fetches*: the change of \`/health\` \`issuer_keys.fetches\` over the measured run. *cache hits / misses*: the change of \`/health\` \`token_cache\` counters."
    echo
    echo "Targets (issues 6 and 28):"
    echo
    cat "$CHECKS"
  } >"$SECTION"
  write_section "$OUT" bench "$SECTION"
  echo
  echo "wrote $OUT"
fi
finish
