"""The user-space hot path's instruction count: vbench-record records raw ring records, vbench-replay
replays them under callgrind."""

import json
import os
import re
import signal
import subprocess
import time

from .common import run
from .conditions import generate_vajra_config


def callgrind(args, machine, work, workloads):
    """Records raw ring records while workloads run, replays them through decode + enrich + hash +
    serialize under callgrind and reports instructions per event."""
    machine.wait_clean("callgrind")
    cfg = f"{work}/record.yaml"
    generate_vajra_config(cfg, f"{work}/record.sock", args.vajra_set, False, args.config_template,
                          args.bin("vajrad"), watched=workloads.watched)
    rec = f"{work}/events.rec"
    proc = subprocess.Popen([args.bin("vbench-record"), "--out", rec, "--config", cfg], stdout=subprocess.PIPE,
                            stderr=open(f"{work}/record.err", "w"), text=True)
    ready = proc.stdout.readline()
    if '"ready"' not in ready:
        raise RuntimeError(f"vbench-record did not start: {open(f'{work}/record.err').read()}")
    run([args.bin("vbench-load"), "exec", "--n", str(args.callgrind_exec_n)])
    run([args.bin("vbench-load"), "mixed", "--exec-n", str(args.callgrind_exec_n // 4), "--file-n", "2000",
         "--net-n", "2000", "--dns-n", "500", "--dir", workloads.watched, "--dir2", workloads.unwatched,
         "--server", args.dns_address, "--port", str(args.dns_port)])
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    recorded = json.loads(proc.communicate(timeout=30)[0].strip().splitlines()[-1])
    native = json.loads(run([args.bin("vbench-replay"), "--in", rec, "--config", cfg, "--passes", "20"])
                        .stdout.strip().splitlines()[-1])
    # The same work in bursts with 10 ms pauses between, as vajrad's decode thread drains: 32 events is
    # about what one drain finds in the exec storm at the default batch delay, 320 ten times that.
    bursts = {}
    for burst in (32, 320):
        bursts[burst] = json.loads(run([args.bin("vbench-replay"), "--in", rec, "--config", cfg, "--passes", "3",
                                        "--burst", str(burst), "--pause-ms", "10"])
                                   .stdout.strip().splitlines()[-1]).get("ns_per_event")
    out_file = f"{work}/callgrind.out"
    vg = run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", "--toggle-collect=*vbench::hot_path*",
              args.bin("vbench-replay"), "--in", rec, "--config", cfg, "--passes", "1"])
    replay = json.loads(vg.stdout.strip().splitlines()[-1])
    ann = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", out_file]).stdout
    self_ann = run(["callgrind_annotate", "--threshold=99", "--auto=no", out_file]).stdout
    with open(os.path.join(args.out, "callgrind-hotpath.txt"), "w") as f:
        # The 150 costliest functions of each view; callgrind.out in the work folder has everything.
        f.write("# inclusive (callgrind_annotate --inclusive=yes)\n" + "\n".join(ann.splitlines()[:170])
                + "\n\n# self (callgrind_annotate)\n" + "\n".join(self_ann.splitlines()[:170]) + "\n")
    total = None
    per_kind, steps = {}, {}
    line_re = re.compile(r"^\s*([\d,]+)\s+\([\s\d.%]+\)\s+(.*)$")
    for line in ann.splitlines():
        m = line_re.match(line)
        if not m:
            continue
        ir, rest = int(m.group(1).replace(",", "")), m.group(2)
        if rest.startswith("PROGRAM TOTALS"):
            total = ir
            continue
        if not rest.endswith("vbench-replay]") or "vbench_replay.cpp:" not in rest:
            continue  # inlined lines and other objects: the function's own line already includes them
        k = re.search(r"vbench_replay\.cpp:(?:void )?vbench::hot_path<(\d+)>\(", rest)
        if k:
            per_kind[k.group(1)] = per_kind.get(k.group(1), 0) + ir
        st = re.search(r"vbench_replay\.cpp:vbench::(step_\w+)\(", rest)
        if st:
            steps[st.group(1)] = steps.get(st.group(1), 0) + ir
    # Self cost of the allocator (malloc/free and operator new/delete) as a share of the hot path.
    alloc = 0
    for line in self_ann.splitlines():
        m = line_re.match(line)
        if m and re.search(r"malloc/malloc\.c:|operator new|operator delete|:cfree|:free ", m.group(2)):
            alloc += int(m.group(1).replace(",", ""))
    kinds = {}
    events = 0
    for bucket, info in replay.get("kinds", {}).items():
        count = info["count"]
        events += count
        ir = per_kind.get(bucket)
        kinds[info["event_kind"].replace("EVENT_KIND_", "")] = {
            "events": count, "instructions": ir, "instructions_per_event": (ir / count) if ir and count else None}
    if total is None:
        total = sum(per_kind.values())
    return {"recorded": recorded, "events": events, "instructions": total,
            "instructions_per_event": total / events if events else None,
            "steps_per_event": {k: v / events for k, v in steps.items()} if events else {},
            "kinds": kinds, "native_ns_per_event": native.get("ns_per_event"),
            "native_ns_per_event_in_bursts": bursts,
            "allocator_share": alloc / total if total else None,
            "bytes_per_event": native.get("bytes_per_event")}
