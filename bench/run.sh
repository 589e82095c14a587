#!/usr/bin/env bash
# The benchmark in one command: installs what is missing, builds, then runs bench/harness.py, which
# measures no sensor vs Vajra vs auditd and writes bench/results/ (results.md, overhead.png,
# results.json). With no argument it is the full run (about 15 minutes on a 2-core VM) and it also
# refreshes the benchmark section at the end of README.md. Arguments go to the harness, e.g.
#   sudo bench/run.sh --quick              # smoke run, 1 round, small sizes, results in /tmp
#   sudo bench/run.sh --rounds 5 --scale 0.5 --no-callgrind
#   sudo bench/run.sh --help
# See docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VAJRA_BUILD_DIR:-$root/build}

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: loads BPF programs and runs auditd, so it must run as root (try: sudo $0)" >&2
  exit 1
fi
bash "$root/scripts/install-deps.sh"
bash "$root/bench/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target vajrad vbench-load vbench-consumer vbench-record vbench-replay \
  vajra.ext vajra_bridge_pygen

extra=()
[ $# -eq 0 ] && extra+=(--update-readme)
exec /usr/bin/python3 "$root/bench/harness.py" --build "$build" "${extra[@]}" "$@"
