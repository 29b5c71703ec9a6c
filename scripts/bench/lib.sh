# shellcheck shell=bash disable=SC2034,SC2119  # BIN, LUA_DIR, CHILD_TICKS: read by the sourcing scripts
# Shared by scripts/bench.sh, scripts/soak_step8.sh and scripts/fault_step10.sh: release builds,
# wrk, real Keycloak (scripts/keycloak_lib.sh), process figures from /proc, and writing a section
# of docs/benchmarks.md. Built on scripts/lib.sh (start_server, PIDS, cleanup, pass/fail/finish).
#
# Everything listens on 127.0.0.1 and every load run is bounded in time (wrk -d).

# shellcheck source=../lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=../keycloak_lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../keycloak_lib.sh"
BIN="$ROOT/target/release"
LUA_DIR="$ROOT/scripts/bench"
# The binaries read these; a value left in the caller's shell would change what is measured.
unset RUST_LOG JWT_ISSUER JWT_AUDIENCE KEYCLOAK_URL KEYCLOAK_REALM MCP_SERVER_URL ALLOWED_ORIGINS \
  ALLOWED_HOSTS JWKS_REFRESH_SECONDS JWKS_MIN_REFETCH_SECONDS MCP_PUBLIC_KEY TOKEN_CACHE_SIZE DPOP

# build_release: the binaries and the examples (bench_baseline, mint_tokens), optimised.
build_release() {
  echo "building release binaries and examples (cargo build --release --bins --examples)"
  (cd "$ROOT" && cargo build --release --bins --examples --quiet) || { echo "build failed"; exit 1; }
}

# ensure_wrk: installs wrk from Debian when it is missing.
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  echo "installing wrk (apt-get install wrk)"
  if ! apt-get install -y -qq wrk >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq wrk >/dev/null 2>&1 || { echo "cannot install wrk"; exit 1; }
  fi
}

# stop_pid PID: stops one process we started, waits for it, and drops it from PIDS (so that the
# exit trap never signals a recycled PID).
stop_pid() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  forget_pid "$1"
}

# forget_pid PID: drops a process that has ended (and was waited for) from PIDS.
forget_pid() {
  local kept=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# kc_tokens N FILE: N distinct Keycloak access tokens for mcp-user, one per line (4 password
# grants in parallel).
kc_tokens() {
  local n="$1" file="$2"
  # One at a time: with the realm's brute-force detection on, Keycloak 26.7 answers concurrent
  # password grants for one user with user_temporarily_disabled (measured: 2 at a time, 11 of 20
  # refused), though every password is right.
  seq 1 "$n" | xargs -P 1 -I{} curl -fsS --max-time 10 "$KC_ISSUER/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=mcp-test-client -d username=mcp-user -d password=user123 \
    --data-urlencode 'scope=openid mcp:read mcp:tools' -o "$WORK/tok.{}.json"
  for i in $(seq 1 "$n"); do jq -r .access_token "$WORK/tok.$i.json"; done >"$file"
  rm -f "$WORK"/tok.*.json
  [ "$(grep -c '^eyJ' "$file")" -eq "$n" ] || { echo "could not get $n tokens from Keycloak"; exit 1; }
}

# start_step8 [ARGS...] / start_step10 [ARGS...] / start_baseline: a release server on a free
# port (lib.sh's start_server: BASE, SERVER_PID, SERVER_LOG).
start_step8() { start_server step8 "$@"; }
start_step10() { MCP_SERVER_URL=http://localhost:9000 start_server step10 "$@"; }
start_baseline() { mkdir -p "$WORK/examples"; start_server examples/bench_baseline; }

# /proc figures of a process: resident set now / at its peak (KiB), CPU time (clock ticks).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# busy_ticks: CPU time used by everything on the machine (clock ticks, all cores).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# read_children_ticks: sets CHILD_TICKS to the CPU time of this shell's finished children (wrk),
# from bash's `times` (call it directly, not in $(...): a subshell has children of its own).
read_children_ticks() {
  times >"$WORK/times.txt"
  CHILD_TICKS="$(tail -n 1 "$WORK/times.txt" | awk -v hz="$(getconf CLK_TCK)" '
    function secs(t) { split(t, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
    {printf "%d", (secs($1) + secs($2)) * hz}')"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# health FILTER: a jq filter applied to $BASE/health (e.g. '.issuer_keys.fetches').
health() { curl -fsS --max-time 5 "$BASE/health" | jq -r "$1"; }

# machine_md: the machine, as markdown list items.
machine_md() {
  local cpu mem
  cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  mem="$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- CPU: $(nproc) cores, ${cpu:-unknown model} (load generator and server share them)"
  echo "- memory: $mem; kernel: $(uname -r)"
  echo "- $(rustc --version); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); node $(node --version)"
}

# write_section FILE NAME CONTENT_FILE: replaces the text between <!-- NAME:begin --> and
# <!-- NAME:end --> in FILE (appends the section when it is not there yet).
write_section() {
  local file="$1" name="$2" content="$3"
  [ -f "$file" ] || printf '# Benchmarks\n' >"$file"
  if grep -q "<!-- $name:begin -->" "$file"; then
    awk -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" -v c="$content" '
      $0 == b { print; while ((getline line < c) > 0) print line; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
  else
    { echo; echo "<!-- $name:begin -->"; cat "$content"; echo "<!-- $name:end -->"; } >>"$file"
  fi
}
