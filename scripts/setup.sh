# Common set-up for scripts/run.sh and scripts/test.sh; source it, don't run it.
# Idempotent: pip runs only when pyproject.toml changed since the last install, bun only when missing.
# Everything lands inside the repository (git-ignored): .venv, .tools (bun), bun's and Chromium's caches.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false
# Reflex probes npm mirrors it cannot reach from here; point it (and bun) at the machine's own registry.
NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-$(npm config get registry 2>/dev/null)}"
export NPM_CONFIG_REGISTRY
export BUN_INSTALL="$ROOT/.bunhome" BUN_INSTALL_CACHE_DIR="$ROOT/.bun-cache"
export XDG_CONFIG_HOME="$ROOT/.xdg/config" XDG_CACHE_HOME="$ROOT/.xdg/cache"

step() { printf '\n==> %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv"
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.pyproject.sha256 2>/dev/null)" != "$wanted" ]; then
  step "installing Python dependencies (pip install -e \".[test]\")"
  python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  echo "$wanted" >.venv/.pyproject.sha256
fi

# Reflex would download bun's installer from outside the registries; bun from npm is the same binary.
if [ ! -x .tools/node_modules/.bin/bun ]; then
  step "installing bun from the npm registry"
  npm install --silent --no-save --no-audit --no-fund --prefix .tools bun@1.4.4
fi
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
export REFLEX_BUN_PATH="$ROOT/.tools/node_modules/.bin/bun"
