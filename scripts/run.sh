#!/usr/bin/env bash
# Installs what is missing, builds, starts vajrad (built-in defaults unless /etc/vajra/vajra.yaml
# exists) and shows its events live until Ctrl-C. Extra arguments go to `vajractl events`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VAJRA_BUILD_DIR:-$root/build}
socket=${VAJRA_SOCKET:-/run/vajra/vajra.sock}
log=${VAJRA_LOG:-/tmp/vajrad.log}

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: vajrad loads BPF programs and must run as root (try: sudo $0)" >&2
  exit 1
fi
bash "$root/scripts/build.sh" vajrad vajractl
bash "$root/scripts/kernel-setup.sh"

"$build/daemon/vajrad" --socket "$socket" >"$log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null' EXIT INT TERM

for _ in $(seq 100); do
  [ -S "$socket" ] && break
  if ! kill -0 "$daemon" 2>/dev/null; then
    echo "run.sh: vajrad exited during start-up; its log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "vajrad is running (log: $log). Live events follow; Ctrl-C stops both." >&2
"$build/daemon/vajractl" --socket "$socket" status
"$build/daemon/vajractl" --socket "$socket" events "$@"
