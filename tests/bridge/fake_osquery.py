"""A fake osquery core, written from docs/osquery-extension-protocol.md, to drive vajra.ext the way
osqueryd does: it serves ExtensionManager on a Unix socket (binary protocol, buffered transport),
launches the extension with osqueryd's argv and environment and relaunches it when it dies, pings
every extension each interval over a new connection and forgets those that fail, and calls tables
(`columns`, `generate` with osquery-shaped context JSON) over a new connection per call.

It also emulates osquery's scheduler in differential mode (ScheduledQuery): each run diffs the
rows against the previous run's and logs the new ones as "added", which is how the bridge's
tables give a scheduled query every event exactly once.
"""
import glob
import json
import os
import random
import socket
import subprocess
import threading
import time

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from vajra_osquery import Extension, ExtensionManager
from vajra_osquery.ttypes import (ExtensionResponse, ExtensionStatus, InternalExtensionInfo,
                                  InternalOptionInfo)

# Tables every Linux osquery has, and the two bpf tables of osquery <= 5.23.1.
LINUX_CORE_TABLES = ["processes", "process_events", "socket_events", "file_events", "process_file_events",
                     "user_events", "osquery_registry", "osquery_extensions"]
OSQUERY_5_23_BPF_TABLES = ["bpf_process_events", "bpf_socket_events"]

REGISTRIES = {"table", "config", "logger", "distributed", "enroll", "database", "killswitch",
              "numeric_monitoring", "sql"}
COLUMN_TYPES = {"TEXT", "INTEGER", "BIGINT", "UNSIGNED BIGINT", "DOUBLE", "BLOB"}

OP = {"=": 2, ">": 4, "<=": 8, "<": 16, ">=": 32}
CALL_TIMEOUT_MS = 300 * 1000  # osquery's extension client timeout


class ExtensionError(Exception):
    """An extension answered a call with a non-zero status."""

    def __init__(self, status):
        super().__init__("status %d: %s" % (status.code, status.message))
        self.status = status


def _version_tuple(text):
    parts = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (3 - len(parts)))


def _open_client(path, module):
    sock = TSocket.TSocket(unix_socket=path)
    sock.setTimeout(CALL_TIMEOUT_MS)
    transport = TTransport.TBufferedTransport(sock)
    client = module.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    return client, transport


class _Server:
    """Thread-per-connection Thrift server on a Unix socket that can also die abruptly."""

    def __init__(self, path, processor):
        self.path = path
        self.processor = processor
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o755)  # as root's umask leaves it: only root can connect
        self.listener.listen(64)
        self.connections = set()
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.closed:
                    conn.close()
                    return
                self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        sock = TSocket.TSocket()
        sock.setHandle(conn)
        transport = TTransport.TBufferedTransport(sock)
        protocol = TBinaryProtocol.TBinaryProtocol(transport)
        try:
            while True:
                self.processor.process(protocol, protocol)
        except (TTransport.TTransportException, OSError, EOFError):
            pass
        finally:
            with self.lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        """Like a killed process: the socket file goes, every connection drops mid-flight."""
        with self.lock:
            self.closed = True
            connections = list(self.connections)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class FakeOsquery:
    """One run of osqueryd's extension manager."""

    def __init__(self, socket_path, core_tables=LINUX_CORE_TABLES, interval=3, registry_query=True,
                 log=print):
        self.socket_path = socket_path
        self.core_tables = list(core_tables)
        self.interval = interval
        self.registry_query = registry_query
        self.log = log
        self.lock = threading.RLock()
        self.registered = {}  # uuid -> {"info": InternalExtensionInfo, "registry": {...}}
        self.registrations = []  # (status code, message, plugin names) of every registerExtension
        self.deregistered = []  # uuids forgotten after a failed ping, or by deregisterExtension
        self.pings = {}  # uuid -> successful pings
        self.server = None
        self.stopping = threading.Event()
        self.pinger = None

    # ----------------------------------------------------------------------------------------
    # lifecycle

    def start(self):
        # osqueryd deletes every <manager>.* file when it starts.
        for stale in glob.glob(glob.escape(self.socket_path) + ".*"):
            os.unlink(stale)
        self.server = _Server(self.socket_path, ExtensionManager.Processor(self))
        self.pinger = threading.Thread(target=self._ping_loop, daemon=True)
        self.pinger.start()
        return self

    def crash(self):
        """osqueryd dies without calling shutdown(): sockets vanish, extensions are not told."""
        self.stopping.set()
        self.server.close()

    def stop(self):
        """osqueryd's orderly shutdown: shutdown() on every extension, then its files go."""
        self.stopping.set()
        with self.lock:
            uuids = list(self.registered)
        for uuid in uuids:
            try:
                client, transport = _open_client(self.extension_socket(uuid), Extension)
                client.shutdown()
                transport.close()
            except (TTransport.TTransportException, OSError):
                pass
        self.server.close()
        for stale in glob.glob(glob.escape(self.socket_path) + ".*"):
            os.unlink(stale)

    def extension_socket(self, uuid):
        return "%s.%d" % (self.socket_path, uuid)

    def _ping_loop(self):
        while not self.stopping.wait(self.interval):
            self.refresh()

    def _alive(self, uuid):
        """One liveness check as osquery makes it: a new connection, ping, close."""
        try:
            client, transport = _open_client(self.extension_socket(uuid), Extension)
            try:
                status = client.ping()
            finally:
                transport.close()
        except (TTransport.TTransportException, OSError, EOFError):
            return False
        return status.code == 0

    def refresh(self):
        with self.lock:
            uuids = list(self.registered)
        for uuid in uuids:
            if self._alive(uuid):
                with self.lock:
                    self.pings[uuid] = self.pings.get(uuid, 0) + 1
                continue
            with self.lock:
                if self.registered.pop(uuid, None) is not None:
                    self.deregistered.append(uuid)
                    self.log("fake osquery: extension %d failed its ping; its tables are dropped" % uuid)

    def forget(self, uuid):
        """Drops an extension as osquery does after one failed check."""
        with self.lock:
            if self.registered.pop(uuid, None) is not None:
                self.deregistered.append(uuid)

    # ----------------------------------------------------------------------------------------
    # ExtensionManager (what vajra.ext calls)

    def ping(self):
        return ExtensionStatus(code=0, message="OK", uuid=0)

    def call(self, registry, item, request):
        return ExtensionResponse(status=ExtensionStatus(code=1, message="fake core has no plugins to call"),
                                 response=[])

    def shutdown(self):
        pass

    def extensions(self):
        self.refresh()  # osquery pings every extension before answering
        with self.lock:
            return {uuid: entry["info"] for uuid, entry in self.registered.items()}

    def options(self):
        return {"extensions_interval": InternalOptionInfo(value=str(self.interval), default_value="3", type="uint64"),
                "disable_events": InternalOptionInfo(value="false", default_value="true", type="bool")}

    def _reject(self, message, plugins):
        self.registrations.append((1, message, plugins))
        self.log("fake osquery: registration rejected: " + message)
        return ExtensionStatus(code=1, message=message, uuid=0)

    def registerExtension(self, info, registry):
        plugins = sorted(name for routes in registry.values() for name in routes)
        with self.lock:
            live = [uuid for uuid, entry in self.registered.items() if entry["info"].name == info.name]
        for uuid in live:
            # osquery checks whether a same-named extension is still alive before refusing.
            if self._alive(uuid):
                return self._reject("Duplicate extension registered", plugins)
            self.forget(uuid)
        if info.sdk_version not in ("", "0.0.0") and _version_tuple(info.sdk_version) < (1, 7, 7):
            return self._reject("Extension SDK %s is older than 1.7.7" % info.sdk_version, plugins)
        with self.lock:
            existing = set(self.core_tables)
            for entry in self.registered.values():
                for routes in entry["registry"].values():
                    existing.update(routes)
        for registry_name, routes in registry.items():
            if registry_name not in REGISTRIES:
                return self._reject("Unknown registry: " + registry_name, plugins)
            for name, rows in routes.items():
                if name in existing:
                    return self._reject("Duplicate registry item exists: " + name, plugins)
                if registry_name == "table":
                    problem = self._check_table_routes(rows)
                    if problem:
                        return self._reject("Table %s: %s" % (name, problem), plugins)
        with self.lock:
            uuid = random.randint(1, 65535)
            while uuid in self.registered or uuid in self.deregistered:
                uuid = random.randint(1, 65535)
            self.registered[uuid] = {"info": info, "registry": registry}
            self.registrations.append((0, "OK", plugins))
        self.log("fake osquery: registered %s as uuid %d with %s" % (info.name, uuid, ", ".join(plugins)))
        return ExtensionStatus(code=0, message="OK", uuid=uuid)

    @staticmethod
    def _check_table_routes(rows):
        columns = [row for row in rows if row.get("id") == "column"]
        if not columns:
            return "no columns"
        for row in rows:
            kind = row.get("id")
            if kind == "column":
                if set(row) != {"id", "name", "type", "op"}:
                    return "column route %r has keys %s" % (row.get("name"), sorted(row))
                if row["type"] not in COLUMN_TYPES:
                    return "column %s has unknown type %s" % (row["name"], row["type"])
                if not row["op"].isdigit():
                    return "column %s op %r is not a decimal number" % (row["name"], row["op"])
            elif kind == "attributes":
                if not row.get("attributes", "").isdigit():
                    return "attributes %r is not a decimal number" % row.get("attributes")
            elif kind not in ("alias", "columnAlias"):
                return "unknown route row %r" % row
        return None

    def deregisterExtension(self, uuid):
        self.forget(uuid)
        return ExtensionStatus(code=0, message="OK", uuid=uuid)

    def query(self, sql):
        if not self.registry_query or "osquery_registry" not in sql:
            return ExtensionResponse(status=ExtensionStatus(code=1, message="fake core cannot run: " + sql),
                                     response=[])
        rows = [{"registry": "table", "name": name, "owner_uuid": "0", "internal": "0", "active": "1"}
                for name in self.core_tables]
        with self.lock:
            for uuid, entry in self.registered.items():
                for name in entry["registry"].get("table", {}):
                    rows.append({"registry": "table", "name": name, "owner_uuid": str(uuid), "internal": "0",
                                 "active": "1"})
        return ExtensionResponse(status=ExtensionStatus(code=0, message="OK"), response=rows)

    def getQueryColumns(self, sql):
        return ExtensionResponse(status=ExtensionStatus(code=1, message="fake core cannot plan: " + sql),
                                 response=[])

    # ----------------------------------------------------------------------------------------
    # calling extensions (what osquery does when a query reads their tables)

    def owner_of(self, table):
        with self.lock:
            for uuid, entry in self.registered.items():
                if table in entry["registry"].get("table", {}):
                    return uuid
        return None

    def registered_tables(self):
        with self.lock:
            return {name: rows for entry in self.registered.values()
                    for name, rows in entry["registry"].get("table", {}).items()}

    def call_extension(self, uuid, registry, item, request):
        """One call over its own connection; returns the ExtensionResponse."""
        client, transport = _open_client(self.extension_socket(uuid), Extension)
        try:
            return client.call(registry, item, request)
        finally:
            transport.close()

    def table_call(self, table, request):
        uuid = self.owner_of(table)
        if uuid is None:
            raise KeyError("no extension has registered table %s" % table)
        response = self.call_extension(uuid, "table", table, request)
        if response.status.code != 0:
            raise ExtensionError(response.status)
        return response.response

    def columns(self, table):
        return self.table_call(table, {"action": "columns"})

    def context(self, table, constraints=(), cols_used=None, old_shape=False):
        """osquery's generate context: every column, most with an empty constraint list."""
        routes = self.registered_tables()[table]
        names = [row["name"] for row in routes if row.get("id") == "column"]
        types = {row["name"]: row["type"] for row in routes if row.get("id") == "column"}
        by_column = {}
        for column, op, expr in constraints:
            code = OP[op] if isinstance(op, str) and op in OP else op
            by_column.setdefault(column, []).append({"op": str(code) if old_shape else code, "expr": str(expr)})
        entries = []
        for name in names:
            items = by_column.get(name, [])
            entries.append({"name": name, "list": items if (items or not old_shape) else "",
                            "affinity": types[name]})
        context = {"constraints": entries}
        if not old_shape:
            used = names if cols_used is None else list(cols_used)
            context["colsUsed"] = used
            context["colsUsedBitset"] = sum(1 << i for i, name in enumerate(names) if name in used)
        return json.dumps(context)

    def generate(self, table, constraints=(), cols_used=None, old_shape=False):
        context = self.context(table, constraints, cols_used, old_shape)
        return self.table_call(table, {"action": "generate", "context": context})


class Launcher:
    """osqueryd's extension watcher: starts the extension with osqueryd's argv and environment and
    starts it again when it exits."""

    def __init__(self, ext_path, manager_socket, extra_args, log_path, timeout=3, interval=3, verbose=False,
                 relaunch=True):
        self.argv = [ext_path] + (["--verbose"] if verbose else []) + [
            "--socket", manager_socket, "--timeout", str(timeout), "--interval", str(interval)] + list(extra_args)
        self.log_path = log_path
        self.relaunch = relaunch
        self.lock = threading.Lock()
        self.process = None
        self.exits = []  # return codes of instances that ended
        self.launches = 0
        self.stopping = threading.Event()
        self.thread = None

    def start(self):
        self._launch()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _launch(self):
        env = dict(os.environ, OSQUERY_EXTENSION=str(os.getpid()))
        with open(self.log_path, "ab") as log:
            log.write(("--- launch: %s\n" % " ".join(self.argv)).encode())
            log.flush()
            process = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        with self.lock:
            self.process = process
            self.launches += 1

    def _watch(self):
        while not self.stopping.wait(0.5):
            with self.lock:
                process = self.process
            code = process.poll()
            if code is None:
                continue
            with self.lock:
                if self.process is process and process.pid not in [pid for pid, _ in self.exits]:
                    self.exits.append((process.pid, code))
            if self.relaunch and not self.stopping.is_set():
                self._launch()

    def pid(self):
        with self.lock:
            return self.process.pid

    def current(self):
        with self.lock:
            return self.process

    def stop(self, kill=True):
        self.stopping.set()
        if self.thread:
            self.thread.join()
        process = self.current()
        if process and process.poll() is None and kill:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


class ScheduledQuery:
    """osquery's scheduler for a query on a table without EVENT_BASED: every run is diffed
    against the previous run's results (kept across osquery restarts in its database); rows not
    seen before are logged as "added", rows gone as "removed" (which `removed: false` suppresses).
    """

    def __init__(self, core, table, constraints_fn=lambda: ()):
        self.core = core
        self.table = table
        self.constraints_fn = constraints_fn
        self.previous = {}
        self.added = []  # every row ever logged as added

    @staticmethod
    def _key(row):
        return tuple(sorted(row.items()))

    def run(self):
        rows = self.core.generate(self.table, self.constraints_fn())
        current = {}
        for row in rows:
            key = self._key(row)
            current[key] = current.get(key, 0) + 1
        for key, count in current.items():
            for _ in range(count - self.previous.get(key, 0)):
                self.added.append(dict(key))
        self.previous = current
        return rows
