"""The machine under test: what it is (hardware, kernel, commit, build) and whether it is fit to measure
on (quiet, and no other sensor or BPF tracing program running)."""

import datetime
import json
import os
import platform
import shutil
import socket
import time

from .common import ROOT, log, run
from .procfs import find_pids_by_comm, machine_cpu

# Processes that are sensors: one of them running outside the harness skews every condition.
FOREIGN_SENSORS = ("vajrad", "auditd", "falco", "tetragon", "tracee", "sysmon", "auditbeat", "osqueryd",
                   "vbench-record")
# What vajrad and the benchmark's own programs are built from.
VAJRAD_SOURCES = ("proto", "bpf", "common", "daemon")
TRACING_PROG_TYPES = ("tracepoint", "tracing", "raw_tracepoint", "raw_tracepoint_writable", "kprobe",
                      "perf_event", "lsm")


def bpftool_json(*what):
    try:
        return json.loads(run(["bpftool", *what, "--json"], check=False).stdout or "[]")
    except (OSError, ValueError):
        return []


def tracing_programs():
    """Tracing programs attached now, by a BPF link or a perf event. A program that is only loaded (a
    tail-call target whose map the kernel frees some time after its owner exited) traces nothing."""
    attached = {entry.get("prog_id") for entry in bpftool_json("link", "show") + bpftool_json("perf", "show")}
    return [p for p in bpftool_json("prog", "show") if p.get("type") in TRACING_PROG_TYPES and p.get("id") in attached]


def machine_info():
    info = {"hostname": socket.gethostname(), "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        info["cpu_model"] = models[0] if models else "unknown"
    except OSError:
        info["cpu_model"] = "unknown"
    info["mem_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    try:
        with open("/etc/os-release") as f:
            kv = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
        info["os"] = kv.get("PRETTY_NAME", "").strip('"')
    except OSError:
        info["os"] = "unknown"
    virt = ""
    if shutil.which("systemd-detect-virt"):
        vm = run(["systemd-detect-virt", "--vm"], check=False).stdout.strip()
        virt = f"{vm} VM" if vm and vm != "none" else run(["systemd-detect-virt"], check=False).stdout.strip()
    info["virtualization"] = virt or "unknown"
    git = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], check=False).stdout.strip()
    info["git"] = git + ("-dirty" if dirty else "")
    return info


def negative_dentries():
    try:
        with open("/proc/sys/fs/dentry-state") as f:
            return int(f.read().split()[4])
    except (OSError, IndexError, ValueError):
        return None


def drop_dentries():
    """Starts the run with the dentry and inode caches emptied. Negative dentries (one per name ever
    unlinked) are only reclaimed under memory pressure, so on a machine with memory to spare they pile
    up: 28 million here after a day of file storms, which made every path lookup slower and the bare
    file storm take 1.7 s instead of 0.9 s. Returns the negative dentries before and after."""
    before = negative_dentries()
    run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
    except OSError as e:
        log(f"WARNING could not drop the dentry cache: {e}")
    after = negative_dentries()
    log(f"negative dentries at start: {before:,} → {after:,}" if before is not None and after is not None
        else "negative dentries: /proc/sys/fs/dentry-state unreadable")
    return {"before": before, "after": after}


def build_info(args, until=None):
    """When the binaries measured were built, and whether a source file one of them is built from
    changed since (then the commit in machine_info is not what was measured). Compares file times, as
    make does: a commit made after the build, of what was built, is not a change; docs, tests and build
    rules are not sources. `until` (a time) ignores changes made after it, to judge an earlier run."""
    sources = {
        args.bin("vajrad"): VAJRAD_SOURCES,
        # The bridge links vajrad's config library only (daemon/CMakeLists.txt: vajra_config), not the
        # rest of daemon/.
        os.path.join(args.build, "bridge", "vajra.ext"): ("proto", "common", "bridge", "bpf/vajra_wire.h",
                                                          "daemon/config*", "daemon/watch_list*"),
        args.bin("vbench-consumer"): ("proto", "bench/consumer"),
        args.bin("vbench-load"): ("bench/load",),
        args.bin("vbench-replay"): VAJRAD_SOURCES + ("bench/hotpath/vbench_replay.cpp", "bench/hotpath/record_file.h"),
        args.bin("vbench-record"): VAJRAD_SOURCES + ("bench/hotpath/vbench_record.cpp", "bench/hotpath/record_file.h"),
    }
    changed, built = set(), {}
    for binary, dirs in sources.items():
        if not os.path.exists(binary):
            continue
        built[binary] = os.path.getmtime(binary)
        for f in run(["git", "-C", ROOT, "ls-files", "--", *dirs], check=False).stdout.split():
            path = os.path.join(ROOT, f)
            if os.path.basename(f) == "CMakeLists.txt":
                continue  # build rules: the build that bench/run.sh starts with applies them
            if os.path.exists(path) and built[binary] < os.path.getmtime(path) <= (until or float("inf")):
                changed.add(f)
    changed = sorted(changed)
    if changed:
        log(f"WARNING {len(changed)} source files changed after the binaries measured were built "
            f"(e.g. {changed[0]}): rebuild (bench/run.sh does) to measure them")
    return {"vajrad": args.bin("vajrad"),
            "built": datetime.datetime.fromtimestamp(built[args.bin("vajrad")]).strftime("%Y-%m-%d %H:%M"),
            "source_newer_than_binary": bool(changed), "changed_sources": changed[:10]}


class Machine:
    """Waits for the machine to be quiet and free of other sensors before measuring."""

    def __init__(self, args):
        self.args = args
        self.warnings = []
        self.known_pids = []  # processes the workloads use that are not their children (dnsmasq)

    def foreign(self, own_pids=()):
        found = [f"{comm} (pid {pid})" for pid, comm in find_pids_by_comm(FOREIGN_SENSORS) if pid not in own_pids]
        if not own_pids:
            progs = tracing_programs()
            if progs:
                names = sorted({p.get("name", "?") for p in progs})
                found.append(f"{len(progs)} BPF tracing programs attached ({', '.join(names[:8])})")
        return found

    def wait_clean(self, what):
        deadline = time.monotonic() + self.args.clean_timeout
        warned = False
        while True:
            found = self.foreign()
            if not found:
                return True
            if time.monotonic() >= deadline:
                message = f"{what}: other sensors present, measuring anyway: {'; '.join(found)}"
                log("WARNING " + message)
                self.warnings.append(message)
                return False
            if not warned:
                log(f"{what}: waiting for other sensors to go: {'; '.join(found)}")
                warned = True
            time.sleep(2)

    def wait_quiet(self):
        """Waits until the machine is nearly idle (other jobs would skew wall and CPU), up to a limit.
        Returns the busy fraction (of the whole machine) seen last."""
        deadline = time.monotonic() + self.args.quiet_timeout
        while True:
            b0, t0 = machine_cpu()
            time.sleep(0.3)
            b1, t1 = machine_cpu()
            busy = (b1 - b0) / max(1, t1 - t0)
            if busy <= self.args.quiet_threshold:
                return busy
            if time.monotonic() >= deadline:
                message = f"machine busy ({busy:.0%}) when a measurement started"
                if message not in self.warnings:
                    self.warnings.append(message)
                log("WARNING " + message)
                return busy
            time.sleep(0.5)
