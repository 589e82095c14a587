"""The workloads of bench/load (vbench-load) with their sizes and the audit records each must cause,
and the local DNS server (dnsmasq) the dns and mixed workloads query."""

import json
import os
import resource
import socket
import subprocess
import time

from .common import run


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
