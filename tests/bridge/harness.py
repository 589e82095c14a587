"""What the bridge's integration tests stand on: a private directory tree laid out like a host
(osquery's root-only socket directory, vajrad's socket directory, the bridge's state directory),
a real vajrad on a private socket, vajra.ext launched by the fake osquery core, and real processes
whose kernel events the tests look for.

A test that cannot run here (not root, no BTF, no bpf()) exits 77, which ctest reports as skipped;
with CI=true it fails instead.
"""
import ctypes
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.environ["VAJRA_PY_GEN"])

from fake_osquery import FakeOsquery, Launcher  # noqa: E402

# python3-thrift logs every refused connection; waiting for a socket to appear is expected here.
logging.getLogger("thrift").setLevel(logging.CRITICAL)

VAJRA_EXT = os.environ["VAJRA_EXT"]
VAJRAD = os.environ["VAJRAD"]
VAJRACTL = os.environ["VAJRACTL"]
TEST_HELPER = os.environ["VAJRA_TEST_HELPER"]

WAIT = 60  # seconds; only ever a bound on waiting, never a performance expectation
NOBODY = 65534
SKIP = 77


def kernel_unavailable_reason():
    if os.geteuid() != 0:
        return "not running as root (vajrad loads BPF programs; vajra.ext is launched as root like osqueryd does)"
    if not os.access("/sys/kernel/btf/vmlinux", os.R_OK):
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    libc = ctypes.CDLL(None, use_errno=True)
    # bpf(BPF_MAP_CREATE) of a one-entry array: the cheapest proof that BPF is allowed.
    attr = (ctypes.c_uint32 * 16)(2, 4, 4, 1)
    fd = libc.syscall(321, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return "bpf(BPF_MAP_CREATE) failed: %s" % os.strerror(ctypes.get_errno())
    os.close(fd)
    if not os.path.exists("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=False)
    try:
        import pwd
        pwd.getpwnam("nobody")
    except KeyError:
        return "no user 'nobody' to drop to"
    return ""


def main():
    """Runs the named scenario classes of the calling module (unittest's argv)."""
    reason = kernel_unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            print("FAIL: bridge integration test cannot run and CI=true forbids skipping: " + reason)
            sys.exit(1)
        print("SKIP: bridge integration test cannot run here: " + reason)
        sys.exit(SKIP)
    unittest.main(module="__main__", verbosity=2)


def wait_for(what, predicate, timeout=WAIT, interval=0.2):
    """Polls until predicate() returns something truthy; fails the test naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # a daemon or extension that is still starting
            last_error = e
        time.sleep(interval)
    raise AssertionError("timed out after %d s waiting for %s (last error: %r)" % (timeout, what, last_error))


class World:
    """A host in a temporary directory: vajrad, osquery's socket directory, the bridge's state."""

    # The replay buffer is large so that "within the replay buffer" holds even while other work on
    # the machine makes thousands of events a second (ReplayGap makes it small on purpose), and the
    # subscriber queue larger still, since vajrad queues a whole replay at once.
    def __init__(self, bridge_user="nobody", table_names="auto", replay_events=65536, interval=1):
        self.root = tempfile.mkdtemp(prefix="vajra-bridge-test-")
        os.chmod(self.root, 0o755)  # the bridge user must reach the daemon socket and its state dir
        self.osquery_dir = os.path.join(self.root, "osquery")
        os.mkdir(self.osquery_dir, 0o700)  # like /var/osquery: root only
        self.manager_socket = os.path.join(self.osquery_dir, "osquery.em")
        self.daemon_dir = os.path.join(self.root, "run")
        os.mkdir(self.daemon_dir, 0o755)
        self.daemon_socket = os.path.join(self.daemon_dir, "vajra.sock")
        self.state_dir = os.path.join(self.root, "state", "bridge")
        self.config_path = os.path.join(self.root, "vajra.yaml")
        self.watched_dir = os.path.join(self.root, "watched")  # the file watch list's one category
        os.mkdir(self.watched_dir, 0o755)
        self.interval = interval
        self.daemon = None
        self.core = None
        self.launcher = None
        self.logs = []
        self.write_config(bridge_user, table_names, replay_events)

    def write_config(self, bridge_user, table_names, replay_events):
        # The documented set-up: the socket's group is the bridge user's group, and the bridge
        # user's uid is on the peer-credential allow-list.
        with open(self.config_path, "w") as f:
            f.write("""socket:
  path: %s
  mode: "0660"
  group: nogroup
  allow_uids: [0, %d]
buffers:
  replay_events: %d
  subscriber_queue: 131072
files:
  categories:
    bridge_test:
      include: ["%s/**"]
      hashes: [sha256]
bridge:
  user: "%s"
  table_names: %s
  retention_seconds: 3600
  max_rows: 100000
log:
  level: info
""" % (self.daemon_socket, NOBODY, replay_events, self.watched_dir, bridge_user, table_names))

    # ------------------------------------------------------------------------------------------
    # vajrad

    def start_daemon(self):
        log = open(os.path.join(self.root, "vajrad.log"), "ab")
        self.daemon = subprocess.Popen([VAJRAD, "--config", self.config_path], stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        log.close()
        wait_for("vajrad to answer Status on " + self.daemon_socket, self.daemon_status)
        return self.daemon

    def daemon_status(self):
        if self.daemon is not None and self.daemon.poll() is not None:
            raise AssertionError("vajrad exited with %s:\n%s" % (self.daemon.returncode, self.read("vajrad.log")))
        result = subprocess.run([VAJRACTL, "--socket", self.daemon_socket, "status", "-o", "json"],
                                capture_output=True, text=True)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def kill_daemon(self):
        self.daemon.kill()
        self.daemon.wait()

    # ------------------------------------------------------------------------------------------
    # osquery and the bridge

    def start_core(self, **kwargs):
        self.core = FakeOsquery(self.manager_socket, interval=self.interval, **kwargs).start()
        return self.core

    def launch_bridge(self, relaunch=True, extra_args=()):
        args = ["--config", self.config_path, "--state-dir", self.state_dir] + list(extra_args)
        self.launcher = Launcher(VAJRA_EXT, self.manager_socket, args, os.path.join(self.root, "vajra.ext.log"),
                                 interval=self.interval, relaunch=relaunch).start()
        return self.launcher

    def wait_registered(self, table, exclude_pid=None):
        """The extension that owns `table`, once it is registered and serving; returns its uuid."""
        def registered():
            uuid_ = self.core.owner_of(table)
            if uuid_ is None:
                return None
            self.core.columns(table)  # its socket answers
            return uuid_
        return wait_for("vajra.ext to register " + table, registered)

    def bridge_log(self):
        return self.launcher.log() if self.launcher else ""

    def read(self, name):
        try:
            with open(os.path.join(self.root, name), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self):
        if self.launcher:
            self.launcher.stop()
        if self.core:
            self.core.stop()
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if os.environ.get("VAJRA_TEST_KEEP"):
            print("kept " + self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def diagnostics(self):
        return "--- vajra.ext log ---\n%s\n--- vajrad log (tail) ---\n%s" % (
            self.bridge_log()[-20000:], self.read("vajrad.log")[-8000:])


def new_marker():
    return "vajra-mark-" + uuid.uuid4().hex[:12]


def trigger(marker):
    """Runs the test helper with `marker` in its argv: one fork, one exec, one exit in the kernel."""
    subprocess.run([TEST_HELPER, "exit", "0", marker], check=True)


def rows_with(rows, marker, event="exec"):
    return [row for row in rows if marker in row.get("cmdline", "") and row.get("event") == event]


class BridgeTest(unittest.TestCase):
    """Base for scenarios: a World torn down after each test, its logs printed when it fails."""

    world_options = {}

    def setUp(self):
        self.world = World(**self.world_options)
        self.addCleanup(self._teardown)

    def _teardown(self):
        # unittest records a failure in its result as it happens; subtests are recorded by subTest.
        result = getattr(getattr(self, "_outcome", None), "result", None)
        problems = (result.failures + result.errors) if result is not None else []
        failed = any(test is self or getattr(test, "test_case", None) is self for test, _ in problems)
        if failed:
            print(self.world.diagnostics())
        self.world.close()

    def start_all(self, core_kwargs=None):
        self.world.start_daemon()
        self.world.start_core(**(core_kwargs or {}))
        self.world.launch_bridge()
        return self.world.wait_registered(self.table)

    table = "bpf_process_events"

    def generate(self, table=None, constraints=(), cols_used=None, old_shape=False):
        return self.world.core.generate(table or self.table, constraints, cols_used, old_shape)

    def status(self):
        rows = self.world.core.generate("vajra_status")
        self.assertEqual(len(rows), 1)
        return rows[0]

    def wait_rows(self, marker, event="exec", table=None):
        """Rows of `event` whose cmdline holds marker, once the bridge has them."""
        return wait_for("a %s row for %s in %s" % (event, marker, table or self.table),
                        lambda: rows_with(self.generate(table), marker, event))
