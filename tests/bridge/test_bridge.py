#!/usr/bin/python3
"""vajra.ext driven by a fake osquery core, against a real vajrad and real kernel events.

Run one scenario: test_bridge.py Registration (ctest runs each class as its own test).
"""
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import harness
from harness import BridgeTest, NOBODY, new_marker, rows_with, trigger, wait_for
from fake_osquery import LINUX_CORE_TABLES, OSQUERY_5_23_BPF_TABLES, ExtensionError, FakeOsquery, ScheduledQuery

# osquery's own bpf_process_events columns: a user's queries against it must keep working.
OSQUERY_BPF_COLUMNS = ["tid", "pid", "parent", "uid", "gid", "cid", "exit_code", "probe_error", "syscall", "path",
                       "cwd", "cmdline", "duration", "json_cmdline", "ntime", "time", "eid"]
BIGINT_COLUMNS = ["tid", "pid", "parent", "uid", "gid", "euid", "egid", "auid", "cid", "duration", "time", "seq",
                  "ktime", "time_ns", "uptime", "ns_pid", "session_id", "start_time_ns", "child_pid", "child_tid",
                  "pid_ns", "mnt_ns", "net_ns", "user_ns", "uts_ns", "ipc_ns", "cgroup_ns", "inode", "cmdline_size"]


def recipe_window():
    """The constraint of docs/osquery.md's scheduled query: WHERE time > strftime('%s','now') - 600."""
    return [("time", ">", int(time.time()) - 600)]


def column_routes(routes):
    return {row["name"]: row for row in routes if row.get("id") == "column"}


def run_marked(marker):
    """Runs the helper with `marker` in argv and returns its pid."""
    process = subprocess.Popen([harness.TEST_HELPER, "exit", "0", marker])
    process.wait()
    return process.pid


def count_exec_rows(rows, markers):
    return {marker: len(rows_with(rows, marker)) for marker in markers}


def read_cursor(path):
    with open(path) as f:
        instance, seq = f.read().split()
    return instance, int(seq)


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


class Registration(BridgeTest):
    def test_registration_columns_and_launch(self):
        uuid = self.start_all()
        core = self.world.core
        tables = core.registered_tables()
        self.assertEqual(set(tables), {"bpf_process_events", "bpf_socket_events", "bpf_dns_events",
                                       "bpf_file_events", "vajra_status"})
        self.assertEqual(core.extensions()[uuid].name, "vajra")

        # `columns` repeats exactly what was registered, for every table.
        for name, routes in tables.items():
            self.assertEqual(core.columns(name), routes, name)

        columns = column_routes(tables["bpf_process_events"])
        for name in OSQUERY_BPF_COLUMNS:
            self.assertIn(name, columns)
        for name in BIGINT_COLUMNS:
            self.assertEqual(columns[name]["type"], "BIGINT", name)
        self.assertEqual(columns["time"]["op"], "20")  # HIDDEN | ADDITIONAL, like core's event tables
        self.assertEqual(columns["seq"]["op"], "4")  # ADDITIONAL: its constraints reach generate
        self.assertEqual(columns["json_cmdline"]["op"], "16")
        self.assertEqual(columns["eid"]["op"], "16")
        # No attributes row: not EVENT_BASED, so osquery diffs scheduled results (exactly-once recipe).
        self.assertFalse([row for row in tables["bpf_process_events"] if row.get("id") == "attributes"])

        # Its socket is <manager>.<uuid>, root's and 0600.
        info = os.stat(core.extension_socket(uuid))
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
        self.assertEqual(info.st_uid, 0)

        # Started exactly as osqueryd starts extensions.
        pid = self.world.launcher.pid()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        self.assertEqual([a.decode() for a in argv[:7]],
                         [harness.VAJRA_EXT, "--socket", self.world.manager_socket, "--timeout", "3", "--interval", "1"])
        with open("/proc/%d/environ" % pid, "rb") as f:
            self.assertIn(("OSQUERY_EXTENSION=%d" % os.getpid()).encode(), f.read().split(b"\0"))


    def test_shutdown_is_answered_and_the_bridge_exits(self):
        self.start_all()
        launcher = self.world.launcher
        launcher.relaunch = False
        self.world.core.stop()  # calls shutdown() on the extension and waits for its reply
        wait_for("vajra.ext to exit after shutdown()", lambda: launcher.exits)
        self.assertEqual(launcher.exits[0][1], 0)
        self.assertIn("osquery asked: shutting down", launcher.log())

    def test_no_manager_socket_within_the_timeout_is_an_error(self):
        launcher = self.world.launch_bridge(relaunch=False)
        wait_for("vajra.ext to give up waiting for the manager socket", lambda: launcher.exits)
        self.assertEqual(launcher.exits[0][1], 1)
        self.assertIn("no connection within 3 s", launcher.log())

    def test_a_bad_config_names_file_and_key(self):
        with open(self.world.config_path) as f:
            text = f.read()
        with open(self.world.config_path, "w") as f:
            f.write(text.replace("table_names:", "table_name:"))
        result = subprocess.run([harness.VAJRA_EXT, "--socket", self.world.manager_socket, "--config",
                                 self.world.config_path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 2)
        self.assertIn(self.world.config_path, result.stderr)
        self.assertIn("table_name", result.stderr)


class Generate(BridgeTest):
    def test_rows_of_real_processes(self):
        self.start_all()
        marker = new_marker()
        before = int(time.time())
        pid = run_marked(marker)
        after = int(time.time())
        exec_row = self.wait_rows(marker)
        self.assertEqual(len(exec_row), 1)
        row = exec_row[0]
        helper = os.path.realpath(harness.TEST_HELPER)
        self.assertEqual(row["pid"], str(pid))
        self.assertEqual(row["parent"], str(os.getpid()))
        self.assertEqual(row["path"], helper)
        self.assertEqual(row["syscall"], "exec")
        self.assertEqual(row["exit_code"], "0")
        self.assertEqual(row["cmdline"], "%s exit 0 %s" % (harness.TEST_HELPER, marker))
        self.assertEqual(json.loads(row["json_cmdline"]), [harness.TEST_HELPER, "exit", "0", marker])
        self.assertEqual(row["uid"], "0")
        self.assertTrue(before <= int(row["time"]) <= after + 1, row["time"])
        self.assertEqual(int(row["time"]), int(row["time_ns"]) // 10**9)
        self.assertEqual(row["daemon_instance"], self.world.daemon_status()["daemon_instance"])
        if row["hash_status"] == "ok":
            with open(helper, "rb") as f:
                self.assertEqual(row["sha256"], hashlib.sha256(f.read()).hexdigest())
        ancestry = json.loads(row["ancestry"])
        self.assertEqual(ancestry[0]["pid"], os.getpid())

        exits = wait_for("the exit row of %d" % pid,
                         lambda: [r for r in self.generate() if r["event"] == "exit" and r["pid"] == str(pid)])
        self.assertEqual(len(exits), 1)
        self.assertEqual(exits[0]["exit_code"], "0")
        self.assertEqual(exits[0]["signal"], "0")
        forks = [r for r in self.generate() if r["event"] == "fork" and r.get("child_pid") == str(pid)]
        self.assertEqual(len(forks), 1)
        self.assertEqual(forks[0]["pid"], str(os.getpid()))

    def test_socket_rows_of_a_real_tcp_connection(self):
        self.start_all()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        local_port = client.getsockname()[1]
        server_side, _ = listener.accept()
        client.sendall(b"x" * 100)
        self.assertEqual(len(server_side.recv(100, socket.MSG_WAITALL)), 100)
        client.close()
        server_side.close()

        def connect_rows():
            return [r for r in self.generate("bpf_socket_events")
                    if r["pid"] == str(os.getpid()) and r["action"] == "connect" and r.get("remote_port") == str(port)]
        rows = wait_for("the connect row to port %d" % port, connect_rows)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["status"], "succeeded")
        self.assertEqual(row["success"], "1")
        self.assertEqual(row["family"], str(socket.AF_INET))
        self.assertEqual(row["type"], str(socket.SOCK_STREAM))
        self.assertEqual(row["protocol"], "6")
        self.assertEqual(row["remote_address"], "127.0.0.1")
        self.assertEqual(row["local_address"], "127.0.0.1")
        self.assertEqual(row["local_port"], str(local_port))
        self.assertEqual(row["path"], os.path.realpath("/proc/self/exe"))
        closes = wait_for("the client's close row", lambda: [
            r for r in self.generate("bpf_socket_events")
            if r["pid"] == str(os.getpid()) and r["action"] == "close" and r.get("local_port") == str(local_port)])
        self.assertEqual(closes[0]["bytes_sent"], "100")

    def test_file_rows_of_a_real_change(self):
        self.start_all()
        path = os.path.join(self.world.watched_dir, "bridge-%s.conf" % new_marker())
        with open(path, "w") as f:
            f.write("setting = 1\n")
        os.chmod(path, 0o600)
        content_sha256 = hashlib.sha256(b"setting = 1\n").hexdigest()

        def rows(action):
            return [r for r in self.generate("bpf_file_events")
                    if r["target_path"] == path and r["action"] == action and r["pid"] == str(os.getpid())]
        modify = wait_for("the modify row of " + path, lambda: rows("modify"))
        self.assertEqual(len(modify), 1)
        row = modify[0]
        self.assertEqual(row["syscall"], "close")
        self.assertEqual(row["bytes_written"], "12")
        self.assertEqual(row["writes"], "1")
        self.assertEqual(row["categories"], "bridge_test")
        self.assertEqual(row["target_path_source"], "dentry")
        self.assertEqual(row["type"], "regular")
        self.assertEqual(row["inode"], str(os.stat(path).st_ino))
        self.assertEqual(row["target_sha256"], content_sha256)
        self.assertEqual(row["path"], os.path.realpath("/proc/self/exe"))
        chmod = wait_for("the chmod row of " + path, lambda: rows("chmod"))
        self.assertEqual(chmod[0]["requested_mode"], "0600")
        self.assertEqual(len(rows("create")), 1)

    def test_time_and_seq_constraints(self):
        self.start_all()
        markers = [new_marker() for _ in range(3)]
        for marker in markers:
            trigger(marker)
            time.sleep(1.1)  # spread the rows over several seconds; nothing below depends on speed
        for marker in markers:
            self.wait_rows(marker)
        full = self.generate()
        newest = max(int(r["seq"]) for r in full)
        instance = full[0]["daemon_instance"]
        t = int(rows_with(full, markers[1])[0]["time"])
        s = int(rows_with(full, markers[1])[0]["seq"])

        def seqs(rows):
            # Rows that arrived after the full scan are left out of the comparison.
            return sorted(int(r["seq"]) for r in rows if int(r["seq"]) <= newest and r["daemon_instance"] == instance)

        checks = {
            "=": lambda v, x: v == x, ">": lambda v, x: v > x, ">=": lambda v, x: v >= x,
            "<": lambda v, x: v < x, "<=": lambda v, x: v <= x,
        }
        for column, value in (("time", t), ("seq", s)):
            for op, holds in checks.items():
                for old_shape in (False, True):
                    with self.subTest(column=column, op=op, old_shape=old_shape):
                        got = seqs(self.generate(constraints=[(column, op, value)], old_shape=old_shape))
                        expected = seqs(r for r in full if holds(int(r[column]), value))
                        self.assertEqual(got, expected)
        # Two constraints on one column, and on both columns.
        got = seqs(self.generate(constraints=[("time", ">=", t), ("time", "<=", t), ("seq", ">", s)]))
        self.assertEqual(got, seqs(r for r in full if int(r["time"]) == t and int(r["seq"]) > s))

        # Pushed down: look-ups that need no scan examine (almost) nothing.
        def examined():
            return int(self.status()["process_rows_examined"])
        start = examined()
        self.assertEqual(self.generate(constraints=[("time", ">", int(time.time()) + 100000)]), [])
        self.assertEqual(examined() - start, 0)
        start = examined()
        self.assertEqual(len(self.generate(constraints=[("seq", "=", s)])), 1)
        self.assertEqual(examined() - start, 1)
        start = examined()
        recent = self.generate(constraints=[("time", ">=", t + 1)])
        scanned = examined() - start
        held = int(self.status()["process_rows"])
        self.assertLess(scanned, held)
        self.assertGreaterEqual(scanned, len(recent))

    def test_cols_used_and_status(self):
        self.start_all()
        marker = new_marker()
        trigger(marker)
        self.wait_rows(marker)
        rows = self.generate(cols_used=["pid", "cmdline", "event"])
        self.assertTrue(rows)
        for row in rows:
            self.assertLessEqual(set(row), {"pid", "cmdline", "event"})
        status = self.status()
        self.assertEqual(status["daemon_state"], "connected")
        self.assertEqual(status["restored"], "1")
        self.assertEqual(status["table_names"], "bpf")
        self.assertEqual(status["process_table"], "bpf_process_events")
        self.assertEqual(status["daemon_status_error"], "")
        self.assertEqual(status["daemon_instance"], self.world.daemon_status()["daemon_instance"])
        # The bridge asks vajrad to hold its batches for bridge.max_batch_delay_ms, 250 by default.
        filters = [s.get("filter", {}) for s in self.world.daemon_status().get("subscribers", [])]
        self.assertEqual([f.get("max_batch_delay_ms") for f in filters], [250])
        self.assertEqual(status["max_batch_delay_ms"], "250")
        self.assertGreater(int(status["process_rows"]), 0)
        self.assertGreater(int(status["daemon_probes_loaded"]), 0)
        self.assertEqual(status["duplicates_dropped"], "0")
        probes = json.loads(status["daemon_probes"])
        self.assertTrue(any(p["state"] == "loaded" for p in probes))


class Malformed(BridgeTest):
    def test_bad_requests_are_refused_and_the_bridge_lives_on(self):
        uuid = self.start_all()
        core = self.world.core
        pid = self.world.launcher.pid()
        cases = [
            ("config", self.table, {"action": "generate"}, "unknown registry 'config'"),
            ("table", "no_such_table", {"action": "generate"}, "unknown table 'no_such_table'"),
            ("table", self.table, {}, 'no "action"'),
            ("table", self.table, {"action": "frobnicate"}, "unknown action 'frobnicate'"),
            ("table", self.table, {"action": "insert", "json_value_array": "[]"}, "read-only"),
            ("table", self.table, {"action": "generate", "context": "{\"constraints\": ["}, "not JSON"),
            ("table", self.table, {"action": "generate", "context": "[1, 2]"}, "expected a JSON object"),
            ("table", self.table, {"action": "generate", "context": '{"constraints": [{"name": "time", "list": '
                                                                     '[{"op": "gt", "expr": "1"}]}]}'}, '"op"'),
            ("table", self.table, {"action": "generate", "context": '{"colsUsed": "pid"}'}, "colsUsed"),
        ]
        for registry, item, request, message in cases:
            with self.subTest(request=request):
                response = core.call_extension(uuid, registry, item, request)
                self.assertNotEqual(response.status.code, 0)
                self.assertIn(message, response.status.message)
                self.assertEqual(response.response, [])
        # Through the path osquery's SQL layer takes: the status surfaces as a query error.
        with self.assertRaises(ExtensionError) as raised:
            core.table_call(self.table, {"action": "generate", "context": "{"})
        self.assertIn("malformed context", str(raised.exception))
        # Still the same process, still alive and answering.
        self.assertEqual(self.world.launcher.pid(), pid)
        self.assertEqual(self.world.launcher.exits, [])
        self.assertTrue(core._alive(uuid))
        self.assertIsInstance(core.generate(self.table), list)


class Liveness(BridgeTest):
    def test_a_stuck_call_does_not_stall_pings(self):
        uuid = self.start_all()
        core = self.world.core
        # A caller that sent half a request and went quiet holds its connection's thread...
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.connect(core.extension_socket(uuid))
        stuck.sendall(bytes.fromhex("80010001000000"))
        self.addCleanup(stuck.close)
        # ...and a long generate runs on another.
        results = []
        worker = threading.Thread(target=lambda: results.append(len(core.generate(self.table))))
        worker.start()
        for _ in range(5):
            self.assertTrue(core._alive(uuid))
        worker.join()
        self.assertEqual(len(results), 1)

    def test_pings_keep_succeeding_after_the_privilege_drop(self):
        uuid = self.start_all()
        core = self.world.core
        # The fake core pings every interval (1 s here); one failure would drop the extension.
        wait_for("five pings of uuid %d" % uuid, lambda: core.pings.get(uuid, 0) >= 5)
        self.assertEqual(core.deregistered, [])
        self.assertEqual(core.owner_of(self.table), uuid)
        self.assertEqual(proc_status(self.world.launcher.pid())["Uid"][0], str(NOBODY))


class NameCollision(BridgeTest):
    def assert_vajra_names(self):
        tables = self.world.core.registered_tables()
        self.assertEqual(set(tables), {"vajra_process_events", "vajra_socket_events", "vajra_dns_events",
                                       "vajra_file_events", "vajra_status"})

    def test_core_owning_bpf_process_events_makes_every_table_vajra(self):
        self.world.start_daemon()
        self.world.start_core(core_tables=LINUX_CORE_TABLES + OSQUERY_5_23_BPF_TABLES)
        self.world.launch_bridge()
        self.world.wait_registered("vajra_process_events")
        self.assert_vajra_names()
        # Detected from osquery's registry: no registration was rejected on the way.
        self.assertEqual([code for code, _, _ in self.world.core.registrations], [0])
        self.assertIn("bpf_process_events", self.world.bridge_log())
        marker = new_marker()
        trigger(marker)
        self.wait_rows(marker, table="vajra_process_events")
        self.assertEqual(self.status()["table_names"], "vajra")

    def test_a_rejected_registration_falls_back_to_vajra_names(self):
        # A core whose query() cannot read osquery_registry: the rejection decides.
        self.world.start_daemon()
        self.world.start_core(core_tables=LINUX_CORE_TABLES + OSQUERY_5_23_BPF_TABLES, registry_query=False)
        self.world.launch_bridge()
        self.world.wait_registered("vajra_process_events")
        self.assert_vajra_names()
        registrations = self.world.core.registrations
        self.assertEqual([code for code, _, _ in registrations], [1, 0])
        self.assertIn("bpf_process_events", registrations[0][1])
        self.assertIn("rejected", self.world.bridge_log())

    def test_forced_names(self):
        self.world.write_config("nobody", "vajra", 65536)
        self.world.start_daemon()
        self.world.start_core()
        self.world.launch_bridge()
        self.world.wait_registered("vajra_process_events")
        self.assert_vajra_names()

    def test_forced_bpf_names_on_a_core_that_owns_them_fail_clearly(self):
        self.world.write_config("nobody", "bpf", 65536)
        self.world.start_daemon()
        self.world.start_core(core_tables=LINUX_CORE_TABLES + OSQUERY_5_23_BPF_TABLES)
        launcher = self.world.launch_bridge()
        launcher.relaunch = False
        wait_for("vajra.ext to give up", lambda: launcher.exits)
        self.assertNotEqual(launcher.exits[0][1], 0)
        self.assertIn("Duplicate registry item exists: bpf_process_events", self.world.bridge_log())


class CoreRestart(BridgeTest):
    def test_dropped_bridge_exits_cleanly_and_the_new_core_relaunches_it(self):
        self.start_all()
        marker = new_marker()
        trigger(marker)
        self.wait_rows(marker)
        launcher = self.world.launcher
        launcher.relaunch = False
        old_pid = launcher.pid()
        self.world.core.crash()  # osqueryd killed: no shutdown() call, its sockets gone
        new_core = FakeOsquery(self.world.manager_socket, interval=self.world.interval).start()
        self.world.core = new_core
        # The bridge cannot reach a root-only socket any more as nobody, so it leaves, cleanly.
        wait_for("the old vajra.ext to exit", lambda: launcher.exits)
        self.assertEqual(launcher.exits, [(old_pid, 0)])
        self.assertIn("extension manager is gone", launcher.log())
        launcher.stop()
        # The new osqueryd starts it again, and it comes back with the events vajrad retained.
        self.world.launch_bridge()
        self.world.wait_registered(self.table)
        self.assertEqual(len(self.wait_rows(marker)), 1)

    def test_forgotten_extension_exits_and_is_relaunched(self):
        uuid = self.start_all()
        launcher = self.world.launcher
        self.world.core.forget(uuid)  # osquery dropped it after a failed check
        wait_for("vajra.ext to exit after being forgotten", lambda: launcher.exits)
        self.assertEqual(launcher.exits[0][1], 0)
        self.assertIn("no longer lists this extension", launcher.log())
        new_uuid = wait_for("the relaunched vajra.ext to register", lambda: self.world.core.owner_of(self.table))
        self.assertNotEqual(new_uuid, uuid)


class CoreRestartUnprivileged(BridgeTest):
    """bridge.user empty: the bridge keeps osquery's uid (without capabilities) and re-registers."""

    world_options = {"bridge_user": ""}

    def test_bridge_reregisters_with_a_restarted_core(self):
        uuid = self.start_all()
        launcher = self.world.launcher
        self.world.core.crash()
        new_core = FakeOsquery(self.world.manager_socket, interval=self.world.interval).start()
        self.world.core = new_core
        new_uuid = wait_for("vajra.ext to register with the new core", lambda: new_core.owner_of(self.table))
        self.assertNotEqual(new_uuid, uuid)
        self.assertEqual(launcher.launches, 1)
        self.assertEqual(launcher.exits, [])
        self.assertIn("registered again", launcher.log())
        marker = new_marker()
        trigger(marker)
        self.assertEqual(len(self.wait_rows(marker)), 1)
        status = proc_status(launcher.pid())
        self.assertEqual(status["CapEff"], ["0000000000000000"])
        self.assertEqual(status["NoNewPrivs"], ["1"])


class DaemonRestart(BridgeTest):
    def test_kill_and_restart_of_vajrad(self):
        self.start_all()
        scheduled = ScheduledQuery(self.world.core, self.table, recipe_window)
        before = [new_marker() for _ in range(3)]
        for marker in before:
            trigger(marker)
        for marker in before:
            self.wait_rows(marker)
        scheduled.run()
        old_instance = self.status()["daemon_instance"]

        self.world.kill_daemon()
        # While vajrad is down the bridge answers from what it holds.
        wait_for("the bridge to notice", lambda: self.status()["daemon_state"] != "connected")
        self.assertEqual(count_exec_rows(self.generate(), before), {m: 1 for m in before})
        scheduled.run()

        self.world.start_daemon()
        after = [new_marker() for _ in range(3)]
        for marker in after:
            trigger(marker)
        for marker in after:
            self.wait_rows(marker)
        rows = self.generate()
        self.assertEqual(count_exec_rows(rows, before + after), {m: 1 for m in before + after})
        scheduled.run()
        logged = count_exec_rows(scheduled.added, before + after)
        self.assertEqual(logged, {m: 1 for m in before + after})

        status = self.status()
        self.assertEqual(status["daemon_state"], "connected")
        self.assertNotEqual(status["daemon_instance"], old_instance)
        self.assertGreaterEqual(int(status["reconnects"]), 1)
        self.assertGreaterEqual(int(status["daemon_restarts"]), 1)
        self.assertEqual(status["lost_subscriber"], "0")
        self.assertEqual(status["duplicates_dropped"], "0")
        self.assertEqual(len({r["eid"] for r in rows}), len(rows))


class BridgeRestart(BridgeTest):
    def test_kill_and_relaunch_of_the_bridge(self):
        self.start_all()
        core = self.world.core
        scheduled = ScheduledQuery(core, self.table, recipe_window)
        before = [new_marker() for _ in range(3)]
        for marker in before:
            trigger(marker)
        for marker in before:
            self.wait_rows(marker)
        scheduled.run()
        wait_for("the cursor to be saved", lambda: os.path.exists(os.path.join(self.world.state_dir, "cursor")))

        launcher = self.world.launcher
        launcher.relaunch = False
        os.kill(launcher.pid(), signal.SIGKILL)
        wait_for("vajra.ext to die", lambda: launcher.exits)
        launcher.stop()
        # Events while no bridge runs.
        during = [new_marker() for _ in range(3)]
        for marker in during:
            trigger(marker)

        self.world.launch_bridge()
        self.world.wait_registered(self.table)
        after = [new_marker() for _ in range(2)]
        for marker in after:
            trigger(marker)
        for marker in after:
            self.wait_rows(marker)
        markers = before + during + after
        self.assertEqual(count_exec_rows(self.generate(), markers), {m: 1 for m in markers})
        scheduled.run()
        self.assertEqual(count_exec_rows(scheduled.added, markers), {m: 1 for m in markers})
        status = self.status()
        self.assertEqual(status["lost_replay_expired"], "0")
        self.assertEqual(status["replay_gaps"], "0")
        self.assertEqual(status["lost_subscriber"], "0")
        self.assertEqual(status["duplicates_dropped"], "0")
        self.assertGreater(int(status["events_replayed"]), 0)


class ReplayGap(BridgeTest):
    world_options = {"replay_events": 64}

    def test_a_gap_beyond_the_replay_buffer_is_counted(self):
        self.start_all()
        marker = new_marker()
        trigger(marker)
        self.wait_rows(marker)
        cursor_path = os.path.join(self.world.state_dir, "cursor")
        launcher = self.world.launcher
        launcher.relaunch = False
        # The cursor file reaches what the bridge has once a check interval passes.
        wait_for("the saved cursor to reach the marker's exec",
                 lambda: os.path.exists(cursor_path) and read_cursor(cursor_path)[1] >=
                 int(rows_with(self.generate(), marker)[0]["seq"]))
        os.kill(launcher.pid(), signal.SIGKILL)
        wait_for("vajra.ext to die", lambda: launcher.exits)
        launcher.stop()
        saved_seq = read_cursor(cursor_path)[1]

        during = [new_marker() for _ in range(100)]  # hundreds of events, far more than 64 retained
        for m in during:
            trigger(m)
        published_before = int(self.world.daemon_status()["next_seq"]) - 1
        self.world.launch_bridge()
        self.world.wait_registered(self.table)
        after = new_marker()
        trigger(after)
        self.assertEqual(len(self.wait_rows(after)), 1)
        status = self.status()
        published_after = int(self.world.daemon_status()["next_seq"]) - 1
        lost = int(status["lost_replay_expired"])
        # At least what the 64-event buffer could not hold of what was published before the
        # relaunch; at most everything published after the saved cursor.
        self.assertGreaterEqual(lost, published_before - saved_seq - 64)
        self.assertLessEqual(lost, published_after - saved_seq)
        self.assertGreaterEqual(int(status["replay_gaps"]), 1)
        self.assertEqual(status["duplicates_dropped"], "0")


class Privileges(BridgeTest):
    def test_the_bridge_runs_as_nobody_without_capabilities(self):
        self.start_all()
        pid = self.world.launcher.pid()
        status = proc_status(pid)
        self.assertEqual(status["Uid"], [str(NOBODY)] * 4)
        self.assertEqual(status["Gid"], [str(NOBODY)] * 4)
        for capability_set in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
            self.assertEqual(status[capability_set], ["0000000000000000"], capability_set)
        self.assertEqual(status["NoNewPrivs"], ["1"])
        self.assertEqual(self.status()["bridge_uid"], str(NOBODY))

        # vajrad sees the bridge's stream as uid nobody, admitted by its allow-list.
        subscribers = self.world.daemon_status().get("subscribers", [])
        self.assertIn(NOBODY, [int(s.get("peer_uid", 0)) for s in subscribers])
        # The state directory is the bridge user's, private.
        info = os.stat(self.world.state_dir)
        self.assertEqual((info.st_uid, stat.S_IMODE(info.st_mode)), (NOBODY, 0o700))
        marker = new_marker()
        trigger(marker)
        self.wait_rows(marker)

    def test_a_daemon_that_does_not_allow_the_user_refuses_it(self):
        with open(self.world.config_path) as f:
            text = f.read()
        with open(self.world.config_path, "w") as f:
            f.write(text.replace("allow_uids: [0, %d]" % NOBODY, "allow_uids: [0]"))
        self.start_all()
        wait_for("vajrad to refuse the bridge",
                 lambda: int(self.world.daemon_status().get("refused_connections", 0)) > 0)
        status = self.status()
        self.assertNotEqual(status["daemon_state"], "connected")
        self.assertNotEqual(status["daemon_error"], "")


class Scheduling(BridgeTest):
    def thread_policies(self):
        pid = self.world.launcher.pid()
        policies = set()
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                policies.add(os.sched_getscheduler(int(tid)))
            except ProcessLookupError:  # the thread ended since the listing
                pass
        return policies

    def setUp(self):
        super().setUp()
        # The bridge inherits the launcher's policy, which is this process's: make it the kernel's
        # default, so that batch and inherit differ whatever the tests were started with.
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

    def test_every_bridge_thread_runs_sched_batch_by_default(self):
        self.start_all()
        self.assertEqual(self.thread_policies(), {os.SCHED_BATCH})

    def test_inherit_keeps_the_launchers_policy(self):
        with open(self.world.config_path, "a") as f:
            f.write("scheduler:\n  policy: inherit\n")
        self.start_all()
        self.assertEqual(self.thread_policies(), {os.SCHED_OTHER})


if __name__ == "__main__":
    harness.main()
