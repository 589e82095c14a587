"""Profiles of vajrad: perf during the exec storm, BPF program costs (kernel.bpf_stats_enabled),
latency against the ring buffer size, and CPU per event and latency against the batch delay."""

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
from .summary import med


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
    # quiet spell and then holds off 1 ms to buffers.batch_delay_ms, so latency should not depend on the
    # ring's size; only the early wake-up at 1/8 of a ring does. The smallest ring vajrad accepts holds 4
    # exec records of the largest size.
    def rate_latency(cond, ring):
        run([args.bin("vbench-load"), "rate", "--op", "exec", "--rate", "200", "--seconds", "4", "--workers", "1"])
        d = cond.drain("exec")
        return {"ring_buffer_bytes": ring, "exec_per_s": 200, "latency_ms": d.get("latency_ms"),
                "lost": sum(d.get("status_delta", {}).get("kernel_drops", {}).values())}

    out["latency_vs_ring"] = []
    for ring in args.latency_rings:
        x = with_setting(args, machine, work, f"buffers.ring_buffer_bytes={ring}", lambda c: rate_latency(c, ring))
        if x:
            out["latency_vs_ring"].append(x)

    # CPU per event and latency against the batch delay, in the exec storm: the wake-ups a longer delay
    # saves against the latency it adds. Interleaved rounds, medians.
    def exec_storm(cond):
        meter = CpuMeter(cond.sensor_pids())
        s0 = meter.snapshot()
        workloads.run("exec")
        d = cond.drain("exec")
        return {"events": sum(d.get("delivered", {}).values()), "latency_ms": d.get("latency_ms") or {},
                "cpu_us": CpuMeter.delta_us(s0, meter.snapshot())["us"]}

    samples = {delay: [] for delay in args.batch_delays}
    for _ in range(args.batch_delay_rounds):
        for delay in args.batch_delays:
            x = with_setting(args, machine, work, f"buffers.batch_delay_ms={delay}", exec_storm)
            if x:
                samples[delay].append(x)
    out["batch_delay"] = [summarize_delay(delay, xs) for delay, xs in samples.items() if xs]
    return out


def summarize_delay(delay, xs):
    return {"batch_delay_ms": delay, "rounds": len(xs),
            "cpu_us_per_event": med([x["cpu_us"] / max(1, x["events"]) for x in xs]),
            "p50_ms": med([x["latency_ms"].get("p50") for x in xs]),
            "p99_ms": med([x["latency_ms"].get("p99") for x in xs])}


def with_setting(args, machine, work, setting, measure):
    """Starts vajrad with one more KEY=VALUE setting, warms it up, and returns what measure(cond)
    returns on a quiet machine; None (logged) if vajrad or the measurement fails."""
    machine.wait_clean("profile")
    saved = list(args.vajra_set)
    args.vajra_set = saved + [setting]
    cond = Vajra(args, work, tag="set-" + re.sub(r"[^\w]+", "-", setting))
    try:
        cond.setup()
        try:
            run([args.bin("vbench-load"), "exec", "--n", "50"])
            cond.before()
            cond.drain("warm-up")
            machine.wait_quiet()
            cond.before()
            result = measure(cond)
            log(f"  {setting}: {result}")
            return result
        finally:
            cond.teardown()
    except RuntimeError as e:
        log(f"  {setting}: not measured: {e}")
        return None
    finally:
        args.vajra_set = saved
