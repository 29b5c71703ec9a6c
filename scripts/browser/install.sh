#!/usr/bin/env bash
# Installs what scripts/browser/login.mjs needs: playwright-core from package-lock.json
# (only when node_modules is missing or stale) and Debian's Chromium at /usr/bin/chromium.
# Playwright's own browser download is never used (it cannot be fetched here).
#
#   bash scripts/browser/install.sh            # npm ci if needed; fail if chromium is missing
#   bash scripts/browser/install.sh --apt      # also apt-get install chromium when missing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

want_apt=0
[[ "${1:-}" == "--apt" ]] && want_apt=1

command -v node >/dev/null || { echo "install.sh: node is not installed (need Node.js >= 20)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is not installed" >&2; exit 1; }

# node_modules is stale when it is missing, when npm's record of it (node_modules/.package-lock.json)
# is older than package-lock.json, or when the installed playwright-core is not the pinned one.
stale=0
if [[ ! -d node_modules/playwright-core || ! -f node_modules/.package-lock.json ]]; then
  stale=1
elif [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  stale=1
else
  pinned="$(node -p 'require("./package.json").dependencies["playwright-core"]')"
  installed="$(node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null || echo none)"
  [[ "$pinned" == "$installed" ]] || stale=1
fi
if (( stale )); then
  echo "install.sh: npm ci in $here" >&2
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

if [[ ! -x /usr/bin/chromium ]]; then
  if (( want_apt )) && [[ "$(id -u)" == 0 ]]; then
    echo "install.sh: installing Debian's chromium package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
if [[ ! -x /usr/bin/chromium ]]; then
  echo "install.sh: /usr/bin/chromium is missing; install the Debian package 'chromium':" >&2
  echo "  apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
echo "install.sh: ok ($(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version'))" >&2
