"""The osquery side of the Vajra condition: vajra.ext holding the event tables, launched and served by
the fake osquery core of the bridge's tests (tests/bridge/fake_osquery.py, written from osquery's
extension protocol), exactly as osqueryd launches it. The harness reads the bridge's own counters from
its `vajra_status` table, as an osquery user would."""

import logging
import os
import sys
import time

from thrift.Thrift import TException

from .common import ROOT, log
from .procfs import CpuMeter, proc_status_kb

# Counters of vajra_status that the harness reports as deltas over a measurement window.
FAMILIES = ("process", "file", "socket", "dns")
COUNTERS = ("events_received", "lost_subscriber", "lost_kernel_ring", "lost_pipeline", "loss_events") + tuple(
    f"{f}_{c}" for f in FAMILIES for c in ("evicted_max_rows", "rows_built", "unreadable"))


def _import_fake_core(build):
    gen = os.path.join(build, "tests", "bridge", "gen-py")
    if not os.path.isdir(os.path.join(gen, "vajra_osquery")):
        raise RuntimeError(f"{gen} missing: build the vajra_bridge_pygen target (bench/run.sh does), or pass --no-bridge")
    for path in (gen, os.path.join(ROOT, "tests", "bridge")):
        if path not in sys.path:
            sys.path.insert(0, path)
    import fake_osquery
    return fake_osquery


# The fake core's pings and shutdown reach for an extension that may have just exited; thrift logs each
# refused connection, which is expected here and not news.
logging.getLogger("thrift").setLevel(logging.CRITICAL)


class Bridge:
    """vajra.ext under a fake osquery core, subscribed to one vajrad."""

    def __init__(self, build, work, tag, config):
        self.fake = _import_fake_core(build)
        self.ext = os.path.join(build, "bridge", "vajra.ext")
        self.manager = f"{work}/{tag}-osquery.em"
        self.state_dir = f"{work}/{tag}-bridge-state"
        self.log_path = f"{work}/{tag}-bridge.log"
        self.config = config
        self.core = self.launcher = None

    def start(self, timeout=30):
        self.core = self.fake.FakeOsquery(self.manager, interval=3, log=lambda *a: None).start()
        self.launcher = self.fake.Launcher(self.ext, self.manager, ["--config", self.config, "--state-dir", self.state_dir],
                                           self.log_path, interval=3).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self._status_or_none()
            if st and st.get("daemon_state") == "connected" and st.get("restored") == "1":
                return
            time.sleep(0.2)
        raise RuntimeError(f"vajra.ext did not register and connect to vajrad, see {self.log_path}")

    def pid(self):
        return self.launcher.pid()

    def _status_or_none(self):
        if self.core.owner_of("vajra_status") is None:
            return None
        try:
            rows = self.core.generate("vajra_status")
        except (self.fake.ExtensionError, OSError, TException):  # not serving yet, or relaunching
            return None
        return rows[0] if rows else None

    def status(self):
        st = self._status_or_none()
        if st is None:
            raise RuntimeError(f"vajra.ext does not answer vajra_status, see {self.log_path}")
        return st

    @staticmethod
    def counters(st):
        return {k: int(st[k]) for k in COUNTERS if st.get(k) not in (None, "")}

    def drain(self, timeout):
        """Waits until the bridge holds everything vajrad had published when the drain began (its cursor
        reaches that seq; a lost event moves the cursor too, as a Loss). Returns the status then, and
        how long the bridge took to catch up."""
        t0 = time.monotonic()
        st = self.status()
        target = int(st.get("daemon_next_seq") or 1) - 1
        while int(st.get("cursor_seq") or 0) < target and time.monotonic() - t0 < timeout:
            time.sleep(0.05)
            st = self.status()
        if int(st.get("cursor_seq") or 0) < target:
            log(f"WARNING vajra.ext still behind after {timeout:.0f} s (cursor {st.get('cursor_seq')}, vajrad {target})")
        return st, time.monotonic() - t0

    def query(self, since_s):
        """What osquery's scheduled queries read after a window: every event table's rows from `since_s`
        on (`time >= since_s`), which the bridge builds from the events it holds on first read. Only
        `seq` is asked for: the build is the bridge's cost whatever the columns, while a reply of every
        column would measure this Python core's Thrift decoding. Returns the rows per table and the
        bridge's CPU for the queries."""
        st = self.status()
        meter = CpuMeter([self.pid()])
        cpu0 = meter.snapshot()
        rows = {}
        for family in FAMILIES:
            table = st.get(f"{family}_table")
            if table:
                rows[family] = len(self.core.generate(table, [("time", ">=", int(since_s))], ["seq"]))
        return {"rows": rows, "cpu_ms": CpuMeter.delta_us(cpu0, meter.snapshot())["us"] / 1e3}

    def stop(self):
        out = {}
        if self.launcher:
            out["bridge_vm_hwm_kb"] = proc_status_kb(self.launcher.pid(), "VmHWM")
            self.launcher.stop()
        if self.core:
            self.core.stop()
        return out
