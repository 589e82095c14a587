"""CPU and memory from /proc: the whole machine's busy time (/proc/stat), a process's CPU (ticks and
schedstat ns) and peak RSS, processes by name, and CpuMeter for a set of processes between snapshots."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def proc_ticks(pid):
    """utime+stime of a process (all its threads, dead ones included), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        return None


def proc_runtime_ns(pid):
    """CPU time of a process's live threads in ns (schedstat), and the set of thread ids summed."""
    total, tids = 0, set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                tids.add(tid)
            except (OSError, ValueError):
                pass
    except OSError:
        return None, set()
    return total, tids


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def find_pids_by_comm(names):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in names:
            found.append((int(entry), comm))
    return found


class CpuMeter:
    """CPU of a set of processes between two snapshots: ns from the threads' schedstat (precise), unless
    threads came or went, or the process's ticks (/proc/<pid>/stat, which counts ended threads too)
    grew by more than their 2-tick rounding beyond the schedstat of its live threads: a thread then
    started and ended in between (a Thrift server runs each of the bridge's queries on a thread of
    its own), and the ticks, 10 ms coarse, are used."""

    def __init__(self, pids):
        self.pids = [p for p in pids if p]

    def snapshot(self):
        snap = {}
        for pid in self.pids:
            ns, tids = proc_runtime_ns(pid)
            snap[pid] = (proc_ticks(pid), ns, tids)
        return snap

    @staticmethod
    def delta_us(before, after):
        ticks_us, ns_us, precise = 0.0, 0.0, True
        for pid, (t0, n0, tids0) in before.items():
            t1, n1, tids1 = after.get(pid, (None, None, set()))
            if t0 is None or t1 is None:
                continue
            pid_ticks_us = (t1 - t0) * 1e6 / CLK_TCK
            ticks_us += pid_ticks_us
            if n0 is None or n1 is None or tids0 != tids1:
                precise = False
            else:
                ns_us += (n1 - n0) / 1000.0
                if pid_ticks_us - (n1 - n0) / 1000.0 > 2 * 1e6 / CLK_TCK:
                    precise = False
        return {"ticks_us": ticks_us, "schedstat_us": ns_us if precise else None,
                "us": ns_us if precise else ticks_us}
