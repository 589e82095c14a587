"""The conditions a workload runs under: no sensor, probes only (vajrad's probes and kernel filters
with a reader that drops every record), Vajra (vajrad with its generated config, a vbench-consumer
reading the stream and the osquery bridge holding the tables) and auditd (osquery's rules), each with
setup, the start and drain of a measurement window, and a full teardown; and the audit baseline
between conditions."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

from .bridge import Bridge
from .common import ROOT, log, run
from .procfs import find_pids_by_comm, proc_runtime_ns, proc_status_kb

# Audit rules as osquery's audit-based tables install them for the same events: process_events
# (execve, execveat), socket_events (connect, bind, accept, accept4) and a watch (file events).
AUDIT_KEYS = ("vbench_exec", "vbench_net", "vbench_file")


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


class ProbesOnly:
    """vajrad's probes, attached with the Vajra condition's config (the same families and kernel
    filters), under vbench-record --discard: it drains the rings every 10 ms and drops every record.
    What a workload pays here is what attaching these probes costs, plus the least a reader can add:
    the floor under any user space built on them."""
    name = "probes"
    label = "probes only"

    def __init__(self, args, work):
        self.args, self.work = args, work
        self.config = f"{work}/probes.yaml"
        self.proc = None

    def setup(self):
        generate_vajra_config(self.config, f"{self.work}/probes.sock", self.args.vajra_set, False,
                              self.args.config_template, self.args.bin("vajrad"), f"{self.work}/watched")
        self.proc = subprocess.Popen([self.args.bin("vbench-record"), "--discard", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=open(f"{self.work}/probes.log", "a"), text=True)
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"vbench-record --discard did not attach the probes, see {self.work}/probes.log")

    def sensor_pids(self):
        return [self.proc.pid]

    def before(self):
        pass

    def drain(self, workload):
        return {}

    def teardown(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        lines = out.strip().splitlines()
        read = json.loads(lines[-1]) if lines else {}
        return {"exit_code": self.proc.returncode, "records": read.get("records"),
                "kernel_drops": read.get("kernel_drops")}


class Vajra:
    name = "vajra"
    label = "Vajra"

    def __init__(self, args, work, threads=False, tag="vajra"):
        self.args, self.work, self.threads, self.tag = args, work, threads, tag
        self.socket = f"{work}/{tag}.sock"
        self.config = f"{work}/{tag}.yaml"
        self.proc = self.consumer = self.bridge = None
        self.status = None
        self.env = None  # environment for vajrad (None: the harness's)

    # The documented unprivileged bridge: it drops to nobody once registered, so vajrad's socket lets
    # nobody's group and uid in.
    BRIDGE_SETTINGS = ["socket.group=nogroup", "socket.mode='0660'", "socket.allow_uids=[0, 65534]", "bridge.user=nobody"]

    def setup(self):
        settings = (self.BRIDGE_SETTINGS if self.args.bridge else []) + self.args.vajra_set
        generate_vajra_config(self.config, self.socket, settings, self.threads,
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
        if self.args.bridge:
            self.bridge = Bridge(self.args.build, self.work, self.tag, self.config)
            try:
                self.bridge.start()
            except Exception:
                self.teardown()  # vajrad and the consumer are up: leave nothing running
                raise
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

    def bridge_pids(self):
        return [self.bridge.pid()] if self.bridge else []

    def before(self):
        if self.bridge:
            self.bridge_start = Bridge.counters(self.bridge.status())
            self.window_start_s = time.time()
        self.ask("begin")

    def drain(self, workload):
        drained = self.ask(f"end {self.args.drain_timeout}")
        if self.bridge:
            st, lag = self.bridge.drain(self.args.drain_timeout)
            # osquery's scheduled queries read what the bridge held of the window (after the workload,
            # so in the bridge's CPU but not in the workload's wall time).
            query = self.bridge.query(self.window_start_s - 1)
            end = Bridge.counters(self.bridge.status())
            drained["bridge"] = {"delta": {k: end[k] - self.bridge_start.get(k, 0) for k in end},
                                 "catch_up_s": lag, "query": query,
                                 "rows": {f: int(st.get(f"{f}_rows") or 0) for f in ("process", "file", "socket", "dns")}}
        return drained

    def teardown(self):
        out = {"vm_hwm_kb": proc_status_kb(self.proc.pid, "VmHWM"), "vm_rss_kb": proc_status_kb(self.proc.pid, "VmRSS")}
        if self.bridge:
            out.update(self.bridge.stop())
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
