"""The command line and the order of a run: the rounds, then the throughput ramps, callgrind and the
profiles, then the summary and the reports (or, with --report-only, only the reports)."""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from . import __doc__ as DESCRIPTION
from .common import ROOT, log
from .conditions import audit_baseline
from .hotpath import callgrind
from .machine import Machine, build_info, drop_dentries, machine_info
from .measure import run_rounds
from .profiles import profile
from .ramps import RATES, ramp
from .report import write_json, write_reports
from .summary import MIN_EVENTS, TARGETS, bridge_peak_mb, cache_peak, evaluate_targets, summarize
from .workloads import Dnsmasq, Workloads


def parse_args():
    p = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("VAJRA_BUILD_DIR", os.path.join(ROOT, "build")),
                   help="build folder holding daemon/vajrad and bench/vbench-*")
    p.add_argument("--out", default=None,
                   help="results folder (default bench/results; /tmp/vbench-quick-results with --quick)")
    p.add_argument("--work", default="/tmp/vbench", help="scratch folder (recreated)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every workload size")
    p.add_argument("--exec-n", type=int, default=5000)
    p.add_argument("--file-n", type=int, default=100000)
    p.add_argument("--net-n", type=int, default=40000)
    p.add_argument("--dns-n", type=int, default=12000)
    p.add_argument("--mixed-fraction", type=float, default=0.5, help="mixed runs every workload at this fraction")
    p.add_argument("--workloads", default="exec,file-unwatched,file-watched,net,dns,mixed")
    p.add_argument("--conditions", default="none,probes,vajra,auditd",
                   help="none: no sensor; probes: vajrad's probes with a reader that drops every record "
                        "(the floor under Vajra); vajra; auditd")
    p.add_argument("--vajra-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra vajrad setting, e.g. buffers.pipeline_queue=131072 (repeatable)")
    p.add_argument("--config-template", default=None,
                   help="vajrad config to start from (default: config/vajra.yaml of this tree)")
    p.add_argument("--dns-address", default="127.0.0.77")
    p.add_argument("--dns-port", type=int, default=53)
    p.add_argument("--drain-timeout", type=float, default=30)
    p.add_argument("--quiet-threshold", type=float, default=0.08, help="busy fraction under which the machine is idle")
    p.add_argument("--quiet-timeout", type=float, default=60)
    p.add_argument("--foreign-limit", type=float, default=0.12,
                   help="share of the machine other processes may use during a run before it is measured again")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--clean-timeout", type=float, default=300, help="how long to wait for other sensors to go")
    p.add_argument("--no-bridge", dest="bridge", action="store_false",
                   help="run Vajra without the osquery bridge (vajra.ext under a fake osquery core)")
    p.add_argument("--no-ramp", action="store_true")
    p.add_argument("--ramp-ops", default="exec,thread", help="generators for the throughput ramp")
    p.add_argument("--ramp-seconds", type=float, default=4)
    p.add_argument("--ramp-workers", type=int, default=2)
    p.add_argument("--ramp-max-lag", type=float, default=1.0, help="seconds of backlog after a step that mean vajrad fell behind")
    p.add_argument("--no-callgrind", action="store_true")
    p.add_argument("--callgrind-exec-n", type=int, default=1000)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--latency-rings", default="524288,8388608")
    p.add_argument("--batch-delays", default="10,20,40,100",
                   help="buffers.batch_delay_ms values to profile the exec storm's CPU and latency at")
    p.add_argument("--batch-delay-rounds", type=int, default=3)
    p.add_argument("--update-readme", action="store_true", help="rewrite the benchmark section of README.md")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, small sizes, short ramp")
    p.add_argument("--report-only", metavar="RESULTS_JSON",
                   help="measure nothing: rewrite results.md and overhead.png (and with --update-readme the "
                        "README section) from an earlier results.json")
    return p.parse_args()


def report_only(args):
    """--report-only: results.md and overhead.png (and the README section) from an earlier results.json."""
    with open(args.report_only) as f:
        res = json.load(f)
    for row in res.get("summary", {}).values():
        for c in ("vajra", "auditd"):
            if c in row and (row[c].get("events_delivered") or 0) < MIN_EVENTS:
                row[c]["sensor_cpu_us_per_event"] = row[c]["sensor_cpu_us_per_event_pooled"] = None
    out = args.out or os.path.dirname(os.path.abspath(args.report_only))
    md = write_reports(out, res, args.update_readme)
    print(md)


def prepare(args):
    """What the options imply (--quick, the default --out, the lists, args.bin), and the checks that the
    binaries, root and the tools are there (exits with a message where not)."""
    if args.quick:
        args.rounds, args.scale, args.ramp_seconds, args.batch_delay_rounds = 1, 0.1, 2, 1
    if args.out is None:
        args.out = "/tmp/vbench-quick-results" if args.quick else os.path.join(ROOT, "bench", "results")
    args.workloads = args.workloads.split(",")
    args.conditions = args.conditions.split(",")
    args.latency_rings = [int(x) for x in args.latency_rings.split(",") if x]
    args.batch_delays = [int(x) for x in args.batch_delays.split(",") if x]
    args.ramp_ops = [x for x in args.ramp_ops.split(",") if x]

    def binary(name):
        sub = "daemon" if name in ("vajrad", "vajractl") else "bench"
        path = os.path.join(args.build, sub, name)
        if not os.access(path, os.X_OK):
            sys.exit(f"harness: {path} missing; build first (bench/run.sh does)")
        return path
    args.bin = binary
    for b in ("vajrad", "vbench-load", "vbench-consumer", "vbench-record", "vbench-replay"):
        binary(b)
    if os.geteuid() != 0:
        sys.exit("harness: must run as root (BPF, auditd)")
    for tool in ("dnsmasq", "auditd", "auditctl"):
        if not shutil.which(tool):
            sys.exit(f"harness: {tool} missing; run bench/install-deps.sh")


def measure_everything(args, machine, work, workloads, res):
    """The rounds, then the ramps, callgrind and the profiles (each unless switched off), then the
    summary and the targets, into res."""
    samples, teardowns, vstatus = run_rounds(args, machine, work, workloads)
    res["samples"], res["teardowns"] = samples, teardowns
    res["vajra_status_at_start"] = vstatus
    probes = (vstatus or {}).get("probes", [])
    res["vajra_families"] = sorted({pr.get("family", "?") for pr in probes if pr.get("state") == "PROBE_STATE_LOADED"})
    res["vajra_cpu_policy"] = (vstatus or {}).get("cpu_policy", "")
    res["vajra_probes"] = [f"{pr.get('family')}/{pr.get('name')}: {pr.get('state', '').replace('PROBE_STATE_', '')}"
                           for pr in probes]
    summary, rss_mb = summarize(samples, workloads, teardowns)
    res["summary"], res["rss_mb"] = summary, rss_mb
    res["bridge_rss_mb"] = bridge_peak_mb(teardowns)
    ramps = []
    if not args.no_ramp:
        for op in args.ramp_ops:
            log(f"throughput ramp: {op}")
            ramps.append(ramp(args, machine, work, op, RATES.get(op, RATES["exec"])))
        hwm = [r["vm_hwm_kb"] / 1024 for r in ramps if r.get("vm_hwm_kb")]
        res["ramp_rss_mb"] = max(hwm) if hwm else None
    res["ramps"] = ramps
    if not args.no_callgrind:
        log("callgrind: recording events, replaying the hot path")
        res["callgrind"] = callgrind(args, machine, work, workloads)
    if not args.no_profile:
        log("profiles: perf (cpu-clock), BPF program stats, latency against ring size")
        res["profile"] = profile(args, machine, work, workloads)
    res["process_cache_peak"] = cache_peak(res["teardowns"], ramps)
    res["targets"] = evaluate_targets(summary, max(filter(None, [rss_mb, res.get("ramp_rss_mb")]), default=None),
                                      ramps)


def main():
    args = parse_args()
    if args.report_only:
        report_only(args)
        return
    prepare(args)

    # SIGTERM/SIGHUP end the run like Ctrl-C does: every condition is torn down on the way out.
    def stop(signum, _frame):
        log(f"stopped by signal {signum}")
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    started = time.monotonic()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(args.out, exist_ok=True)
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "kernel-setup.sh")], check=False)
    negative = drop_dentries()

    machine = Machine(args)
    machine.wait_clean("start")
    audit_baseline()
    dns = Dnsmasq(work, args.dns_address, args.dns_port)
    dns.start()
    machine.known_pids = [dns.proc.pid]
    workloads = Workloads(args, work)
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(), "machine": machine_info(),
           "rounds": args.rounds, "workload_sizes": workloads.n, "mixed_fraction": args.mixed_fraction,
           "targets_goal": TARGETS, "argv": sys.argv[1:], "build": build_info(args),
           "negative_dentries_at_start": negative}
    try:
        measure_everything(args, machine, work, workloads, res)
    finally:
        dns.stop()
        audit_baseline()
        shutil.rmtree(f"{work}/audit", ignore_errors=True)
    res["warnings"] = machine.warnings
    res["duration_s"] = time.monotonic() - started
    write_json(os.path.join(args.out, "results.json"), res)
    md = write_reports(args.out, res, args.update_readme)
    log(f"done in {res['duration_s'] / 60:.1f} min: {args.out}/results.md")
    print(md)
