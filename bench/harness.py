#!/usr/bin/python3
"""Vajra benchmark harness: Vajra vs no sensor vs auditd, side by side.

Runs the workloads of bench/load (exec, file watched/unwatched, net, dns, mixed) under each condition,
interleaved in rounds, and reports medians and ratios against the no-sensor condition; then the
sustained zero-loss throughput ramp, the callgrind instruction count of the user-space hot path and,
where a target is missed, profiles. Writes results.json, results.md and overhead.png to --out.

Run it through bench/run.sh (which installs and builds first). Needs root. See docs/benchmarks.md.
Use /usr/bin/python3: it needs Debian's python3-yaml and python3-matplotlib.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Audit rules as osquery's audit-based tables install them for the same events: process_events
# (execve, execveat), socket_events (connect, bind, accept, accept4) and a watch (file events).
AUDIT_KEYS = ("vbench_exec", "vbench_net", "vbench_file")

# Frames that say where vajrad's time goes (the rest of a call stack is wrappers).
KEY_FRAMES = re.compile(r"^(vajra::(?!v1::Sensor)\S+|grpc::ServerWriter<.*>::Write|grpc::GenericSerialize<.*|"
                        r"grpc_call_start_batch|grpc_core::ExecCtx::Flush|operator new|__x64_sys_futex|"
                        r"vajra::v1::Event::~Event)\s*$")

def clean_symbol(text):
    """perf report --stdio pads symbols and may append empty columns ("-      -")."""
    return re.sub(r"(\s+-)+\s*$", "", text).strip()


# Fewer events than this in a window: CPU per event is not reported (the sensor's idle costs would dominate).
MIN_EVENTS = 100

TARGETS = {
    "exec_wall_pct": 3.0,
    "exec_cpu_us_per_event": 10.0,
    "exec_delivery_pct": 100.0,
    "file_unwatched_wall_pct": 2.0,
    "file_watched_wall_pct": 10.0,
    "net_wall_pct": 5.0,
    "sustained_events_per_s": 50000.0,
    "latency_p99_ms": 20.0,
    "rss_mb": 100.0,
}

# Processes that are sensors: one of them running outside the harness skews every condition.
FOREIGN_SENSORS = ("vajrad", "auditd", "falco", "tetragon", "tracee", "sysmon", "auditbeat", "osqueryd",
                   "vbench-record")
TRACING_PROG_TYPES = ("tracepoint", "tracing", "raw_tracepoint", "raw_tracepoint_writable", "kprobe",
                      "perf_event", "lsm")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


# ---- measurements from /proc ------------------------------------------------------------------------

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
    """CPU of a set of processes between two snapshots: ticks from /proc/<pid>/stat (counts threads
    that ended too) and, more precisely, ns from the threads' schedstat when no thread came or went."""

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
            ticks_us += (t1 - t0) * 1e6 / CLK_TCK
            if n0 is None or n1 is None or tids0 != tids1:
                precise = False
            else:
                ns_us += (n1 - n0) / 1000.0
        # schedstat misses threads that ended inside the window; ticks do not, but are 10 ms coarse.
        return {"ticks_us": ticks_us, "schedstat_us": ns_us if precise else None,
                "us": ns_us if precise else ticks_us}


# ---- machine state -----------------------------------------------------------------------------------

def tracing_programs():
    try:
        out = run(["bpftool", "prog", "show", "--json"], check=False).stdout
        return [p for p in json.loads(out or "[]") if p.get("type") in TRACING_PROG_TYPES]
    except (OSError, ValueError):
        return []


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


def build_info(args):
    """When the binaries measured were built, and whether the source moved on since (then the
    commit in machine_info is not what was measured)."""
    vajrad = args.bin("vajrad")
    built = os.path.getmtime(vajrad)
    head_time = run(["git", "-C", ROOT, "log", "-1", "--format=%ct"], check=False).stdout.strip()
    newer = bool(head_time) and int(head_time) > built
    if newer:
        log("WARNING the last commit is newer than the vajrad binary: rebuild (bench/run.sh does) to measure it")
    return {"vajrad": vajrad, "built": datetime.datetime.fromtimestamp(built).strftime("%Y-%m-%d %H:%M"),
            "source_newer_than_binary": newer}


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


# ---- the local DNS server ------------------------------------------------------------------------

class Dnsmasq:
    def __init__(self, work, address, port):
        self.work, self.address, self.port = work, address, port
        self.proc = None

    def start(self):
        cmd = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--listen-address={self.address}",
               "--bind-interfaces", f"--port={self.port}", "--no-resolv", "--no-hosts",
               "--address=/vbench.test/127.0.0.1", "--user=root", "--pid-file=",
               f"--log-facility={self.work}/dnsmasq.log"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/dnsmasq.err", "w"))
        for _ in range(50):
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {open(f'{self.work}/dnsmasq.err').read()}")
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(0.2)
                # A minimal A query for vbench.test.
                q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06vbench\x04test\x00\x00\x01\x00\x01"
                s.sendto(q, (self.address, self.port))
                s.recv(512)
                s.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dnsmasq does not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- conditions ------------------------------------------------------------------------------------

class NoSensor:
    name = "none"
    label = "no sensor"

    def setup(self):
        pass

    def teardown(self):
        return {}

    def sensor_pids(self):
        return []

    def before(self):
        pass

    def drain(self, workload):
        return {}


def generate_vajra_config(path, socket_path, overrides, threads=False, template=None, vajrad=None, watched=None):
    """The shipped config/vajra.yaml with every event kind on (threads aside), so families that come
    later are switched on here without a change to the harness (families with their own section ship
    switched on), plus --vajra-set overrides. When vajrad is given, keys it does not know (a template
    newer than the binary) are dropped, each with a warning, until `vajrad --check-config` accepts it."""
    import yaml
    try:
        with open(template or os.path.join(ROOT, "config", "vajra.yaml")) as f:
            cfg = yaml.safe_load(f) or {}
    except OSError:
        cfg = {}
    cfg.setdefault("socket", {})["path"] = socket_path
    cfg.setdefault("log", {})["level"] = "warn"
    events = cfg.setdefault("events", {})
    for key, value in list(events.items()):
        if isinstance(value, bool):
            events[key] = True
    events["threads"] = threads
    if watched:
        # The file storm's watched directory, as one more category next to the shipped ones (the
        # same directory auditd watches).
        files = cfg.setdefault("files", {})
        files.setdefault("categories", {})["bench"] = {"include": [watched.rstrip("/") + "/**"]}
    for item in overrides:
        key, _, raw = item.partition("=")
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(raw)
    dropped = []
    for _ in range(20):
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        if not vajrad:
            break
        check = run([vajrad, "--config", path, "--check-config"], check=False)
        if check.returncode == 0:
            break
        m = re.search(r":\d+: ([\w.]+): unknown key", check.stderr)
        if not m:
            raise RuntimeError(f"vajrad rejects the generated config: {check.stderr.strip()}")
        node, parts = cfg, m.group(1).split(".")
        for p in parts[:-1]:
            node = node.get(p, {})
        node.pop(parts[-1], None)
        dropped.append(m.group(1))
    if dropped:
        log(f"WARNING config/vajra.yaml has keys this vajrad does not know, left out: {', '.join(dropped)}")
    return cfg


class Vajra:
    name = "vajra"
    label = "Vajra"

    def __init__(self, args, work, threads=False, tag="vajra"):
        self.args, self.work, self.threads, self.tag = args, work, threads, tag
        self.socket = f"{work}/{tag}.sock"
        self.config = f"{work}/{tag}.yaml"
        self.proc = self.consumer = None
        self.status = None
        self.env = None  # environment for vajrad (None: the harness's)

    def setup(self):
        generate_vajra_config(self.config, self.socket, self.args.vajra_set, self.threads,
                              self.args.config_template, self.args.bin("vajrad"), f"{self.work}/watched")
        self.log = open(f"{self.work}/{self.tag}-vajrad.log", "a")
        self.proc = subprocess.Popen([self.args.bin("vajrad"), "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        for _ in range(200):
            if self.proc.poll() is not None:
                raise RuntimeError(f"vajrad exited during start-up, see {self.work}/{self.tag}-vajrad.log")
            if os.path.exists(self.socket):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("vajrad did not create its socket")
        self.consumer = subprocess.Popen(
            [self.args.bin("vbench-consumer"), "--socket", self.socket, "--attribute-exe", self.args.bin("vbench-load")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(f"{self.work}/{self.tag}-consumer.log", "a"),
            text=True, bufsize=1)
        ready = self.ask(None)
        if not ready.get("ok"):
            raise RuntimeError("the consumer could not subscribe")
        self.status = self.ask("status").get("status", {})

    def ask(self, command):
        if command is not None:
            self.consumer.stdin.write(command + "\n")
            self.consumer.stdin.flush()
        line = self.consumer.stdout.readline()
        if not line:
            raise RuntimeError("the consumer ended")
        return json.loads(line)

    def sensor_pids(self):
        return [self.proc.pid]

    def helper_pids(self):
        return [self.consumer.pid]

    def before(self):
        self.ask("begin")

    def drain(self, workload):
        return self.ask(f"end {self.args.drain_timeout}")

    def teardown(self):
        out = {"vm_hwm_kb": proc_status_kb(self.proc.pid, "VmHWM"), "vm_rss_kb": proc_status_kb(self.proc.pid, "VmRSS")}
        try:
            st = self.ask("status").get("status", {})
            out["process_cache"] = st.get("process_cache")
            out["hash_cache"] = st.get("hash_cache")
        except (OSError, RuntimeError, ValueError):
            pass
        try:
            self.consumer.stdin.write("quit\n")
            self.consumer.stdin.flush()
            self.consumer.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.consumer.kill()
            self.consumer.wait()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        out["exit_code"] = self.proc.returncode
        out["socket_removed"] = not os.path.exists(self.socket)
        return out


class Auditd:
    name = "auditd"
    label = "auditd"

    def __init__(self, args, work, watched):
        self.args, self.work, self.watched = args, work, watched
        self.dir = f"{work}/audit"
        self.logfile = f"{self.dir}/audit.log"
        self.proc = None
        self.offset = 0
        self.lost0 = 0

    def prepare_config(self):
        # The installed auditd.conf with only the log moved into the work folder (and not rotated
        # in the middle of a window).
        os.makedirs(self.dir, exist_ok=True)
        with open("/etc/audit/auditd.conf") as f:
            conf = f.read()
        conf = re.sub(r"(?m)^log_file\s*=.*$", f"log_file = {self.logfile}", conf)
        conf = re.sub(r"(?m)^max_log_file_action\s*=.*$", "max_log_file_action = IGNORE", conf)
        with open(f"{self.dir}/auditd.conf", "w") as f:
            f.write(conf)

    @staticmethod
    def status():
        out = run(["auditctl", "-s"], check=False).stdout
        return {k: int(v) for k, v in re.findall(r"(?m)^(\w+) (\d+)", out)}

    def setup(self):
        self.prepare_config()
        # A fresh log per setup: a full run logs gigabytes (the watched file storm alone is ~400 MB).
        for old in os.listdir(self.dir):
            if old.startswith("audit.log"):
                os.unlink(os.path.join(self.dir, old))
        run(["auditctl", "-D"], check=False)
        self.proc = subprocess.Popen(["auditd", "-n", "-c", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=open(f"{self.work}/auditd.err", "a"))
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError(f"auditd exited: see {self.work}/auditd.err")
            if self.status().get("pid") == self.proc.pid:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("auditd did not register with the kernel")
        run(["auditctl", "-b", "8192"])
        run(["auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-S", "execveat", "-k", "vbench_exec"])
        run(["auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-S", "bind", "-S", "accept",
             "-S", "accept4", "-k", "vbench_net"])
        run(["auditctl", "-w", self.watched, "-p", "wa", "-k", "vbench_file"])
        self.kauditd = [pid for pid, _ in find_pids_by_comm(("kauditd",))]

    def sensor_pids(self):
        return [self.proc.pid] + self.kauditd

    def helper_pids(self):
        return []

    def log_size(self):
        return os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0

    def before(self):
        self.lost0 = self.status().get("lost", 0)
        # auditctl's own execve is logged too: let it land before the window opens.
        size = -1
        for _ in range(20):
            time.sleep(0.05)
            now = self.log_size()
            if now == size:
                break
            size = now
        self.offset = self.log_size()

    def drain(self, workload):
        # Done when the log stops growing and auditd and kauditd stop using CPU.
        start = time.monotonic()
        last, still = None, 0
        while time.monotonic() - start < self.args.drain_timeout:
            size = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
            cpu = sum((proc_runtime_ns(p)[0] or 0) for p in self.sensor_pids())
            state = (size, cpu)
            still = still + 1 if state == last else 0
            last = state
            if still >= 3:
                break
            time.sleep(0.1)
        drain_ms = (time.monotonic() - start) * 1000
        keys = {k: 0 for k in AUDIT_KEYS}
        records = 0
        with open(self.logfile, "rb") as f:
            f.seek(self.offset)
            for line in f:
                records += 1
                if line.startswith(b"type=SYSCALL"):
                    m = re.search(rb' key="([^"]+)"', line)
                    if m and m.group(1).decode() in keys:
                        keys[m.group(1).decode()] += 1
        lost = self.status().get("lost", 0) - self.lost0
        return {"drain_ms": drain_ms, "events_by_key": keys, "events": sum(keys.values()),
                "records": records, "lost": lost}

    def teardown(self):
        run(["auditctl", "-D"], check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        run(["auditctl", "-e", "0"], check=False)
        audit_baseline()
        st = self.status()
        rules = run(["auditctl", "-l"], check=False).stdout.strip()
        return {"exit_code": self.proc.returncode, "audit_pid_after": st.get("pid"), "enabled_after": st.get("enabled"),
                "rules_after": rules}


def audit_baseline():
    """No syscall auditing for new tasks. Once audit has been enabled on a host, every new task gets
    an audit context (and a slower syscall path, ~13 ns per syscall here) even with no rule loaded;
    `-a never,task` is what returns new tasks to the state of a host that never ran auditd."""
    if not shutil.which("auditctl"):
        return
    run(["auditctl", "-D"], check=False)
    run(["auditctl", "-a", "never,task"], check=False)


# ---- workloads -------------------------------------------------------------------------------------

class Workloads:
    def __init__(self, args, work):
        self.args = args
        self.watched = f"{work}/watched"
        self.unwatched = f"{work}/unwatched"
        os.makedirs(self.watched, exist_ok=True)
        os.makedirs(self.unwatched, exist_ok=True)
        s = args.scale
        self.n = {"exec": int(args.exec_n * s), "file": int(args.file_n * s), "net": int(args.net_n * s),
                  "dns": int(args.dns_n * s)}
        m = args.mixed_fraction
        dns = ["--server", args.dns_address, "--port", str(args.dns_port)]
        self.commands = {
            "exec": ["exec", "--n", str(self.n["exec"])],
            "file-unwatched": ["file", "--n", str(self.n["file"]), "--dir", self.unwatched],
            "file-watched": ["file", "--n", str(self.n["file"]), "--dir", self.watched, "--watched", "1"],
            "net": ["net", "--n", str(self.n["net"])],
            "dns": ["dns", "--n", str(self.n["dns"])] + dns,
            "mixed": ["mixed", "--exec-n", str(int(self.n["exec"] * m)), "--file-n", str(int(self.n["file"] * m)),
                      "--net-n", str(int(self.n["net"] * m)), "--dns-n", str(int(self.n["dns"] * m)),
                      "--dir", self.watched, "--watched", "1", "--dir2", self.unwatched] + dns,
        }
        # Events the audit rules must log (SYSCALL records with our keys), per workload: the harness
        # knows the workload's syscalls; the workload's own execve counts once.
        ex, f, n, d = self.n["exec"], self.n["file"], self.n["net"], self.n["dns"]
        mex, mf, mn, md = (int(x * m) for x in (ex, f, n, d))
        self.audit_expected = {
            "exec": ex + 1,
            "file-unwatched": 1,
            "file-watched": 1 + 3 * f,          # open(O_CREAT|O_WRONLY), rename, unlink in the watched dir
            "net": 1 + 1 + 2 * n,               # bind of the listener, connect + accept per connection
            "dns": 1 + d,                       # the resolver connect()s its UDP socket per lookup
            "mixed": 1 + mex + 3 * mf + (1 + 2 * mn) + md,
        }

    def names(self):
        return [w for w in self.args.workloads if w in self.commands]

    def run(self, name):
        """Runs a workload; also returns the CPU its whole process tree used (it reaps its children)."""
        cmd = [self.args.bin("vbench-load")] + self.commands[name]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = run(cmd)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return result

    def warm_up(self):
        run([self.args.bin("vbench-load"), "exec", "--n", "50"])


def measure(machine, cond, workloads, name):
    """One workload under one condition. Machine CPU is the whole machine's busy time while the
    workload runs, plus the sensor's (and its consumer's) own CPU while it drains what the workload
    caused: other processes' background during the drain wait is not the sensor's doing.

    The machine is shared (builds, other people's tests): when CPU that is neither the workload's,
    the sensor's, its consumer's nor the DNS server's exceeds --foreign-limit of the machine during the
    run, the sample is discarded and measured again (up to --retries times)."""
    discarded = []
    for attempt in range(1 + machine.args.retries):
        background = machine.wait_quiet()
        cond.before()
        meter = CpuMeter(cond.sensor_pids())
        helpers = CpuMeter(getattr(cond, "helper_pids", lambda: [])())
        known = CpuMeter(machine.known_pids)
        m0, s0, h0, k0 = machine_cpu(), meter.snapshot(), helpers.snapshot(), known.snapshot()
        result = workloads.run(name)
        m1, s1, h1, k1 = machine_cpu(), meter.snapshot(), helpers.snapshot(), known.snapshot()
        drained = cond.drain(name)
        s2, h2 = meter.snapshot(), helpers.snapshot()
        drain_cpu_us = CpuMeter.delta_us(s1, s2)["us"] + CpuMeter.delta_us(h1, h2)["us"]
        busy_s = (m1[0] - m0[0]) / CLK_TCK
        capacity_s = (m1[1] - m0[1]) / CLK_TCK
        ours_s = (result["cpu_s"] + (CpuMeter.delta_us(s0, s1)["ticks_us"] + CpuMeter.delta_us(h0, h1)["ticks_us"]
                                     + CpuMeter.delta_us(k0, k1)["ticks_us"]) / 1e6)
        foreign = max(0.0, busy_s - ours_s) / capacity_s if capacity_s > 0 else 0.0
        sample = {
            "workload": name, "condition": cond.name, "attempt": attempt + 1,
            "wall_s": result["elapsed_ns"] / 1e9, "ops": result["ops"], "failures": result["failures"],
            "expected": result.get("expected", {}), "workload_cpu_s": result["cpu_s"],
            "machine_cpu_s": busy_s + drain_cpu_us / 1e6,
            "machine_cpu_run_s": busy_s, "drain_sensor_cpu_s": drain_cpu_us / 1e6,
            "window_cpu_s": capacity_s, "foreign_share": foreign,
            "sensor_cpu": CpuMeter.delta_us(s0, s2), "helper_cpu": CpuMeter.delta_us(h0, h2),
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


# ---- sustained throughput ---------------------------------------------------------------------------

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
            meter = CpuMeter(cond.sensor_pids())
            s0 = meter.snapshot()
            cmd = [args.bin("vbench-load"), "rate", "--op", op, "--rate", str(rate), "--seconds",
                   str(args.ramp_seconds), "--workers", str(args.ramp_workers), "--dir", f"{work}/unwatched"]
            res = json.loads(run(cmd).stdout.strip().splitlines()[-1])
            d = cond.drain(op)
            m1, s1 = machine_cpu(), meter.snapshot()
            sd = d.get("status_delta", {})
            generated = sum(sd.get("received", {}).values()) + sum(sd.get("kernel_drops", {}).values())
            kernel = sum(sd.get("kernel_drops", {}).values())
            lost = kernel + sd.get("pipeline_drops", 0) + sd.get("this_subscriber_drops", 0) + \
                sum(d.get("loss_events", {}).values())
            elapsed = res["elapsed_ns"] / 1e9
            achieved_ops = res["ops"] / elapsed
            ev_rate = generated / elapsed
            lag = d.get("drain_ms", 0) / 1000
            saturated = achieved_ops < 0.95 * rate or res.get("max_lag_ns", 0) > 0.25e9
            behind = lag > args.ramp_max_lag
            step = {"target_ops_per_s": rate, "achieved_ops_per_s": achieved_ops, "events_per_s": ev_rate,
                    "events": generated, "delivered": sum(d.get("delivered", {}).values()),
                    "lost": lost, "kernel_drops": kernel, "pipeline_drops": sd.get("pipeline_drops", 0),
                    "subscriber_drops": sd.get("this_subscriber_drops", 0), "drain_s": lag,
                    "generator_max_lag_s": res.get("max_lag_ns", 0) / 1e9,
                    "latency_ms": d.get("latency_ms", {}),
                    "machine_cpu_util": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
                    "sensor_cpu_util": CpuMeter.delta_us(s0, s1)["us"] / 1e6 / elapsed,
                    "generator_saturated": saturated, "vajrad_behind": behind}
            steps.append(step)
            log(f"  ramp {op} {rate:>7} ops/s: {ev_rate:9.0f} events/s, lost {lost}, drain {lag:.2f} s, "
                f"generator {'saturated' if saturated else 'ok'}, vajrad {step['sensor_cpu_util']:.0%} of a core")
            if lost or behind:
                limit = ("loss: " + ", ".join(f"{k} {v}" for k, v in (("kernel ring", kernel),
                         ("pipeline", step["pipeline_drops"]), ("subscriber", step["subscriber_drops"])) if v)
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


# ---- callgrind ---------------------------------------------------------------------------------------

def callgrind(args, machine, work, workloads):
    """Records raw ring records while workloads run, replays them through decode + enrich + hash +
    serialize under callgrind and reports instructions per event."""
    machine.wait_clean("callgrind")
    cfg = f"{work}/record.yaml"
    generate_vajra_config(cfg, f"{work}/record.sock", args.vajra_set, False, args.config_template,
                          args.bin("vajrad"))
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
            "allocator_share": alloc / total if total else None,
            "bytes_per_event": native.get("bytes_per_event")}


# ---- profiles -------------------------------------------------------------------------------------

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

    # Latency against the ring size: the kernel wakes vajrad only once 1/8 of the ring is pending, so
    # on a host below that rate events wait for vajrad's poll period instead. The smallest ring
    # vajrad accepts (4 exec records of the largest size) still has a 64 KiB watermark.
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


# ---- summary -----------------------------------------------------------------------------------

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(samples, workloads, teardowns):
    by = {}
    for s in samples:
        by.setdefault((s["workload"], s["condition"], s["round"]), s)
    rounds = sorted({s["round"] for s in samples})
    summary = {}
    for w in workloads.names():
        row = {}
        base = [by.get((w, "none", r)) for r in rounds]
        row["ops"] = next((b["ops"] for b in base if b), None)
        row["none_wall_s"] = med([b["wall_s"] for b in base if b])
        row["none_machine_cpu_s"] = med([b["machine_cpu_s"] for b in base if b])
        for c in ("vajra", "auditd"):
            cs = [by.get((w, c, r)) for r in rounds]
            pairs = [(x, b) for x, b in zip(cs, base) if x and b]
            if not pairs:
                continue
            wall_ratios = [x["wall_s"] / b["wall_s"] for x, b in pairs]
            cpu_ratios = [x["machine_cpu_s"] / b["machine_cpu_s"] for x, b in pairs if b["machine_cpu_s"] > 0]
            cell = {
                "wall_s": med([x["wall_s"] for x, _ in pairs]),
                "wall_ratio": med(wall_ratios), "wall_ratio_min": min(wall_ratios), "wall_ratio_max": max(wall_ratios),
                "machine_cpu_ratio": med(cpu_ratios),
                "sensor_cpu_ms": med([x["sensor_cpu"]["us"] / 1e3 for x, _ in pairs]),
                "sensor_cpu_us_per_op": med([x["sensor_cpu"]["us"] / x["ops"] for x, _ in pairs if x["ops"]]),
            }
            if c == "vajra":
                delivered = [sum(x["sensor"].get("delivered", {}).values()) for x, _ in pairs]
                generated = [sum(x["sensor"].get("status_delta", {}).get("received", {}).values())
                             + sum(x["sensor"].get("status_delta", {}).get("kernel_drops", {}).values())
                             for x, _ in pairs]
                attributed, expected = [], []
                for x, _ in pairs:
                    exp = x["expected"]
                    attributed.append(sum(min(x["sensor"].get("attributed", {}).get(k, 0), v) for k, v in exp.items()))
                    expected.append(sum(exp.values()))
                # Per event only where the workload causes events: a few stray events would make it meaningless.
                per_event = [x["sensor_cpu"]["us"] / d for (x, _), d in zip(pairs, delivered) if d >= MIN_EVENTS]
                cell.update({
                    "events_delivered": med(delivered), "events_generated": med(generated),
                    "delivery_pct": 100.0 * sum(delivered) / sum(generated) if sum(generated) else None,
                    "workload_events_expected": med(expected), "workload_events_attributed": med(attributed),
                    "workload_delivery_pct": 100.0 * sum(attributed) / sum(expected) if sum(expected) else None,
                    "sensor_cpu_us_per_event": med(per_event),
                    "sensor_cpu_us_per_event_pooled": (sum(x["sensor_cpu"]["us"] for x, _ in pairs) / sum(delivered))
                    if per_event else None,
                    "drops": {
                        "kernel_ring": sum(sum(x["sensor"].get("status_delta", {}).get("kernel_drops", {}).values())
                                           for x, _ in pairs),
                        "pipeline": sum(x["sensor"].get("status_delta", {}).get("pipeline_drops", 0) for x, _ in pairs),
                        "subscriber": sum(x["sensor"].get("status_delta", {}).get("this_subscriber_drops", 0)
                                          for x, _ in pairs),
                    },
                    "latency_p50_ms": med([x["sensor"].get("latency_ms", {}).get("p50") for x, _ in pairs
                                           if x["sensor"].get("latency_ms", {}).get("samples")]),
                    "latency_p99_ms": med([x["sensor"].get("latency_ms", {}).get("p99") for x, _ in pairs
                                           if x["sensor"].get("latency_ms", {}).get("samples")]),
                    "latency_p99_max_ms": max([x["sensor"].get("latency_ms", {}).get("p99") or 0 for x, _ in pairs]),
                    "consumer_cpu_ms": med([x["helper_cpu"]["us"] / 1e3 for x, _ in pairs]),
                    "kinds_delivered": sorted({k for x, _ in pairs for k in x["sensor"].get("delivered", {})}),
                })
            else:
                events = [x["sensor"].get("events", 0) for x, _ in pairs]
                exp = workloads.audit_expected.get(w)
                per_event = [x["sensor_cpu"]["us"] / e for (x, _), e in zip(pairs, events) if e >= MIN_EVENTS]
                cell.update({
                    "events_delivered": med(events), "events_expected": exp,
                    "delivery_pct": 100.0 * med(events) / exp if exp else None,
                    "lost": sum(x["sensor"].get("lost", 0) for x, _ in pairs),
                    "sensor_cpu_us_per_event": med(per_event),
                    "sensor_cpu_us_per_event_pooled": (sum(x["sensor_cpu"]["us"] for x, _ in pairs) / sum(events))
                    if per_event else None,
                })
            if (cell.get("events_delivered") or 0) < MIN_EVENTS:
                cell["sensor_cpu_us_per_event"] = cell["sensor_cpu_us_per_event_pooled"] = None
            row[c] = cell
        summary[w] = row
    hwm = [t.get("vm_hwm_kb") for t in teardowns if t.get("condition") == "vajra" and t.get("vm_hwm_kb")]
    return summary, (max(hwm) / 1024 if hwm else None)


def cache_peak(teardowns, ramps):
    sizes = [int((t.get("process_cache") or {}).get("size", 0)) for t in teardowns]
    sizes += [int((r.get("process_cache") or {}).get("size", 0)) for r in ramps or []]
    return max(sizes) if sizes else None


def pct(ratio):
    return None if ratio is None else (ratio - 1) * 100


def fmt(v, spec="{:.1f}", none="–"):
    return none if v is None else spec.format(v)


def evaluate_targets(summary, rss_mb, ramps):
    def cell(w, c, k):
        return summary.get(w, {}).get(c, {}).get(k)
    checks = []

    def add(name, goal, value, ok, unit="", spread=None):
        checks.append({"target": name, "goal": goal, "measured": value, "unit": unit, "spread": spread,
                       "met": None if value is None else ok(value)})

    def wall(name, goal_text, w, limit):
        r = cell(w, "vajra", "wall_ratio")
        lo, hi = cell(w, "vajra", "wall_ratio_min"), cell(w, "vajra", "wall_ratio_max")
        add(name, goal_text, pct(r), lambda v: v <= limit, "%", None if lo is None else (pct(lo), pct(hi)))
    wall("exec storm: wall overhead", "≤ 3 %", "exec", 3.0)
    add("exec storm: sensor CPU per event", "≤ 10 µs", cell("exec", "vajra", "sensor_cpu_us_per_event"),
        lambda v: v <= 10.0, "µs")
    add("exec storm: delivery", "100 %", cell("exec", "vajra", "workload_delivery_pct"), lambda v: v >= 100.0, "%")
    wall("file storm, unwatched: wall overhead", "≤ 2 %", "file-unwatched", 2.0)
    wall("file storm, watched: wall overhead", "≤ 10 %", "file-watched", 10.0)
    wall("network storm: wall overhead", "≤ 5 %", "net", 5.0)
    best = max((r["best_events_per_s"] for r in ramps), default=None) if ramps else None
    add("sustained rate with zero loss", "≥ 50,000 events/s", best, lambda v: v >= 50000, "events/s")
    add("latency p99, exec storm", "≤ 20 ms", cell("exec", "vajra", "latency_p99_ms"), lambda v: v <= 20.0, "ms")
    p99 = {w: summary[w]["vajra"]["latency_p99_ms"] for w in summary
           if summary[w].get("vajra", {}).get("latency_p99_ms") is not None}
    if p99:
        worst = max(p99, key=p99.get)
        add(f"latency p99, worst workload ({worst})", "≤ 20 ms", p99[worst], lambda v: v <= 20.0, "ms")
    add("vajrad peak RSS (VmHWM)", "≤ 100 MB", rss_mb, lambda v: v <= 100.0, "MiB")
    return checks


# ---- report --------------------------------------------------------------------------------------

def write_markdown(path, res):
    s, info, wl = res["summary"], res["machine"], res["workload_sizes"]
    L = []
    L.append(f"# Vajra benchmark results — {res['date']}")
    L.append("")
    L.append(f"Machine: {info['cpus']} vCPU {info['cpu_model']}, {info['mem_gib']} GiB, {info['os']}, Linux "
             f"{info['kernel']} ({info['virtualization']}); commit {info['git']}. {res['rounds']} rounds, conditions "
             f"interleaved (order rotated each round); medians of per-round ratios against no sensor. "
             f"Vajra families loaded: {', '.join(res['vajra_families']) or 'unknown'}.")
    if (res.get("build") or {}).get("source_newer_than_binary"):
        res.setdefault("warnings", []).append("the last commit is newer than the vajrad measured "
                                              f"(built {res['build']['built']})")
    if res.get("warnings"):
        L.append("")
        for w in res["warnings"]:
            L.append(f"> ⚠ {w}")
    L.append("")
    L.append("## Overhead")
    L.append("")
    L.append("| workload | ops | bare wall | Vajra wall | auditd wall | Vajra machine CPU | auditd machine CPU |"
             " Vajra CPU/event | auditd CPU/event | Vajra delivered / generated | auditd logged / expected |"
             " Vajra latency p50 / p99 |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, row in s.items():
        v, a = row.get("vajra", {}), row.get("auditd", {})
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
        L.append(f"| {w} | {row['ops']:,} | {fmt(row['none_wall_s'], '{:.2f} s')} | {ov(v)} | {ov(a)} | {cr(v)} | "
                 f"{cr(a)} | {ue(v)} | {ue(a)} | {vd} | {ad} | {lat} |")
    L.append("")
    L.append("Wall: median overhead against no sensor (min…max over rounds). Machine CPU: busy time of the whole "
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
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | goal | measured | |")
    L.append("|---|---|---:|---|")
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
        L.append(f"| {c['target']} | {c['goal']} | {val} | {mark} |")
    process_kinds = {"EXEC", "EXEC_FAILED", "FORK", "EXIT"}
    bare = [w for w, row in s.items() if w not in ("exec", "mixed") and row.get("vajra")
            and set(row["vajra"].get("kinds_delivered", [])) <= process_kinds]
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
            L.append("| target ops/s | achieved ops/s | events/s | lost | backlog after step | vajrad CPU | machine busy | p50 / p99 latency |")
            L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for st in r["steps"]:
                lm = st.get("latency_ms") or {}
                L.append(f"| {st['target_ops_per_s']:,} | {st['achieved_ops_per_s']:,.0f} | {st['events_per_s']:,.0f} | "
                         f"{st['lost']} | {st['drain_s']:.2f} s | {st['sensor_cpu_util'] * 100:.0f} % of a core | "
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
            L.append("Latency at 200 exec/s against the ring buffer size (the kernel wakes vajrad when 1/8 of "
                     "the ring is pending; otherwise vajrad's poll period (kPollMs in daemon/pipeline.cpp) collects the records):")
            L.append("")
            L.append("| buffers.ring_buffer_bytes | p50 | p99 | lost |")
            L.append("|---:|---:|---:|---:|")
            for x in prof["latency_vs_ring"]:
                lm = x.get("latency_ms") or {}
                L.append(f"| {x['ring_buffer_bytes']:,} | {fmt(lm.get('p50'), '{:.1f} ms')} | "
                         f"{fmt(lm.get('p99'), '{:.1f} ms')} | {x['lost']} |")
    L.append("")
    L.append("Sizes: " + ", ".join(f"{k} {v:,}" for k, v in wl.items()) + f"; mixed runs all of them at once "
             f"at {res['mixed_fraction']:g}× these sizes. Raw data: results.json. Plot: overhead.png.")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return "\n".join(L)


def plot(path, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = res["summary"]
    names = list(s.keys())
    conds = [("vajra", "Vajra", "#1f77b4"), ("auditd", "auditd", "#d62728")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    width = 0.38
    x = list(range(len(names)))

    def bars(ax, key, transform, title, ylabel, target=None, log=False):
        for i, (c, label, color) in enumerate(conds):
            vals = [transform(s[w].get(c, {}).get(key)) for w in names]
            pos = [xi + (i - 0.5) * width for xi in x]
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
             f"{res['rounds']} rounds; Vajra families loaded: {', '.join(res.get('vajra_families', []))}. "
             f"Reproduce with `sudo bench/run.sh`; method and how to read it in "
             f"[docs/benchmarks.md](docs/benchmarks.md); everything else (throughput ramp, callgrind, "
             f"profiles, warnings) in [{rel}/results.md]({rel}/results.md).\n\n"
             f"{table('Overhead')}\n\n{table('Targets')}\n\n![overhead]({rel}/overhead.png)\n<!-- bench:end -->")
    if "<!-- bench:begin" in text:
        text = re.sub(r"<!-- bench:begin.*?<!-- bench:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + block + "\n"
    with open(readme, "w") as f:
        f.write(text)


# ---- main --------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--conditions", default="none,vajra,auditd")
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
    p.add_argument("--no-ramp", action="store_true")
    p.add_argument("--ramp-ops", default="exec,thread", help="generators for the throughput ramp")
    p.add_argument("--ramp-seconds", type=float, default=4)
    p.add_argument("--ramp-workers", type=int, default=2)
    p.add_argument("--ramp-max-lag", type=float, default=1.0, help="seconds of backlog after a step that mean vajrad fell behind")
    p.add_argument("--no-callgrind", action="store_true")
    p.add_argument("--callgrind-exec-n", type=int, default=1000)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--latency-rings", default="524288,8388608")
    p.add_argument("--update-readme", action="store_true", help="rewrite the benchmark section of README.md")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, small sizes, short ramp")
    p.add_argument("--report-only", metavar="RESULTS_JSON",
                   help="measure nothing: rewrite results.md and overhead.png (and with --update-readme the "
                        "README section) from an earlier results.json")
    args = p.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            res = json.load(f)
        for row in res.get("summary", {}).values():
            for c in ("vajra", "auditd"):
                if c in row and (row[c].get("events_delivered") or 0) < MIN_EVENTS:
                    row[c]["sensor_cpu_us_per_event"] = row[c]["sensor_cpu_us_per_event_pooled"] = None
        out = args.out or os.path.dirname(os.path.abspath(args.report_only))
        md = write_markdown(os.path.join(out, "results.md"), res)
        plot(os.path.join(out, "overhead.png"), res)
        if args.update_readme:
            update_readme(res, out, md)
        print(md)
        return
    if args.quick:
        args.rounds, args.scale, args.ramp_seconds = 1, 0.1, 2
    if args.out is None:
        args.out = "/tmp/vbench-quick-results" if args.quick else os.path.join(ROOT, "bench", "results")
    args.workloads = args.workloads.split(",")
    args.conditions = args.conditions.split(",")
    args.latency_rings = [int(x) for x in args.latency_rings.split(",") if x]
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

    machine = Machine(args)
    machine.wait_clean("start")
    audit_baseline()
    dns = Dnsmasq(work, args.dns_address, args.dns_port)
    dns.start()
    machine.known_pids = [dns.proc.pid]
    workloads = Workloads(args, work)
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(), "machine": machine_info(),
           "rounds": args.rounds, "workload_sizes": workloads.n, "mixed_fraction": args.mixed_fraction,
           "targets_goal": TARGETS, "argv": sys.argv[1:], "build": build_info(args)}
    try:
        samples, teardowns, vstatus = run_rounds(args, machine, work, workloads)
        res["samples"], res["teardowns"] = samples, teardowns
        res["vajra_status_at_start"] = vstatus
        probes = (vstatus or {}).get("probes", [])
        res["vajra_families"] = sorted({pr.get("family", "?") for pr in probes if pr.get("state") == "PROBE_STATE_LOADED"})
        res["vajra_probes"] = [f"{pr.get('family')}/{pr.get('name')}: {pr.get('state', '').replace('PROBE_STATE_', '')}"
                               for pr in probes]
        summary, rss_mb = summarize(samples, workloads, teardowns)
        res["summary"], res["rss_mb"] = summary, rss_mb
        ramps = []
        if not args.no_ramp:
            rates = {"exec": [250, 500, 1000, 1500, 2000, 3000, 4000, 6000],
                     "fork": [2000, 5000, 10000, 20000, 30000, 40000, 60000],
                     "thread": [5000, 10000, 20000, 30000, 40000, 60000, 80000, 120000]}
            for op in args.ramp_ops:
                log(f"throughput ramp: {op}")
                ramps.append(ramp(args, machine, work, op, rates.get(op, rates["exec"])))
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
    finally:
        dns.stop()
        audit_baseline()
        shutil.rmtree(f"{work}/audit", ignore_errors=True)
    res["warnings"] = machine.warnings
    res["duration_s"] = time.monotonic() - started
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    md = write_markdown(os.path.join(args.out, "results.md"), res)
    plot(os.path.join(args.out, "overhead.png"), res)
    if args.update_readme:
        update_readme(res, args.out, md)
    log(f"done in {res['duration_s'] / 60:.1f} min: {args.out}/results.md")
    print(md)


if __name__ == "__main__":
    main()
