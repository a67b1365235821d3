#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs, on a clean Debian machine, as root, with only
# PyPI / Debian / npm reachable: Debian chromium + ripgrep + libkrb5-dev, and code-server 4.100.3
# plus playwright-core inside the checkout (editors/vscode/.e2e/, git-ignored), and the
# extension's own npm dependencies. Idempotent: a second run only checks and returns.
#
# Why code-server and not @vscode/test-electron: the latter downloads VS Code at run time, which
# cannot work offline; code-server from npm is a real VS Code workbench. 4.100.3 is pinned because
# newer releases need Node 24 (see /work/shared/editor-testing.md).
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_VERSION=1.65.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ext_dir="$(cd "$here/../.." && pwd)"
e2e_dir="$ext_dir/.e2e"
stamp="$e2e_dir/.setup-done-$CODE_SERVER_VERSION-$PLAYWRIGHT_VERSION"
# Keep npm's download cache inside the checkout too.
export npm_config_cache="$e2e_dir/npm-cache"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

log() { printf '[vscode-e2e setup] %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/rg ] || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  need_apt+=(nodejs npm)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing system packages: ${need_apt[*]} (run this script as root)"; exit 1
  fi
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != 20 ]; then
  log "code-server $CODE_SERVER_VERSION needs Node.js 20, found $(node --version)"; exit 1
fi

# One setup at a time: two concurrent runs (e.g. two test sessions) would delete each other's
# node_modules half-way through.
mkdir -p "$e2e_dir"
exec 9>"$e2e_dir/.setup.lock"
flock -w 900 9 || { log "another setup.sh has held the lock for 15 minutes"; exit 1; }

# --- the extension's own dependencies (TypeScript, vsce, languageclient) -----------------------
ext_deps_ok() {
  local m="$ext_dir/node_modules"
  [ -f "$m/.package-lock.json" ] && [ ! "$ext_dir/package-lock.json" -nt "$m/.package-lock.json" ] \
    && [ -f "$m/typescript/package.json" ] && [ -f "$m/@vscode/vsce/package.json" ] \
    && [ -f "$m/vscode-languageclient/package.json" ]
}
if ! ext_deps_ok; then
  log "npm ci in $ext_dir"
  (cd "$ext_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -f "$stamp" ] && [ -x "$e2e_dir/node_modules/.bin/code-server" ] \
   && [ -f "$e2e_dir/node_modules/playwright-core/package.json" ]; then
  log "code-server $CODE_SERVER_VERSION and playwright-core already installed in $e2e_dir"
  exit 0
fi

# --- code-server + playwright-core in .e2e -----------------------------------------------------
rm -f "$e2e_dir"/.setup-done-*
cd "$e2e_dir"
[ -f package.json ] || printf '{"name":"vscode-e2e-tools","private":true}\n' > package.json
log "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION"
# --ignore-scripts: code-server's postinstall and ripgrep's would download from GitHub.
npm install --no-audit --no-fund --loglevel=error --ignore-scripts --save-exact \
  "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"

cs="$e2e_dir/node_modules/code-server"
vs="$cs/lib/vscode"
log "npm install in lib/vscode"
(cd "$vs" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)

# ripgrep's postinstall downloads a binary from GitHub: use Debian's.
mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
ln -sfn /usr/bin/rg "$vs/node_modules/@vscode/ripgrep/bin/rg"

log "rebuilding native modules (node-pty, spdlog, kerberos, ...)"
(cd "$vs" && npm_config_yes=true npm_config_unsafe_perm=true npm rebuild --loglevel=error >/dev/null)
# argon2 (password hashing, loaded at start even with auth: none) is hoisted next to code-server.
(cd "$e2e_dir" && npm rebuild argon2 --loglevel=error >/dev/null)

# Links that code-server's own postinstall would have made.
ln -sfn node_modules "$vs/node_modules.asar"
if [ -f "$vs/bin/remote-cli/code-linux.sh" ]; then
  ln -sfn code-linux.sh "$vs/bin/remote-cli/code-server"
fi
if [ -f "$vs/bin/helpers/browser-linux.sh" ]; then
  ln -sfn browser-linux.sh "$vs/bin/helpers/browser.sh"
fi
log "npm install in lib/vscode/extensions"
(cd "$vs/extensions" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)

"$e2e_dir/node_modules/.bin/code-server" --version >/dev/null
touch "$stamp"
log "done: $e2e_dir"
