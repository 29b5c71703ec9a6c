#!/usr/bin/env bash
# Where a request's time goes, layer by layer, in figures that hold on a noisy machine:
# instructions per request (scripts/bench/instructions.sh, valgrind's callgrind) for the bench
# baseline and for each step from 1 to 8, each step adding one layer of the tutorial; then the
# in-process layer benchmark (examples/bench_layers.rs, µs per request). Writes the
# "instructions" section of docs/benchmarks.md and the chart docs/images/instructions.svg from
# its own figures.
#
#   scripts/bench/steps.sh            # ~3 minutes after the build; BENCH_OUT=- prints only
#
# Every server gets the same authenticated `tools/call echo` (the 2025-11-25 shape; step 8 and
# the baseline also the 2026-07-28 shape). Step 1 has no /mcp yet: it is measured on GET /health,
# next to the baseline's GET /health. Steps 2-3 answer "Method not found" (tools/call arrives with
# step 4's dispatch): their rows are what they do with that request. Installs valgrind from
# Debian if missing.
set -u
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks.md}"
SVG="${BENCH_SVG:-$ROOT/docs/images/instructions.svg}"
build_release
if ! command -v valgrind >/dev/null; then
  echo "installing valgrind (apt-get install valgrind)"
  apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq valgrind >/dev/null 2>&1; } || {
    echo "valgrind is missing and could not be installed"; exit 1; }
fi
FIGS="$WORK/figures.tsv"
: >"$FIGS"
# count LABEL BINARY SHAPE REQUEST WHAT (REQUEST: mcp or health)
count() {
  local line
  line="$(REQUEST="$4" "$ROOT/scripts/bench/instructions.sh" "$2" "$3")" || { fail "$1: $line"; return; }
  local n="${line%% *}"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$n" "$3" "$4" "$5" >>"$FIGS"
  pass "$1 ($3): $n instructions per request"
}
section "instructions per request (callgrind; 2,000 requests on one kept-alive connection)"
count "baseline, GET /health" "$BIN/examples/bench_baseline" legacy health "the bare /health handler"
count "step 1, GET /health" "$BIN/step1" legacy health "serve loop and its limits, Origin/Host guard, request log"
count "baseline" "$BIN/examples/bench_baseline" legacy mcp "the bare handler: hyper, axum, JSON-RPC, echo"
count "step 2" "$BIN/step2" legacy mcp "step 1 + JSON-RPC on /mcp: -32601 (no tools yet)"
count "step 3" "$BIN/step3" legacy mcp "the tool and prompt catalog: still -32601 for tools/call"
count "step 4" "$BIN/step4" legacy mcp "dispatch: tools/call runs echo"
count "step 5" "$BIN/step5" legacy mcp "JWKS routes (no auth on /mcp yet)"
count "step 6" "$BIN/step6" legacy mcp "bearer auth: an RS256 check on every request"
count "step 7" "$BIN/step7" legacy mcp "OAuth metadata routes and CORS"
count "step 8" "$BIN/step8" legacy mcp "scopes and roles; the verified-token cache answers"
count "baseline, 2026-07-28" "$BIN/examples/bench_baseline" modern mcp "the same call as a 2026-07-28 request"
count "step 8, 2026-07-28" "$BIN/step8" modern mcp "the same call as a 2026-07-28 request, with the era checks"

section "in-process layers (examples/bench_layers.rs --log, best of 5 x 50,000)"
LAYERS="$WORK/layers.txt"
(cd "$ROOT" && "$BIN/examples/bench_layers" --log 2>/dev/null) | tee "$LAYERS" || fail "bench_layers failed"
grep -q '^| + request log' "$LAYERS" && pass "bench_layers: every layer measured" || fail "bench_layers printed no table"

if [ "$OUT" != "-" ]; then
  mkdir -p "$(dirname "$SVG")"
  python3 - "$FIGS" "$SVG" <<'PY' || fail "the chart could not be written"
import sys
from html import escape
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
figures = {label: int(n) for label, n, *_ in rows}
# (title, [(label, compared with)]): each bar shows what its server adds to the one it is compared with.
groups = [
    ("GET /health", [("baseline, GET /health", None), ("step 1, GET /health", "baseline, GET /health")]),
    ("POST /mcp tools/call echo, 2025-11-25 request",
     [("baseline", None), ("step 2", "baseline"), ("step 3", "step 2"), ("step 4", "step 3"),
      ("step 5", "step 4"), ("step 6", "step 5"), ("step 7", "step 6"), ("step 8", "step 5")]),
    ("the same call as a 2026-07-28 request", [("baseline, 2026-07-28", None), ("step 8, 2026-07-28", "baseline, 2026-07-28")]),
]
width, left, right, bar_h, gap = 920, 190, 150, 20, 8
# Steps 6 and 7 verify an RS256 signature per request: their bars are cut at twice step 8's figure.
cap = 2 * max(figures.get("step 8", 1), figures.get("step 8, 2026-07-28", 1))
px = (width - left - right) / cap
parts, y = [], 74
for title, bars in groups:
    parts.append(f'<text x="{left}" y="{y + 12}" class="h">{escape(title)}</text>')
    y += 20
    above = None
    for label, against in bars:
        if label not in figures:
            continue
        n = figures[label]
        prev = figures.get(against) if against else None
        shown = min(n, cap)
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        if prev is None or n <= prev:
            parts.append(f'<rect x="{left}" y="{y}" width="{shown * px:.1f}" height="{bar_h}" class="{"base" if prev is None else "same"}"/>')
        else:
            kept = min(prev, cap)
            parts.append(f'<rect x="{left}" y="{y}" width="{kept * px:.1f}" height="{bar_h}" class="same"/>')
            parts.append(f'<rect x="{left + kept * px:.1f}" y="{y}" width="{(shown - kept) * px:.1f}" height="{bar_h}" class="added"/>')
        if n > cap:
            x = left + cap * px
            parts.append(f'<path d="M{x - 14:.1f},{y - 2} l6,{bar_h + 4} M{x - 8:.1f},{y - 2} l6,{bar_h + 4}" stroke="#fff" stroke-width="3"/>')
        delta = "" if prev is None else f" ({n - prev:+,})" if against == above else f" ({n - prev:+,} vs {against})"
        above = label
        parts.append(f'<text x="{left + shown * px + 6:.1f}" y="{y + 14}">{n:,}{delta}</text>')
        y += bar_h + gap
    y += 10
height = y + 24
svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13" fill="#222">
<style>.h{{font-weight:bold}} .base{{fill:#7d838c}} .same{{fill:#c9ccd1}} .added{{fill:#d9822b}}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="{left}" y="22" class="h">Instructions per request (callgrind, release builds; scripts/bench/steps.sh)</text>
<text x="{left}" y="40">orange: what a step adds to the bar above it (step 8: to step 5, the last one without auth); grey: what it keeps.</text>
<text x="{left}" y="56">Bars cut by // go on: steps 6 and 7 check an RS256 signature on every request.</text>
{chr(10).join(parts)}
<text x="{left}" y="{height - 8}">Counted instructions do not move with the machine's speed; docs/benchmarks.md has the wall-clock side.</text>
</svg>
"""
open(sys.argv[2], "w").write(svg)
PY
  SECTION="$WORK/section.md"
  {
    echo "## Instructions per request, step by step (\`scripts/bench/steps.sh\`)"
    echo
    echo "Produced by \`scripts/bench/steps.sh\` (release builds; $(date -u '+%Y-%m-%d %H:%M UTC'); $(rustc --version)). Each figure is the instructions one authenticated \`tools/call echo\` costs the server, counted by valgrind's callgrind over 2,000 requests on one kept-alive connection (\`scripts/bench/instructions.sh\`: the difference between serving 4,000 and 2,000, so start-up and shutdown cancel out). All threads are counted, the log writer's too; the kernel's work is not. A count does not move with the machine's speed, so these figures compare across runs and machines where the wall-clock ones do not."
    echo
    echo "![Instructions per request, step by step](images/$(basename "$SVG"))"
    echo
    echo "| server | request | instructions / request | added | what it adds |"
    echo "|---|---|---:|---:|---|"
    awk -F'\t' '{
      added = ""
      if ($1 == "step 1, GET /health") added = sprintf("%+d", $2 - health)
      if ($1 ~ /^step [2-7]$/) added = sprintf("%+d", $2 - prev)
      if ($1 == "step 8") added = sprintf("%+d vs step 5", $2 - step5)
      if ($1 == "step 5") step5 = $2
      if ($1 == "step 8, 2026-07-28") added = sprintf("%+d vs the baseline", $2 - modern_base)
      if ($1 == "baseline, GET /health") health = $2
      if ($1 == "baseline, 2026-07-28") modern_base = $2
      request = ($4 == "health") ? "GET /health" : (($3 == "modern") ? "tools/call, 2026-07-28" : "tools/call, 2025-11-25")
      printf "| %s | %s | %d | %s | %s |\n", $1, request, $2, added, $5
      if ($4 == "mcp" && $3 == "legacy") prev = $2
    }' "$FIGS"
    echo
    s8="$(awk -F'\t' '$1 == "step 8" {print $2}' "$FIGS")"; b="$(awk -F'\t' '$1 == "baseline" {print $2}' "$FIGS")"
    s8m="$(awk -F'\t' '$1 == "step 8, 2026-07-28" {print $2}' "$FIGS")"; bm="$(awk -F'\t' '$1 == "baseline, 2026-07-28" {print $2}' "$FIGS")"
    if [ -n "$s8" ] && [ -n "$b" ] && [ -n "$s8m" ] && [ -n "$bm" ]; then
      echo "- Step 8 executes $(jq -n "$s8 / $b * 100 | round / 100") times the baseline's instructions for a 2025-11-25 request and $(jq -n "$s8m / $bm * 100 | round / 100") times for a 2026-07-28 one."
    fi
    echo "- Steps 6 and 7 verify the token's RS256 signature on every request (the tutorial shows verification before the cache); step 8's cache makes the same check once per token."
    echo "- Under valgrind the CPU's SHA extensions are hidden, so step 8's count includes the SHA-256 of the token (the cache's key) on its AVX code path: about 27,000 instructions for an 850-byte token. The CPU itself runs the SHA-NI path, about 0.5 µs on this machine: compare the wall-clock tables, not this one, for that row. (A keyed BLAKE3 counted 6,000 instructions here but took 0.72 µs against SHA-NI's 0.54 µs, so the cache kept SHA-256.)"
    echo
    echo "In-process, one thread, no sockets (\`examples/bench_layers.rs --log\`): step 8's layers added one at a time, in its order; each figure is the best of 5 × 50,000 requests."
    echo
    sed -n '/^|/p' "$LAYERS"
  } >"$SECTION"
  write_section "$OUT" instructions "$SECTION"
  echo "wrote $OUT and $SVG"
fi
finish
