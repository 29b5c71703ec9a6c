#!/usr/bin/env bash
# The official MCP conformance suite's requirement sets (@modelcontextprotocol/conformance,
# pinned in scripts/interop/package-lock.json; `--requirements`), for both revisions this project
# serves, client and server, each graded against its expected-failures file:
#   client  step 11 (through scripts/step11_conformance.sh --as-client)
#   server  step 4 (no auth), and step 8 with a demo token added by
#           scripts/conformance/token_forwarder.py (the suite sends no token)
#
#   scripts/conformance.sh [--set 2026-07-28|2025-11-25]... [--client] [--server] [--keep DIR]
#   (default: both sets, client and server: 6 runs)
#
# Each run uses the suite's own baseline mode (--expected-failures
# scripts/conformance/expected-failures-<set>.yml: an unexpected failure, or a listed failure that
# now passes, fails it), and scripts/conformance/grade.py adds what that mode leaves out for the
# scenarios a set runs without scoring. One "ok - …" / "not ok - …" line per run with the counts,
# then "N passed, M failed" (runs). With $SUITE_NOTE set (scripts/test_all.sh), the per-set
# counts are also written there for the summary line. Set SKIP_BUILD=1 to skip `cargo build`.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

SETS=()
LEGS=()
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --set) SETS+=("${2:?--set needs 2026-07-28 or 2025-11-25}"); shift 2 ;;
    --client) LEGS+=(client); shift ;;
    --server) LEGS+=(server); shift ;;
    --keep) KEEP="${2:?--keep needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "conformance.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#SETS[@]} -gt 0 ] || SETS=(2026-07-28 2025-11-25)
[ ${#LEGS[@]} -gt 0 ] || LEGS=(client server)
for set in "${SETS[@]}"; do
  case "$set" in
    2026-07-28|2025-11-25) ;;
    *) echo "conformance.sh: --set $set: the requirement sets are 2026-07-28 and 2025-11-25" >&2; exit 2 ;;
  esac
done

build_once
"$ROOT/scripts/interop/install.sh" || { echo "interop tools could not be installed"; exit 1; }
NODE="$ROOT/scripts/interop/node_modules/.bin/node"
PKG="$ROOT/scripts/interop/node_modules/@modelcontextprotocol/conformance"
HERE="$ROOT/scripts/conformance"
echo "# MCP conformance $(jq -r .version "$PKG/package.json") (node $("$NODE" --version)), requirement sets: ${SETS[*]}"

# run_set SET LEG LABEL ARGS...: one suite run in baseline mode, then grade.py.
NOTES=()
run_set() {
  local set="$1" leg="$2" label="$3"; shift 3
  local out="$WORK/$leg-$set-${label//[^a-z0-9]/}" started=$SECONDS rc line
  mkdir -p "$out"
  NO_COLOR=1 NO_PROXY='*' no_proxy='*' timeout 900 "$NODE" "$PKG/dist/index.js" "$leg" "$@" \
    --requirements "$set" --expected-failures "$HERE/expected-failures-$set.yml" -o "$out/results" \
    >"$out/output.txt" 2>&1
  rc=$?
  line="$(python3 "$HERE/grade.py" --output "$out/output.txt" --requirements "$PKG/requirements/$set.yaml" \
    --baseline "$HERE/expected-failures-$set.yml" --leg "$leg" --label "$set $leg $label" --exit-code "$rc" --seconds "$((SECONDS - started))")"
  local graded=$?
  printf '%s\n' "$line"
  if [ "$graded" -eq 0 ]; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    # The suite's own words: its summary and baseline verdict.
    sed -n -e 's/\x1b\[[0-9;]*m//g' -e '/SUMMARY ===/,$p' "$out/output.txt" | sed 's/^/#   /' | tail -n 60
  fi
  NOTES+=("$set $leg $label $(printf '%s' "$line" | sed -n 's/^.*: \([0-9]* of [0-9]*\) required.*/\1/p')")
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; cp -R "$out" "$KEEP/"; fi
}

for set in "${SETS[@]}"; do
  for leg in "${LEGS[@]}"; do
    if [ "$leg" = client ]; then
      run_set "$set" client "step11" --command "$(printf '%q' "$ROOT/scripts/step11_conformance.sh") --as-client"
    else
      start_server step4
      run_set "$set" server "step4" --url "${BASE/127.0.0.1/localhost}/mcp"
      stop_server "$SERVER_PID"
      start_server step8
      target="$BASE"
      token="$("$BIN/generate-token" --username conformance --scopes mcp:read,mcp:tools,mcp:prompts 2>/dev/null)"
      fwd_out="$WORK/forwarder.$RANDOM.out"
      FORWARD_TOKEN="$token" python3 "$HERE/token_forwarder.py" --target "$target" >"$fwd_out" 2>&1 &
      fwd_pid=$!
      PIDS+=("$fwd_pid")
      deadline=$((SECONDS + 10)); fwd=""
      while [ $SECONDS -lt $deadline ] && [ -z "$fwd" ]; do
        fwd="$(sed -n 's/^listening on //p' "$fwd_out")"; [ -n "$fwd" ] || sleep 0.1
      done
      if [ -z "$fwd" ]; then
        FAILED=$((FAILED + 1)); echo "not ok - $set server step8: the token forwarder did not start: $(cat "$fwd_out")"
      else
        run_set "$set" server "step8 (token forwarded)" --url "${fwd/127.0.0.1/localhost}/mcp"
      fi
      stop_server "$fwd_pid"
      stop_server "$SERVER_PID"
    fi
  done
done
if [ -n "${SUITE_NOTE:-}" ]; then
  printf '%s; ' "${NOTES[@]}" | sed 's/; $//' >"$SUITE_NOTE"
fi
finish
