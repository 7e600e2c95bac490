#!/usr/bin/env bash
# Set everything up and run every check CI runs: lint, format, types, and the whole test suite.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium for the browser tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

step "ruff check"
ruff check .
step "ruff format --check"
ruff format --check .
step "mypy"
mypy
step "pytest"
status=0
pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$status"
