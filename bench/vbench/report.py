"""The outputs: results.json, results.md (the tables), overhead.png (the plot) and the benchmark section
of README.md."""

import json
import os
import re

from .common import ROOT
from .summary import pct

# Frames that say where vajrad's time goes (the rest of a call stack is wrappers).
KEY_FRAMES = re.compile(r"^(vajra::(?!v1::Sensor)\S+|grpc::ServerWriter<.*>::Write|grpc::GenericSerialize<.*|"
                        r"grpc_call_start_batch|grpc_core::ExecCtx::Flush|operator new|__x64_sys_futex|"
                        r"vajra::v1::Event::~Event)\s*$")

def clean_symbol(text):
    """perf report --stdio pads symbols and may append empty columns ("-      -")."""
    return re.sub(r"(\s+-)+\s*$", "", text).strip()


def fmt(v, spec="{:.1f}", none="–"):
    return none if v is None else spec.format(v)


def write_json(path, res):
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)


def write_reports(out_dir, res, readme=False):
    """results.md and overhead.png in out_dir (and, with readme, the README section); returns the markdown."""
    md = write_markdown(os.path.join(out_dir, "results.md"), res)
    plot(os.path.join(out_dir, "overhead.png"), res)
    if readme:
        update_readme(res, out_dir, md)
    return md


def write_markdown(path, res):
    s, info, wl = res["summary"], res["machine"], res["workload_sizes"]
    L = []
    L.append(f"# Vajra benchmark results — {res['date']}")
    L.append("")
    L.append(f"Machine: {info['cpus']} vCPU {info['cpu_model']}, {info['mem_gib']} GiB, {info['os']}, Linux "
             f"{info['kernel']} ({info['virtualization']}); commit {info['git']}. {res['rounds']} rounds, conditions "
             f"interleaved (order rotated each round); medians of per-round ratios against no sensor. "
             f"Vajra families loaded: {', '.join(res['vajra_families']) or 'unknown'}; vajrad's scheduling "
             f"policy: {res.get('vajra_cpu_policy') or 'not reported'}."
             + (f" Negative dentries at the start: {nd['before']:,}, {nd['after']:,} after emptying the dentry "
                f"cache (docs/benchmarks.md)." if (nd := res.get("negative_dentries_at_start") or {}).get("before")
                is not None and nd.get("after") is not None else ""))
    if (res.get("build") or {}).get("source_newer_than_binary"):
        res.setdefault("warnings", []).append("source files changed after the binaries measured were built "
                                              f"({res['build']['built']}): "
                                              + ", ".join(res["build"].get("changed_sources") or []))
    if res.get("warnings"):
        L.append("")
        for w in res["warnings"]:
            L.append(f"> ⚠ {w}")
    L.append("")
    L.append("## Overhead")
    L.append("")
    L.append("| workload | ops | bare wall | probes-only wall | Vajra wall | auditd wall | Vajra machine CPU |"
             " auditd machine CPU | Vajra CPU/event | auditd CPU/event | Vajra delivered / generated |"
             " auditd logged / expected | Vajra latency p50 / p99 |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, row in s.items():
        v, a, po = row.get("vajra", {}), row.get("auditd", {}), row.get("probes", {})
        if row.get("ops") is None:
            continue

        def ov(c):
            if not c or c.get("wall_ratio") is None:
                return "–"
            return f"{pct(c['wall_ratio']):+.1f} % ({pct(c['wall_ratio_min']):+.1f}…{pct(c['wall_ratio_max']):+.1f})"

        def cr(c):
            return "–" if not c or c.get("machine_cpu_ratio") is None else f"×{c['machine_cpu_ratio']:.2f}"

        def ue(c):
            return "–" if not c or c.get("sensor_cpu_us_per_event") is None else f"{c['sensor_cpu_us_per_event']:.1f} µs"
        vd = "–"
        if v.get("events_generated") is not None:
            vd = f"{fmt(v.get('events_delivered'), '{:,.0f}')} / {fmt(v.get('events_generated'), '{:,.0f}')}"
            if v.get("workload_delivery_pct") is not None:
                vd += f" (workload {v['workload_delivery_pct']:.1f} %)"
        ad = "–"
        if a.get("events_expected") is not None:
            ad = f"{fmt(a.get('events_delivered'), '{:,.0f}')} / {a['events_expected']:,}"
            if a.get("lost"):
                ad += f", {a['lost']} lost"
        lat = "–" if v.get("latency_p50_ms") is None else f"{v['latency_p50_ms']:.0f} / {v['latency_p99_ms']:.0f} ms"
        L.append(f"| {w} | {row['ops']:,} | {fmt(row['none_wall_s'], '{:.2f} s')} | {ov(po)} | {ov(v)} | {ov(a)} | {cr(v)} | "
                 f"{cr(a)} | {ue(v)} | {ue(a)} | {vd} | {ad} | {lat} |")
    L.append("")
    L.append("Wall: median overhead against no sensor (min…max over rounds). Probes only: vajrad's probes and "
             "kernel filters under the same config, with a reader that drains the rings every 10 ms and drops "
             "every record (`vbench-record --discard`), no daemon and no subscriber: what attaching costs, the "
             "floor under Vajra's wall. Machine CPU: busy time of the whole "
             "machine (/proc/stat) from workload start until the sensor has delivered or logged everything, as "
             "a ratio to no sensor. CPU/event: the sensor's own CPU (vajrad; auditd + kauditd) per event it "
             "delivered (Vajra: every event on the stream; auditd: syscall events logged under the benchmark's "
             "rules). Vajra's per-event cost includes exec, fork and exit events (3 per exec iteration); "
             "auditd's rules log execve only.")
    kinds = {w: row["vajra"].get("kinds_delivered") for w, row in s.items() if row.get("vajra")}
    if kinds:
        L.append("")
        L.append("Event kinds Vajra delivered per workload: " + "; ".join(
            f"{w}: {', '.join(k) or 'none'}" for w, k in kinds.items()) + ".")
    drops = {w: row["vajra"]["drops"] for w, row in s.items() if row.get("vajra", {}).get("drops")}
    if drops:
        total = {k: sum(d[k] for d in drops.values()) for k in ("kernel_ring", "pipeline", "subscriber")}
        L.append("")
        L.append(f"Vajra drops by place, all rounds: kernel ring {total['kernel_ring']}, pipeline "
                 f"{total['pipeline']}, subscriber {total['subscriber']}.")
    if res.get("rss_mb"):
        L.append(f"vajrad peak RSS (VmHWM): {res['rss_mb']:.1f} MiB in the rounds"
                 + (f", {res['ramp_rss_mb']:.1f} MiB after the throughput ramps" if res.get("ramp_rss_mb") else "")
                 + (f"; the process cache held up to {res['process_cache_peak']:,} entries"
                    if res.get("process_cache_peak") else "") + ".")
    L.append("A – in a CPU/event column: fewer than 100 events in the window (no probe for that workload).")
    bridge_section(L, res)
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | goal | measured | probes only (floor) | |")
    L.append("|---|---|---:|---:|---|")
    for c in res["targets"]:
        m = c["measured"]
        if m is None:
            val = "not measured"
        elif c["unit"] == "events/s":
            val = f"{m:,.0f} events/s"
        elif c["unit"] == "%" and "overhead" in c["target"]:
            val = f"{m:+.1f} %"
            if c.get("spread"):
                val += f" ({c['spread'][0]:+.1f}…{c['spread'][1]:+.1f})"
        else:
            val = f"{m:.1f} {c['unit']}"
        mark = "–" if c["met"] is None else ("met" if c["met"] else "**missed**")
        fl = c.get("floor")
        floor = "–" if not fl else f"{fl['median']:+.1f} % ({fl['min']:+.1f}…{fl['max']:+.1f})"
        L.append(f"| {c['target']} | {c['goal']} | {val} | {floor} | {mark} |")
    process_kinds = {"EXEC", "EXEC_FAILED", "FORK", "EXIT"}
    # The unwatched file storm makes no events of its own on purpose; any other workload that does is
    # one vajrad has no probe for.
    bare = [w for w, row in s.items() if w not in ("exec", "mixed", "file-unwatched") and row.get("vajra")
            and set(row["vajra"].get("kinds_delivered", [])) <= process_kinds]
    if "file-unwatched" in s:
        L.append("")
        L.append("file-unwatched: no watch list covers its directory, so it makes no file events by design; the row "
                 "measures what the probes cost on changes the kernel filter drops.")
    if bare:
        L.append("")
        L.append(f"{', '.join(bare)}: vajrad has no probe for these workloads yet, so these rows measure what the "
                 "probes that exist cost on them, and their events are only the workload's own exec, fork and exit.")
    if res.get("ramps"):
        L.append("")
        L.append("## Sustained throughput (zero loss)")
        L.append("")
        L.append("| generator | highest zero-loss rate | limit | vajrad CPU at that rate | p99 latency |")
        L.append("|---|---:|---|---:|---:|")
        for r in res["ramps"]:
            b = r.get("best_step") or {}
            L.append(f"| {r['op']}{' (threads on)' if r['threads_enabled'] else ''} | "
                     f"{r['best_events_per_s']:,.0f} events/s | {r['limit']} | "
                     f"{fmt(b.get('sensor_cpu_util') and b['sensor_cpu_util'] * 100, '{:.0f} % of a core')} | "
                     f"{fmt((b.get('latency_ms') or {}).get('p99'), '{:.0f} ms')} |")
        for r in res["ramps"]:
            L.append("")
            L.append(f"Steps of the {r['op']} ramp:")
            L.append("")
            L.append("| target ops/s | achieved ops/s | events/s | lost (of them the bridge's) | backlog after step | "
                     "vajrad CPU | bridge CPU | machine busy | p50 / p99 latency |")
            L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for st in r["steps"]:
                lm = st.get("latency_ms") or {}
                L.append(f"| {st['target_ops_per_s']:,} | {st['achieved_ops_per_s']:,.0f} | {st['events_per_s']:,.0f} | "
                         f"{st['lost']} ({st.get('bridge_drops', 0)}) | {st['drain_s']:.2f} s | "
                         f"{st['sensor_cpu_util'] * 100:.0f} % of a core | "
                         f"{fmt(st.get('bridge_cpu_util') and st['bridge_cpu_util'] * 100, '{:.0f} % of a core')} | "
                         f"{st['machine_cpu_util'] * 100:.0f} % | {fmt(lm.get('p50'), '{:.0f}')} / {fmt(lm.get('p99'), '{:.0f}')} ms |")
    cg = res.get("callgrind")
    if cg:
        L.append("")
        L.append("## Hot path instruction count (callgrind)")
        L.append("")
        L.append(f"decode + enrich + attach hash + serialize, over {cg['events']:,} recorded events: "
                 f"**{fmt(cg['instructions_per_event'], '{:,.0f}')} instructions per event** "
                 f"({fmt(cg.get('native_ns_per_event'), '{:,.0f}')} ns per event natively, "
                 f"{fmt(cg.get('bytes_per_event'), '{:,.0f}')} bytes serialized).")
        bursts = cg.get("native_ns_per_event_in_bursts") or {}
        if bursts:
            L.append("The same replay in bursts with a 10 ms pause after each, as vajrad's decode thread drains the "
                     "rings: " + ", ".join(f"{fmt(ns, '{:,.0f}')} ns per event in bursts of {burst}"
                                          for burst, ns in bursts.items())
                     + ". Work that starts cold after a pause costs several times as much (docs/benchmarks.md).")
        steps = cg.get("steps_per_event") or {}
        if steps:
            L.append("By step, per event: " + ", ".join(f"{k.replace('step_', '')} {v:,.0f}" for k, v in steps.items())
                     + " (the rest is destroying the event).")
        if cg.get("allocator_share") is not None:
            L.append(f"malloc/free and operator new/delete alone: {cg['allocator_share'] * 100:.0f} % of these instructions.")
        L.append("")
        L.append("| event kind | events | instructions / event |")
        L.append("|---|---:|---:|")
        for k, v in cg["kinds"].items():
            L.append(f"| {k} | {v['events']:,} | {fmt(v['instructions_per_event'], '{:,.0f}')} |")
    prof = res.get("profile")
    if prof:
        L.append("")
        L.append("## Profiles")
        if prof.get("bpf_programs"):
            L.append("")
            L.append("BPF programs during the exec storm (kernel.bpf_stats_enabled):")
            L.append("")
            L.append("| program | runs | ns / run |")
            L.append("|---|---:|---:|")
            for b in prof["bpf_programs"]:
                L.append(f"| {b['name']} | {b['runs']:,} | {b['ns_per_run']:,.0f} |")
            L.append("")
            L.append(f"BPF time per exec iteration: {prof['bpf_ns_per_exec_iteration'] / 1000:.1f} µs.")
        er = prof.get("exec_run") or {}
        if er:
            L.append("")
            L.append(f"Profiled exec storm: vajrad {fmt(er.get('vajrad_cpu_us_per_event'))} µs of CPU per event "
                     f"over {er.get('events', 0):,} events (perf attached).")
        if prof.get("perf_threads"):
            L.append("")
            L.append("vajrad's CPU by thread (`perf record -e cpu-clock`): " + ", ".join(
                f"{t['thread']} {t['percent']:.0f} %" for t in prof["perf_threads"] if t["percent"] >= 1) + ".")
        if prof.get("perf_inclusive"):
            L.append("")
            L.append("Inclusive time of vajrad's own functions (share of all vajrad samples):")
            L.append("")
            L.append("| incl. % | self % | function |")
            L.append("|---:|---:|---|")
            for t in [t for t in prof["perf_inclusive"] if KEY_FRAMES.search(clean_symbol(t["symbol"]))][:16]:
                L.append(f"| {t['children']:.1f} | {t['self']:.1f} | `{clean_symbol(t['symbol'])[:110]}` |")
        if prof.get("perf_top"):
            L.append("")
            L.append("Top symbols by self time:")
            L.append("")
            L.append("| % | where | symbol |")
            L.append("|---:|---|---|")
            for t in prof["perf_top"][:12]:
                L.append(f"| {t['percent']:.1f} | {t['dso']} | `{clean_symbol(t['symbol'])[:90]}` |")
        if prof.get("latency_vs_ring"):
            L.append("")
            L.append("Latency at 200 exec/s against the ring buffer size (a record after a quiet spell wakes vajrad "
                     "at once; under load vajrad drains after a hold-off of 1 to 10 ms (daemon/pipeline.cpp), or "
                     "early when 1/8 of the ring is pending):")
            L.append("")
            L.append("| buffers.ring_buffer_bytes | p50 | p99 | lost |")
            L.append("|---:|---:|---:|---:|")
            for x in prof["latency_vs_ring"]:
                lm = x.get("latency_ms") or {}
                L.append(f"| {x['ring_buffer_bytes']:,} | {fmt(lm.get('p50'), '{:.1f} ms')} | "
                         f"{fmt(lm.get('p99'), '{:.1f} ms')} | {x['lost']} |")
        if prof.get("batch_delay"):
            L.append("")
            L.append("The exec storm against `buffers.batch_delay_ms`, the longest wait between drains under load "
                     "(vajrad's CPU per delivered event and the consumer's latency; medians of interleaved rounds):")
            L.append("")
            L.append("| buffers.batch_delay_ms | rounds | vajrad CPU/event | p50 | p99 |")
            L.append("|---:|---:|---:|---:|---:|")
            for x in prof["batch_delay"]:
                L.append(f"| {x['batch_delay_ms']} | {x['rounds']} | {fmt(x['cpu_us_per_event'], '{:.1f} µs')} | "
                         f"{fmt(x['p50_ms'], '{:.1f} ms')} | {fmt(x['p99_ms'], '{:.1f} ms')} |")
    L.append("")
    L.append("Sizes: " + ", ".join(f"{k} {v:,}" for k, v in wl.items()) + f"; mixed runs all of them at once "
             f"at {res['mixed_fraction']:g}× these sizes. Raw data: results.json. Plot: overhead.png.")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return "\n".join(L)


def bridge_section(L, res):
    """The osquery bridge, the second subscriber of the Vajra condition: what it received and lost,
    what its retention evicted, and its own CPU."""
    rows = {w: row["vajra"]["bridge"] for w, row in res["summary"].items() if (row.get("vajra") or {}).get("bridge")}
    if not rows:
        return
    L.append("")
    L.append("## osquery bridge (vajra.ext under the fake osquery core)")
    L.append("")
    L.append("| workload | events received | lost (read too slowly) | rows evicted (max_rows) | rows queried (built) | "
             "query CPU | bridge CPU/event | caught up after the workload |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for w, b in rows.items():
        L.append(f"| {w} | {fmt(b['received'], '{:,.0f}')} | {b['lost_subscriber']:,} | {b['evicted_max_rows']:,} | "
                 f"{fmt(b.get('rows_queried'), '{:,.0f}')} ({fmt(b.get('rows_built'), '{:,.0f}')}) | "
                 f"{fmt(b.get('query_cpu_ms'), '{:.0f} ms')} | "
                 f"{fmt(b['cpu_us_per_event'], '{:.1f} µs')} | {fmt(b['catch_up_s'], '{:.2f} s')} |")
    L.append("")
    L.append("Medians over rounds, except lost and evicted (sums). The bridge runs as osqueryd runs it, as nobody, "
             "with the shipped retention (`bridge.max_rows` 50,000 per table): a storm of more events than that "
             "evicts the oldest rows, as osquery's own event tables do. After each workload the fake core queries "
             "every event table for the window's rows (`time >=` its start, column `seq`), as a scheduled query "
             "would: the bridge builds a row when a query first reads it, so rows evicted unread are never built. "
             "Bridge CPU/event includes that query (query CPU) and is per event received. Its CPU is not in "
             "Vajra's CPU/event above (vajrad only); the wall and machine-CPU columns include its receiving, not "
             "the query, which runs after the workload."
             + (f" Events that did not parse when read (`*_unreadable`): {sum(b.get('unreadable') or 0 for b in rows.values()):,}."
                if any(b.get('unreadable') for b in rows.values()) else "")
             + (f" Bridge peak RSS (VmHWM): {res['bridge_rss_mb']:.1f} MiB." if res.get("bridge_rss_mb") else ""))


def plot(path, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = res["summary"]
    names = list(s.keys())
    conds = [("probes", "probes only", "#7f7f7f"), ("vajra", "Vajra", "#1f77b4"), ("auditd", "auditd", "#d62728")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    x = list(range(len(names)))

    def bars(ax, key, transform, title, ylabel, target=None, log=False):
        # Only the conditions with a value here (probes only has no events, so no CPU per event).
        shown = [c for c in conds if any(transform(s[w].get(c[0], {}).get(key)) is not None for w in names)]
        width = 0.8 / max(1, len(shown))
        for i, (c, label, color) in enumerate(shown):
            vals = [transform(s[w].get(c, {}).get(key)) for w in names]
            pos = [xi + (i - (len(shown) - 1) / 2) * width for xi in x]
            ax.bar(pos, [v if v is not None else 0 for v in vals], width, label=label, color=color)
            for p, v in zip(pos, vals):
                if v is not None:
                    ax.annotate(f"{v:.1f}", (p, v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=25, ha="right")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if log == "symlog":
            # Linear from -10 % to +10 %, logarithmic beyond: Vajra's few percent and auditd's hundreds
            # both stay readable.
            ax.set_yscale("symlog", linthresh=10)
        elif log:
            ax.set_yscale("log")
        if target:
            for value, label in target:
                ax.axhline(value, linestyle="--", color="gray", linewidth=1)
                ax.annotate(label, (len(names) - 0.5, value), ha="right", va="bottom", fontsize=7, color="gray")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.legend(fontsize=8)

    bars(axes[0], "wall_ratio", lambda r: None if r is None else (r - 1) * 100, "Wall-time overhead vs no sensor",
         "% (symlog)", target=[(3, "exec target 3 %")], log="symlog")
    bars(axes[1], "machine_cpu_ratio", lambda r: None if r is None else (r - 1) * 100,
         "Whole-machine CPU overhead vs no sensor", "% (symlog)", log="symlog")
    bars(axes[2], "sensor_cpu_us_per_event", lambda v: v, "Sensor CPU per delivered event", "µs (log)",
         target=[(10, "target 10 µs")], log=True)
    info = res["machine"]
    fig.suptitle(f"Vajra vs auditd — {info['cpus']} vCPU, Linux {info['kernel']}, {res['date']}, "
                 f"median of {res['rounds']} rounds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bridge_note(res):
    """One paragraph on the osquery bridge for the README (its table is in results.md)."""
    rows = {w: row["vajra"]["bridge"] for w, row in res["summary"].items() if (row.get("vajra") or {}).get("bridge")}
    per_event = [b["cpu_us_per_event"] for b in rows.values() if b.get("cpu_us_per_event") is not None]
    if not per_event:
        return ""
    lost = sum(b["lost_subscriber"] for b in rows.values())
    return (f"The Vajra condition includes the osquery bridge holding the tables (vajra.ext under a fake osquery "
            f"core): its own CPU was {min(per_event):.1f}–{max(per_event):.1f} µs per event received"
            + (f", peak RSS {res['bridge_rss_mb']:.1f} MiB" if res.get("bridge_rss_mb") else "")
            + (f"; in the storms vajrad dropped {lost:,} events for it because it read too slowly (counted in "
               f"its `vajra_status`)" if lost else "") + ". Details in results.md.\n\n")


def probes_note(res):
    """One sentence on the probes-only column for the README."""
    if not any((row.get("probes") or {}).get("wall_ratio") is not None for row in res["summary"].values()):
        return ""
    return ("Probes only: vajrad's probes and kernel filters with a reader that drops every record, no daemon "
            "and no subscriber. It is the floor under Vajra's wall time: a target below it is out of reach for "
            "any user space on these probes.\n\n")


def update_readme(res, out_dir, md_text):
    """Rewrites only the benchmark section at the end of README.md (between its markers): machine and
    date, the overhead and targets tables, the plot."""
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        text = f.read()
    rel = os.path.relpath(out_dir, ROOT)

    def table(section):
        if f"## {section}" not in md_text:
            return ""
        body = md_text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
        return "\n".join(l for l in body.splitlines() if l.startswith("|"))
    info = res["machine"]
    block = (f"<!-- bench:begin (written by bench/harness.py --update-readme) -->\n"
             f"Latest run: {res['date']}, {info['cpus']} vCPU {info['cpu_model']}, {info['mem_gib']} GiB, "
             f"Linux {info['kernel']} ({info['virtualization']}), {info['os']}, source {info['git']}, "
             f"{res['rounds']} rounds; Vajra families loaded: {', '.join(res.get('vajra_families', []))}; "
             f"vajrad's scheduling policy: {res.get('vajra_cpu_policy') or 'not reported'}. "
             f"Reproduce with `sudo bench/run.sh`; method and how to read it in "
             f"[docs/benchmarks.md](docs/benchmarks.md); everything else (throughput ramp, callgrind, "
             f"profiles, warnings) in [{rel}/results.md]({rel}/results.md).\n\n"
             f"{table('Overhead')}\n\n{probes_note(res)}{bridge_note(res)}{table('Targets')}\n\n![overhead]({rel}/overhead.png)\n"
             f"<!-- bench:end -->")
    if "<!-- bench:begin" in text:
        text = re.sub(r"<!-- bench:begin.*?<!-- bench:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + block + "\n"
    with open(readme, "w") as f:
        f.write(text)
