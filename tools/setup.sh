#!/usr/bin/env bash
# Prepares this workspace on a machine that has only Node.js (>= 20.19) and npm.
# Safe to run again: every step checks first and skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("[setup] Node.js >= 20.19 is required, found "+process.version); process.exit(1) }'

if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm 10 with npm"
  if ! npm install -g pnpm@10 --silent >/dev/null 2>&1; then
    npm install --prefix "$PWD/.tools" pnpm@10 --silent >/dev/null
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  fi
fi
[ -x "$PWD/.tools/node_modules/.bin/pnpm" ] && export PATH="$PWD/.tools/node_modules/.bin:$PATH"

if ! command -v redis-server >/dev/null 2>&1; then
  say "installing Debian's redis-server"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
  # Debian's package enables a system service; this project starts its own servers where it needs them.
fi

say "installing dependencies"
pnpm install --frozen-lockfile --reporter=silent
say "building packages"
pnpm --silent run build >/dev/null
# apps/mazo/tsconfig.json extends the types Nitro generates (.nitro/types), as Nitro apps do.
(cd apps/mazo && node_modules/.bin/nitro prepare >/dev/null)
say "ready (node $(node -v), pnpm $(pnpm -v), redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'))"
