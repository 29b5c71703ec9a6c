#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers whose arguments are optional
# Fault test of step 10 (release build) against real Keycloak (the one scripts/keycloak.sh runs:
# this script stops and starts it):
#
#  1. Keycloak outage under load. wrk drives `tools/call` with a valid token for FAULT_SECONDS
#     (60); 3 s in, Keycloak is stopped; while it is down a token with an unknown `kid` forces a
#     refetch, which fails: that request gets 503 + Retry-After (the kid may be a key Keycloak
#     rotated in) and the last good keys stay. Keycloak is then started again (same database, same
#     keys) while the load goes on. Every request with the valid token must succeed: 0 non-2xx.
#  2. Key rotation through the Admin REST API: a new active RSA key provider, the old one removed.
#     A token from the new key must be accepted after exactly one JWKS refetch, then hold under
#     wrk load with 0 non-2xx and 0 further fetches; the old token is refused from then on (its
#     key left the JWKS, and the token cache drops it).
#
#   scripts/fault_step10.sh          # ~80 s; FAULT_OUT=- to skip writing docs/benchmarks.md
set -u
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/bench/lib.sh"

LOAD_SECONDS="${FAULT_SECONDS:-60}"
CONNECTIONS=16
THREADS=2
OUT="${FAULT_OUT:-$ROOT/docs/benchmarks.md}"
LUA="$LUA_DIR/mcp_call.lua"
BODY_JSON='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'

build_release
ensure_wrk
use_keycloak
"$ROOT/scripts/keycloak.sh" status >/dev/null 2>&1 || { echo "the Keycloak at $KEYCLOAK_URL was not started by scripts/keycloak.sh: this script must stop and start it"; exit 1; }

# kid_of TOKEN: the kid of a JWT's header (not verified).
kid_of() {
  local h="${1%%.*}"
  h="$(printf '%s' "$h" | tr '_-' '/+')"
  while [ $((${#h} % 4)) -ne 0 ]; do h="$h="; done
  printf '%s' "$h" | base64 -d 2>/dev/null | jq -r .kid
}
call() { # call TOKEN: POST tools/call; sets STATUS, $BODY
  rpc "$BODY_JSON" -H "Authorization: Bearer $1"
}
fetches() { health .issuer_keys.fetches; }

section "setup"
start_step10 --jwks-min-refetch 2
echo "  Keycloak $KC_VERSION at $KEYCLOAK_URL; step 10 at $BASE (JWKS refresh every 300 s, refetch on unknown kid at most every 2 s)"
T1="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1
printf '%s\n' "$T1" >"$WORK/t1.txt"
call "$T1"; expect_status 200 "a token from the running Keycloak is accepted"
F_START="$(fetches)"

section "1. Keycloak outage under load (${LOAD_SECONDS} s of wrk; Keycloak stopped at 3 s, then started again)"
LOAD_AVG="$(cut -d' ' -f1 /proc/loadavg)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${LOAD_SECONDS}s" -s "$LUA" "$BASE" -- "$WORK/t1.txt" "$THREADS" \
  >"$WORK/outage.txt" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
sleep 3
"$ROOT/scripts/keycloak.sh" stop >"$WORK/kc-stop.log" 2>&1
DOWN_AT=$SECONDS
if kc_discovery_answers "$KEYCLOAK_URL"; then
  fail "Keycloak still answers after scripts/keycloak.sh stop"
else
  pass "Keycloak is down (discovery unreachable)"
fi
sleep 1
# A token naming an unknown kid makes the cache refetch now; the fetch fails; keys must stay.
JUNK_HEADER="$(printf '{"alg":"RS256","typ":"JWT","kid":"fault-test-unknown-kid"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')"
call "$JUNK_HEADER.${T1#*.}"
expect_status 503 "unknown kid while Keycloak is down: 503 (it may be a rotated-in key), not invalid_token"
expect_header Retry-After '^[0-9]+$' "… with Retry-After"
request GET /health
expect_jq '.issuer_keys.state == "ok"' "/health: keys still ok while Keycloak is down"
expect_jq '.issuer_keys.last_error | type == "string"' "/health: the failed refetch is reported (last_error)"
"$ROOT/scripts/keycloak.sh" start --keep >"$WORK/kc-start.log" 2>&1 || { cat "$WORK/kc-start.log"; fail "scripts/keycloak.sh start --keep"; }
DOWN_FOR=$((SECONDS - DOWN_AT))
echo "  Keycloak back after ~${DOWN_FOR} s (same database, same keys)"
wait "$WRK_PID"
forget_pid "$WRK_PID"
OUTAGE="$(sed -n 's/^BENCH //p' "$WORK/outage.txt")"
[ -n "$OUTAGE" ] || { echo "wrk produced no result:"; cat "$WORK/outage.txt"; exit 1; }
o() { echo "$OUTAGE" | jq -r "$1"; }
O_SOCK="$(o '.connect_errors + .read_errors + .write_errors + .timeouts')"
if [ "$(o .non2xx)" = 0 ] && [ "$O_SOCK" = 0 ] && [ "$(o .requests)" -gt 0 ]; then
  pass "$(o .requests) requests with the cached key during the outage: 0 non-2xx, 0 socket errors"
else
  fail "during the outage: $(o .non2xx) non-2xx, $O_SOCK socket errors in $(o .requests) requests"
fi
F_OUTAGE="$(fetches)"
echo "  JWKS fetches: $F_START before the outage, $F_OUTAGE after it (the one failed refetch counts)"

section "2. key rotation through the Admin REST API: a new active RSA key, the old one removed"
R="/admin/realms/$KC_REALM"
kc_admin GET "$R/keys" >"$WORK/keys.json"
OLD_PROVIDER="$(jq -r '[.keys[] | select(.algorithm == "RS256" and .use == "SIG" and .status == "ACTIVE")] | max_by(.providerPriority) | .providerId' "$WORK/keys.json")"
REALM_ID="$(kc_admin GET "$R" | jq -r .id)"
kc_admin POST "$R/components" "{\"name\":\"rsa-rotated-by-fault-step10\",\"providerId\":\"rsa-generated\",\"providerType\":\"org.keycloak.keys.KeyProvider\",\"parentId\":\"$REALM_ID\",\"config\":{\"priority\":[\"300\"],\"keySize\":[\"2048\"],\"active\":[\"true\"],\"enabled\":[\"true\"],\"algorithm\":[\"RS256\"]}}" >/dev/null
expect_eq "$KC_STATUS" 201 "Admin REST API: new rsa-generated key provider (HTTP 201)"
kc_admin DELETE "$R/components/$OLD_PROVIDER" >/dev/null
expect_eq "$KC_STATUS" 204 "Admin REST API: old key provider removed (HTTP 204)"
T2="$(kc_token mcp-user user123 "openid mcp:read mcp:tools")" || exit 1
printf '%s\n' "$T2" >"$WORK/t2.txt"
K1="$(kid_of "$T1")"; K2="$(kid_of "$T2")"
if [ -n "$K2" ] && [ "$K1" != "$K2" ]; then pass "the new token names a new kid"; else fail "kid unchanged ($K1)"; fi
sleep 2 # let the 2 s refetch window that the failed refetch opened close
F_BEFORE="$(fetches)"
call "$T2"; expect_status 200 "a token from the new key is accepted"
F_AFTER="$(fetches)"
if [ "$F_AFTER" -eq $((F_BEFORE + 1)) ]; then pass "after exactly one JWKS refetch ($F_BEFORE → $F_AFTER)"; else fail "JWKS fetches $F_BEFORE → $F_AFTER (expected one)"; fi
wrk -t"$THREADS" -c"$CONNECTIONS" -d5s -s "$LUA" "$BASE" -- "$WORK/t2.txt" "$THREADS" >"$WORK/rotated.txt" 2>&1
ROTATED="$(sed -n 's/^BENCH //p' "$WORK/rotated.txt")"
r() { echo "$ROTATED" | jq -r "$1"; }
R_SOCK="$(r '.connect_errors + .read_errors + .write_errors + .timeouts')"
if [ "$(r .non2xx)" = 0 ] && [ "$R_SOCK" = 0 ] && [ "$(r .requests)" -gt 0 ]; then
  pass "$(r .requests) requests with the new key under load: 0 non-2xx, 0 socket errors"
else
  fail "new key under load: $(r .non2xx) non-2xx, $R_SOCK socket errors in $(r .requests) requests"
fi
F_STEADY="$(fetches)"
if [ "$F_STEADY" = "$F_AFTER" ]; then pass "0 JWKS fetches during that run"; else fail "JWKS fetches $F_AFTER → $F_STEADY during a steady run"; fi
call "$T1"
expect_status 401 "the old token is refused now that its key left the JWKS"
expect_jq '.error_description == "unknown signing key (kid)"' "… as an unknown signing key (the token cache dropped it)"
expect_log_lacks "$T1" "no token in any log"

if [ "$OUT" != "-" ]; then
  mkdir -p "$(dirname "$OUT")"
  SECTION="$WORK/section.md"
  {
    echo "## Issuer outage and key rotation (\`scripts/fault_step10.sh\`)"
    echo
    echo "Step 10 (release build, default settings but \`--jwks-min-refetch 2\`) against Keycloak $KC_VERSION (\`scripts/keycloak.sh\`); wrk, $CONNECTIONS connections, $THREADS threads. 1-minute load average at the start: $LOAD_AVG."
    echo
    machine_md
    echo
    echo "| phase | requests | non-2xx | socket errors | req/s | p99 ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| ${LOAD_SECONDS} s of load; Keycloak stopped at 3 s, answering again ~${DOWN_FOR} s later | $(o .requests) | $(o .non2xx) | $O_SOCK | $(jq -n "$(o .requests) / ($(o .duration_us) / 1e6) | floor") | $(jq -n "$(o .p99_us) / 1000") |"
    echo "| 5 s of load with a token from the new key | $(r .requests) | $(r .non2xx) | $R_SOCK | $(jq -n "$(r .requests) / ($(r .duration_us) / 1e6) | floor") | $(jq -n "$(r .p99_us) / 1000") |"
    echo
    echo "- While Keycloak was down, a token with an unknown \`kid\` forced a refetch; it failed, that request got 503 + \`Retry-After\`, \`/health\` kept \`issuer_keys.state: ok\` and reported \`last_error\`, and the cached key kept serving."
    echo "- JWKS fetches (\`/health\` \`issuer_keys.fetches\`): $F_START at start, $F_OUTAGE after the outage (the failed refetch), $F_AFTER after the first new-key request (one refetch), $F_STEADY after the 5 s run (none during it)."
    echo "- Rotation: a new \`rsa-generated\` key provider through the Admin REST API, the old one deleted. The old token is then refused (401 \`unknown signing key (kid)\`): its key left the JWKS, and the verified-token cache does not outlive it."
    echo
    echo "Checks: $PASSED passed, $FAILED failed."
  } >"$SECTION"
  write_section "$OUT" fault "$SECTION"
  echo "wrote $OUT"
fi
finish
