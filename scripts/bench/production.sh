#!/usr/bin/env bash
# What the TLS proxy costs (docs/production.md): examples/prod_load.rs (release, 8 workers, one
# token, kept-alive connections) against one release step 10 replica of the production setup,
# straight to its bind address (plain HTTP) and through nginx (TLS), alternating, then through
# nginx with all three replicas. Writes the "production" section of docs/benchmarks.md.
#
#   scripts/bench/production.sh          # ~2 min; BENCH_OUT=- prints only; SECONDS_EACH (10)
#
# Uses the production setup when it runs (its replicas are restarted on the release binary and
# left so), else starts it and stops it at the end.
set -u
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks.md}"
EACH="${SECONDS_EACH:-10}"
PROD_SH="$ROOT/scripts/production.sh"
CA="$ROOT/.production/ca/ca.crt"
export PRODUCTION_STEP10="$ROOT/target/release/step10"
(cd "$ROOT" && cargo build --release --quiet --bin step10 --example prod_load) || { echo "build failed"; exit 1; }
started=0
if ! "$PROD_SH" status >/dev/null 2>&1; then
  SKIP_BUILD=1 "$PROD_SH" start || exit 1
  started=1
fi
stop_setup() { [ "$started" = 1 ] && "$PROD_SH" stop >/dev/null; }
trap stop_setup EXIT
for n in 1 2 3; do "$PROD_SH" replica stop "$n" >/dev/null; "$PROD_SH" replica start "$n"; done
curl -sS --cacert "$CA" --max-time 10 https://localhost:8443/realms/mcp-realm/protocol/openid-connect/token \
  -d grant_type=password -d client_id=mcp-test-client -d username=mcp-user -d password=user123 \
  -d 'scope=openid mcp:read mcp:tools' | jq -r '.access_token // empty' >"$WORK/token"
[ -s "$WORK/token" ] || { echo "no token from Keycloak"; exit 1; }

# run NAME URL: one run of $EACH seconds; prints requests per second, "failed" if any failed.
run() {
  local result
  result="$(SSL_CERT_FILE="$CA" "$ROOT/target/release/examples/prod_load" --url "$2" \
    --token-file "$WORK/token" --workers 8 --max-seconds "$EACH")"
  echo "$1 $(jq -r '"\(.per_second) \(.failed)"' <<<"$result")" | tee -a "$WORK/runs"
}
"$PROD_SH" replica stop 2 >/dev/null
"$PROD_SH" replica stop 3 >/dev/null
sleep 6   # nginx's fail_timeout: its first refused connects to 2 and 3 are behind it
for round in 1 2; do
  run direct http://127.0.0.1:19001/mcp
  run proxy https://localhost:9443/mcp
done
"$PROD_SH" replica start 2
"$PROD_SH" replica start 3
sleep 6
run proxy3 https://localhost:9443/mcp
run proxy3 https://localhost:9443/mcp

median() { grep "^$1 " "$WORK/runs" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {printf "%.0f\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
failed="$(awk '{s += $3} END {print s}' "$WORK/runs")"
direct="$(median direct)"; proxy="$(median proxy)"; proxy3="$(median proxy3)"
us() { awk -v r="$1" 'BEGIN { printf "%.0f", 1e6 / r }'; }
cost="$(awk -v d="$direct" -v p="$proxy" 'BEGIN { printf "%.0f", 1e6 / p - 1e6 / d }')"
SECTION="$WORK/section.md"
{
  echo "## The TLS proxy (\`scripts/bench/production.sh\`)"
  echo
  echo "Produced by \`scripts/bench/production.sh\` on the production setup of [docs/production.md](production.md): \`examples/prod_load.rs\` (release, 8 workers, one token, 2026-07-28 \`tools/call echo\`, kept-alive connections) against release step 10 replicas, $EACH s per run, medians of the runs. Everything shares the 2 cores: the load generator, nginx's two workers, the replicas and the idle Keycloak nodes, so these are the machine's throughput with and without the proxy hop, not the proxy's own limit."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; $(rustc --version); $(nginx -v 2>&1 | sed 's/.*: //')"
  echo
  echo "| path | replicas | requests/s | per request (all processes) |"
  echo "|---|---|---:|---:|"
  echo "| straight to the replica, plain HTTP | 1 | $direct | $(us "$direct") µs |"
  echo "| through nginx, TLS 1.3 from the client, kept-alive HTTP upstream | 1 | $proxy | $(us "$proxy") µs |"
  echo "| through nginx, TLS, three replicas | 3 | $proxy3 | $(us "$proxy3") µs |"
  echo
  echo "- The proxy hop (TLS record work, nginx parsing and proxying, a second loopback connection) costs about $cost µs of machine time per request here: $(awk -v d="$direct" -v p="$proxy" 'BEGIN { printf "%.0f", 100 * p / d }')% of the direct throughput. Three replicas on two cores add no throughput; they add availability (the fault table in docs/production.md)."
  echo "- Failed requests across all runs: $failed."
} >"$SECTION"
cat "$SECTION"
if [ "$OUT" != "-" ]; then
  write_section "$OUT" production "$SECTION"
  echo "wrote $OUT"
fi
