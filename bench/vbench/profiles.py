"""Profiles of vajrad: perf during the exec storm, BPF program costs (kernel.bpf_stats_enabled) and
latency against the ring buffer size."""

import os
import re
import shutil
import signal
import subprocess
import time

from .common import log, run
from .conditions import Vajra
from .machine import tracing_programs
from .procfs import CpuMeter


def profile(args, machine, work, workloads):
    """Where vajrad spends its CPU during the exec storm (perf with the cpu-clock software event and
    DWARF call graphs: per thread, self and inclusive), what the BPF programs cost per run
    (kernel.bpf_stats_enabled), and latency against the ring size."""
    out = {}
    machine.wait_clean("profile")
    cond = Vajra(args, work, tag="profile")
    cond.setup()
    stats_before = None
    try:
        workloads.warm_up()
        cond.before()
        cond.drain("warm-up")
        try:
            with open("/proc/sys/kernel/bpf_stats_enabled") as f:
                stats_before = f.read().strip()
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write("1")
        except OSError:
            stats_before = None
        progs0 = {p["id"]: p for p in tracing_programs()}
        perf_data = f"{work}/perf.data"
        perf = None
        if shutil.which("perf"):
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1999", "--call-graph", "dwarf,16384",
                                     "-o", perf_data, "-p", str(cond.proc.pid)], stdout=subprocess.DEVNULL,
                                    stderr=open(f"{work}/perf.err", "w"))
            time.sleep(1.0)
        machine.wait_quiet()
        cond.before()
        meter = CpuMeter(cond.sensor_pids())
        s0 = meter.snapshot()
        res = workloads.run("exec")
        d = cond.drain("exec")
        s1 = meter.snapshot()
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        progs1 = tracing_programs()
        if stats_before is not None:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_before)
            stats_before = None
        if perf:
            def report(*extra):
                return run(["perf", "report", "-i", perf_data, "--stdio"] + list(extra), check=False).stdout
            threads = report("--no-children", "--sort", "pid", "-g", "none")
            flat = report("--no-children", "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.5")
            incl = report("--children", "--sort", "symbol", "-g", "none", "--percent-limit", "3")
            with open(os.path.join(args.out, "profile-vajrad-exec.txt"), "w") as f:
                f.write("# vajrad during the exec storm: perf record -e cpu-clock -F 1999 --call-graph dwarf\n")
                f.write("\n## per thread\n" + threads + "\n## self time\n" + flat + "\n## inclusive\n" + incl)
            out["perf_threads"] = [
                {"percent": float(m.group(1)), "thread": m.group(2).strip()}
                for m in re.finditer(r"(?m)^\s+([\d.]+)%\s+\d+:(\S.*?)\s*$", threads)]
            out["perf_top"] = [
                {"percent": float(m.group(1)), "dso": m.group(2), "symbol": m.group(3).strip()}
                for m in re.finditer(r"(?m)^\s+([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*?)\s*$", flat)][:25]
            out["perf_inclusive"] = [
                {"children": float(m.group(1)), "self": float(m.group(2)), "symbol": m.group(3).strip()}
                for m in re.finditer(r"(?m)^\s+([\d.]+)%\s+([\d.]+)%\s+\[.\]\s+(.*?)\s*$", incl)]
        bpf = []
        for p in progs1:
            p0 = progs0.get(p["id"], {})
            cnt = p.get("run_cnt", 0) - p0.get("run_cnt", 0)
            ns = p.get("run_time_ns", 0) - p0.get("run_time_ns", 0)
            if cnt:
                bpf.append({"name": p.get("name"), "runs": cnt, "ns_per_run": ns / cnt, "total_ms": ns / 1e6})
        out["bpf_programs"] = bpf
        out["bpf_ns_per_exec_iteration"] = sum(b["runs"] * b["ns_per_run"] for b in bpf) / max(1, res["ops"])
        events = sum(d.get("delivered", {}).values())
        out["exec_run"] = {"wall_s": res["elapsed_ns"] / 1e9, "latency_ms": d.get("latency_ms"), "events": events,
                           "vajrad_cpu_us_per_event": CpuMeter.delta_us(s0, s1)["us"] / max(1, events)}
    finally:
        if stats_before is not None:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_before)
        cond.teardown()

    # Latency against the ring size: at a moderate rate vajrad is woken by the first record after a
    # quiet spell and then holds off 1-10 ms, so latency should not depend on the ring's size; only
    # the early wake-up at 1/8 of a ring does. The smallest ring vajrad accepts holds 4 exec records
    # of the largest size.
    lat = []
    for ring in args.latency_rings:
        machine.wait_clean("latency")
        c = Vajra(args, work, tag=f"lat-{ring}")
        saved = list(args.vajra_set)
        args.vajra_set = saved + [f"buffers.ring_buffer_bytes={ring}"]
        try:
            c.setup()
            try:
                run([args.bin("vbench-load"), "exec", "--n", "50"])
                c.before()
                c.drain("warm-up")
                machine.wait_quiet()
                c.before()
                run([args.bin("vbench-load"), "rate", "--op", "exec", "--rate", "200", "--seconds", "4",
                     "--workers", "1"])
                d = c.drain("exec")
                lat.append({"ring_buffer_bytes": ring, "exec_per_s": 200, "latency_ms": d.get("latency_ms"),
                            "lost": sum(d.get("status_delta", {}).get("kernel_drops", {}).values())})
                log(f"  latency at 200 exec/s, ring {ring} B: p50 {d['latency_ms']['p50']:.1f} ms, "
                    f"p99 {d['latency_ms']['p99']:.1f} ms")
            finally:
                c.teardown()
        except RuntimeError as e:
            log(f"  latency with ring {ring} B not measured: {e}")
        finally:
            args.vajra_set = saved
    out["latency_vs_ring"] = lat
    return out
