#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests and real-kernel tests.
# With CI=true, a kernel test that cannot load BPF fails instead of skipping.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VAJRA_BUILD_DIR:-$root/build}

bash "$root/scripts/build.sh"
if [ "$(id -u)" -eq 0 ]; then
  bash "$root/scripts/kernel-setup.sh"
fi
cd "$build"
ctest --output-on-failure --timeout 300 "$@"
