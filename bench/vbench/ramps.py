"""Sustained throughput: the zero-loss rate ramp of vbench-load rate against a fresh vajrad."""

import json

from .common import log, run
from .conditions import Vajra
from .procfs import CpuMeter, machine_cpu

# The steps of each generator's ramp, in operations per second (a generator not listed ramps as exec).
RATES = {"exec": [250, 500, 1000, 1500, 2000, 3000, 4000, 6000],
         "fork": [2000, 5000, 10000, 20000, 30000, 40000, 60000],
         "thread": [5000, 10000, 20000, 30000, 40000, 60000, 80000, 120000]}


def ramp(args, machine, work, op, rates):
    """Raises the generator's rate step by step until Status or the stream shows a loss, vajrad falls
    behind (events still arriving long after the step), or the generator cannot keep its rate."""
    threads = op == "thread"
    cond = Vajra(args, work, threads=threads, tag=f"ramp-{op}")
    machine.wait_clean(f"ramp {op}")
    cond.setup()
    steps, best, limit = [], None, None
    try:
        run([args.bin("vbench-load"), "exec", "--n", "50"])
        cond.before()
        cond.drain("warm-up")
        for rate in rates:
            machine.wait_quiet()
            cond.before()
            m0 = machine_cpu()
            meter, bmeter = CpuMeter(cond.sensor_pids()), CpuMeter(cond.bridge_pids())
            s0, b0 = meter.snapshot(), bmeter.snapshot()
            cmd = [args.bin("vbench-load"), "rate", "--op", op, "--rate", str(rate), "--seconds",
                   str(args.ramp_seconds), "--workers", str(args.ramp_workers), "--dir", f"{work}/unwatched"]
            res = json.loads(run(cmd).stdout.strip().splitlines()[-1])
            d = cond.drain(op)
            m1, s1, b1 = machine_cpu(), meter.snapshot(), bmeter.snapshot()
            sd = d.get("status_delta", {})
            generated = sum(sd.get("received", {}).values()) + sum(sd.get("kernel_drops", {}).values())
            kernel = sum(sd.get("kernel_drops", {}).values())
            # The bridge is a second subscriber: what vajrad dropped for it because it read too slowly.
            bridge_drops = d.get("bridge", {}).get("delta", {}).get("lost_subscriber", 0)
            lost = kernel + sd.get("pipeline_drops", 0) + sd.get("this_subscriber_drops", 0) + \
                sum(d.get("loss_events", {}).values()) + bridge_drops
            elapsed = res["elapsed_ns"] / 1e9
            achieved_ops = res["ops"] / elapsed
            ev_rate = generated / elapsed
            # Behind means the consumer's or the bridge's backlog, whichever drained later.
            lag = max(d.get("drain_ms", 0) / 1000, d.get("bridge", {}).get("catch_up_s", 0))
            saturated = achieved_ops < 0.95 * rate or res.get("max_lag_ns", 0) > 0.25e9
            behind = lag > args.ramp_max_lag
            step = {"target_ops_per_s": rate, "achieved_ops_per_s": achieved_ops, "events_per_s": ev_rate,
                    "events": generated, "delivered": sum(d.get("delivered", {}).values()),
                    "lost": lost, "kernel_drops": kernel, "pipeline_drops": sd.get("pipeline_drops", 0),
                    "subscriber_drops": sd.get("this_subscriber_drops", 0), "bridge_drops": bridge_drops,
                    "drain_s": lag,
                    "generator_max_lag_s": res.get("max_lag_ns", 0) / 1e9,
                    "latency_ms": d.get("latency_ms", {}),
                    "machine_cpu_util": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
                    "sensor_cpu_util": CpuMeter.delta_us(s0, s1)["us"] / 1e6 / elapsed,
                    "bridge_cpu_util": CpuMeter.delta_us(b0, b1)["us"] / 1e6 / elapsed,
                    "generator_saturated": saturated, "vajrad_behind": behind}
            steps.append(step)
            log(f"  ramp {op} {rate:>7} ops/s: {ev_rate:9.0f} events/s, lost {lost}, drain {lag:.2f} s, "
                f"generator {'saturated' if saturated else 'ok'}, vajrad {step['sensor_cpu_util']:.0%} of a core")
            if lost or behind:
                limit = ("loss: " + ", ".join(f"{k} {v}" for k, v in (("kernel ring", kernel),
                         ("pipeline", step["pipeline_drops"]), ("subscriber", step["subscriber_drops"]),
                         ("bridge", bridge_drops)) if v)
                         if lost else f"vajrad fell behind (events still arriving {lag:.1f} s after the step)")
                break
            best = step
            if saturated:
                limit = (f"generator saturated at {achieved_ops:.0f} ops/s (target {rate}); machine "
                         f"{step['machine_cpu_util']:.0%} busy, vajrad {step['sensor_cpu_util']:.0%} of a core")
                break
        else:
            limit = "highest step reached with no loss"
    finally:
        td = cond.teardown()
    return {"op": op, "threads_enabled": threads, "steps": steps,
            "best_events_per_s": best["events_per_s"] if best else 0.0,
            "best_step": best, "limit": limit, "vm_hwm_kb": td.get("vm_hwm_kb"),
            "process_cache": td.get("process_cache")}
