"""One measurement (a workload under a condition: wall time, whole-machine CPU, the sensor's, its
consumer's and the osquery bridge's CPU, what the sensor delivered, with retries when other processes
took the machine) and the interleaved rounds of every condition and workload."""

from .common import log
from .conditions import Auditd, NoSensor, ProbesOnly, Vajra
from .procfs import CLK_TCK, CpuMeter, find_pids_by_comm, machine_cpu


def measure(machine, cond, workloads, name):
    """One workload under one condition. Machine CPU is the whole machine's busy time while the
    workload runs, plus the sensor's (and its consumer's and bridge's) own CPU while it drains what the
    workload caused: other processes' background during the drain wait is not the sensor's doing.

    The machine is shared (builds, other people's tests): when CPU that is neither the workload's,
    the sensor's, its consumer's, the bridge's nor the DNS server's exceeds --foreign-limit of the
    machine during the run, the sample is discarded and measured again (up to --retries times)."""
    discarded = []
    for attempt in range(1 + machine.args.retries):
        background = machine.wait_quiet()
        cond.before()
        meter = CpuMeter(cond.sensor_pids())
        helpers = CpuMeter(getattr(cond, "helper_pids", lambda: [])())
        bridge = CpuMeter(getattr(cond, "bridge_pids", lambda: [])())
        known = CpuMeter(machine.known_pids)
        m0, s0, h0, b0, k0 = machine_cpu(), meter.snapshot(), helpers.snapshot(), bridge.snapshot(), known.snapshot()
        result = workloads.run(name)
        m1, s1, h1, b1, k1 = machine_cpu(), meter.snapshot(), helpers.snapshot(), bridge.snapshot(), known.snapshot()
        drained = cond.drain(name)
        s2, h2, b2 = meter.snapshot(), helpers.snapshot(), bridge.snapshot()
        drain_cpu_us = sum(CpuMeter.delta_us(a, b)["us"] for a, b in ((s1, s2), (h1, h2), (b1, b2)))
        busy_s = (m1[0] - m0[0]) / CLK_TCK
        capacity_s = (m1[1] - m0[1]) / CLK_TCK
        ours_s = result["cpu_s"] + sum(CpuMeter.delta_us(a, b)["ticks_us"]
                                       for a, b in ((s0, s1), (h0, h1), (b0, b1), (k0, k1))) / 1e6
        foreign = max(0.0, busy_s - ours_s) / capacity_s if capacity_s > 0 else 0.0
        sample = {
            "workload": name, "condition": cond.name, "attempt": attempt + 1,
            "wall_s": result["elapsed_ns"] / 1e9, "ops": result["ops"], "failures": result["failures"],
            "expected": result.get("expected", {}), "workload_cpu_s": result["cpu_s"],
            "machine_cpu_s": busy_s + drain_cpu_us / 1e6,
            "machine_cpu_run_s": busy_s, "drain_sensor_cpu_s": drain_cpu_us / 1e6,
            "window_cpu_s": capacity_s, "foreign_share": foreign,
            "sensor_cpu": CpuMeter.delta_us(s0, s2), "helper_cpu": CpuMeter.delta_us(h0, h2),
            "bridge_cpu": CpuMeter.delta_us(b0, b2),
            "background_busy": background, "sensor": drained,
        }
        if foreign <= machine.args.foreign_limit:
            break
        log(f"  {name}: {foreign:.0%} of the machine went to other processes during the run; measuring again")
        discarded.append(sample)
    else:
        discarded.pop()  # the last attempt is kept
        sample["contaminated"] = True
        message = f"{cond.name}/{name}: kept a sample with {foreign:.0%} of the machine used by other processes"
        machine.warnings.append(message)
        log("WARNING " + message)
    sample["discarded"] = discarded
    return sample


# ---- rounds ------------------------------------------------------------------------------------

def rotate(items, k):
    k %= max(1, len(items))
    return items[k:] + items[:k]


def run_rounds(args, machine, work, workloads):
    conditions = {
        "none": lambda: NoSensor(),
        "probes": lambda: ProbesOnly(args, work),
        "vajra": lambda: Vajra(args, work),
        "auditd": lambda: Auditd(args, work, workloads.watched),
    }
    names = [c for c in args.conditions if c in conditions]
    samples, teardowns, vajra_status = [], [], None
    for r in range(args.rounds):
        machine.wait_clean(f"round {r + 1}")
        order = rotate(names, r)
        wl = rotate(workloads.names(), r)
        for cname in order:
            cond = conditions[cname]()
            log(f"round {r + 1}/{args.rounds}: {cname} ({', '.join(wl)})")
            cond.setup()
            try:
                if cname == "vajra" and vajra_status is None:
                    vajra_status = cond.status
                workloads.warm_up()
                if cname != "none":
                    cond.before()
                    cond.drain("warm-up")
                for w in wl:
                    s = measure(machine, cond, workloads, w)
                    s["round"] = r + 1
                    samples.append(s)
                    log(f"  {w:15s} {s['wall_s']:7.3f} s  machine cpu {s['machine_cpu_s']:6.2f} s"
                        f"  sensor cpu {s['sensor_cpu']['us'] / 1e3:8.1f} ms")
            finally:
                td = cond.teardown()
            td.update({"round": r + 1, "condition": cname})
            teardowns.append(td)
            if cname == "vajra":
                left = [p for p, c in find_pids_by_comm(("vajrad",))]
                td["vajrad_left"] = left
    return samples, teardowns, vajra_status
