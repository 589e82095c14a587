"""Vajra benchmark harness: Vajra vs no sensor vs auditd, side by side.

Runs the workloads of bench/load (exec, file watched/unwatched, net, dns, mixed) under each condition,
interleaved in rounds, and reports medians and ratios against the no-sensor condition; then the
sustained zero-loss throughput ramp, the callgrind instruction count of the user-space hot path and,
where a target is missed, profiles. Writes results.json, results.md and overhead.png to --out.

Run it through bench/run.sh (which installs and builds first). Needs root. See docs/benchmarks.md.
Use /usr/bin/python3: it needs Debian's python3-yaml and python3-matplotlib.
"""

# The docstring above is also `bench/harness.py --help`'s description (cli.py uses it).
#
# bench/harness.py is the entry point; the code is here, one job per module:
#   common.py      the repository root, the log line, running a command
#   procfs.py      CPU and memory from /proc (/proc/stat, a process's ticks and schedstat, VmHWM), CpuMeter
#   machine.py     machine and build info; waiting for a quiet machine with no other sensor
#   workloads.py   vbench-load's workloads and their sizes, the audit records each must cause; dnsmasq
#   conditions.py  no sensor, Vajra (vajrad + vbench-consumer, generated config), auditd; the audit baseline
#   measure.py     one measurement (wall, machine CPU, sensor CPU, what was delivered) and the rounds
#   ramps.py       the zero-loss throughput ramps
#   hotpath.py     record/replay of the hot path under callgrind
#   profiles.py    perf, BPF program stats, latency against the ring size
#   summary.py     medians, ratios, delivery, drops, targets
#   report.py      results.json, results.md, overhead.png, the README section
#   cli.py         the command line and the order of a run
