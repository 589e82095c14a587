// Measures `generate` on a process table holding 100,000 rows (the default bridge.max_rows): the
// first query, which builds the rows, then a full scan and `time > now - 60`, in-process and
// through osquery's Thrift protocol on a Unix socket (a new connection per call, as osquery does).
// Prints numbers; asserts nothing.
//
//   vajra_bridge_bench [ROWS] [RUNS]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "event_table.h"
#include "restore_gate.h"
#include "tables/event_family.h"
#include "reply_writer.h"
#include "thrift_server.h"

namespace {

using namespace vajra::bridge;
using Clock = std::chrono::steady_clock;

// An exec as vajrad reports one from a build: a few arguments, one of them different in every row,
// and four ancestors whose nearest (the make that runs it) changes every 50 rows, so that rows
// share long values the way real ones do.
vajra::v1::Event synthetic_exec(uint64_t seq, uint64_t time_ns) {
  vajra::v1::Event event;
  event.set_seq(seq);
  event.set_time_ns(time_ns);
  event.set_ktime_ns(time_ns - 1700000000000000000ull);
  event.set_kind(vajra::v1::EVENT_KIND_EXEC);
  auto* p = event.mutable_process();
  p->set_pid(10000 + static_cast<uint32_t>(seq % 50000));
  p->set_tid(p->pid());
  p->set_ppid(4242 + static_cast<uint32_t>(seq / 50));
  p->set_ns_pid(p->pid());
  p->set_uid(1000);
  p->set_euid(1000);
  p->set_gid(1000);
  p->set_egid(1000);
  p->set_auid(1000);
  p->set_session_id(3);
  p->set_comm("cc1plus");
  p->set_tty("pts/0");
  p->set_exe("/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus");
  const std::string source = "/home/user/src/project/src/module" + std::to_string(seq % 5000) + ".cpp";
  for (const std::string& arg : {std::string("cc1plus"), std::string("-quiet"), std::string("-I/home/user/src/project/include"),
                                 source, std::string("-O2"), std::string("-o"), std::string("/tmp/ccXXXX.s")}) {
    p->add_argv(arg);
  }
  p->set_cwd("/home/user/src/project/build");
  (*p->mutable_env())["LD_PRELOAD"] = "";
  p->set_start_time_ns(time_ns - 1000);
  p->set_cgroup_id(12345);
  p->set_cgroup_path("/user.slice/user-1000.slice/session-3.scope");
  auto* ns = p->mutable_namespaces();
  ns->set_pid(4026531836);
  ns->set_mnt(4026531841);
  ns->set_net(4026531840);
  ns->set_user(4026531837);
  ns->set_uts(4026531838);
  ns->set_ipc(4026531839);
  ns->set_cgroup(4026531835);
  p->set_exe_sha256("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  p->set_exe_hash_status(vajra::v1::HASH_STATUS_OK);
  const char* exes[] = {"/usr/bin/make", "/usr/bin/bash", "/usr/bin/bash", "/usr/sbin/sshd"};
  for (uint32_t depth = 0; depth < 4; ++depth) {
    auto* ancestor = p->add_ancestry();
    ancestor->set_pid(depth == 0 ? p->ppid() : 4242 - depth);
    ancestor->set_exe(exes[depth]);
    if (depth == 0) {
      for (const char* arg : {"make", "-j2", "-C", "/home/user/src/project/build", "all"}) ancestor->add_argv(arg);
    } else {
      ancestor->add_argv(depth == 3 ? "sshd: user@pts/0" : "-bash");
    }
    ancestor->set_start_time_ns(time_ns - 1000000000ull * (depth + 1) - (depth == 0 ? seq / 50 : 0));
  }
  auto* exec = event.mutable_exec();
  exec->set_exe_inode(393218);
  exec->set_exe_dev(2049);
  exec->set_exe_mode(0100755);
  exec->set_exe_size(203152);
  exec->set_argv_bytes(160);
  return event;
}

std::string context_json(const EventTable& table, const std::string& time_constraint) {
  std::string json = "{\"constraints\":[";
  bool first = true;
  for (const Column& column : table.columns()) {
    json += first ? "" : ",";
    first = false;
    json += "{\"name\":\"" + column.name + "\",\"list\":[";
    if (column.name == "time" && !time_constraint.empty()) json += "{\"op\":4,\"expr\":\"" + time_constraint + "\"}";
    json += "],\"affinity\":\"" + std::string(type_name(column.type)) + "\"}";
  }
  return json + "]}";
}

struct Result {
  double min_ms, median_ms;
  size_t rows;
};

template <typename Run>
Result measure(int runs, Run run) {
  std::vector<double> times;
  size_t rows = 0;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    rows = run();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return Result{times.front(), times[times.size() / 2], rows};
}

void report(const char* what, const Result& r) {
  std::printf("  %-52s %8zu rows  min %9.2f ms  median %9.2f ms\n", what, r.rows, r.min_ms, r.median_ms);
}

long rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t row_count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 7;

  RestoreGate gate;
  gate.open();
  const EventFamily& family = event_families().front();
  EventTable table(family, "bpf_process_events", StoreLimits{3600, row_count}, gate);

  // Rows spread evenly over the last 50 minutes, so `time > now - 60` selects about 1/50 of them.
  const uint64_t now_ns = EventTable::wall_seconds() * 1000000000ull;
  const uint64_t span_ns = 3000ull * 1000000000ull;
  // Timed: the bridge's work per event received (keeping its bytes in the store), not building the
  // events; then the first query, which builds every row (each once).
  Clock::duration fill{};
  const auto instance = std::make_shared<const std::string>("bench-instance");
  for (size_t i = 0; i < row_count; ++i) {
    const vajra::v1::Event event = synthetic_exec(i + 1, now_ns - span_ns + span_ns * i / row_count);
    StreamedEvent streamed = streamed_event_of(event);
    const auto start = Clock::now();
    table.add(std::move(streamed), instance);
    fill += Clock::now() - start;
  }
  const double fill_ms = std::chrono::duration<double, std::milli>(fill).count();
  const uint64_t received_bytes = table.counters().bytes;
  const auto build_start = Clock::now();
  const size_t built = table.select(QueryContext{})->size();
  const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - build_start).count();
  const TableCounters counters = table.counters();
  std::printf("vajra_bridge_bench: %zu rows of %zu columns; received in %.0f ms (%.2f us per event, %.1f MiB of "
              "events held); the first query built %zu rows in %.0f ms (%.1f us per row, %.1f MiB in rows plus pooled "
              "long values); max RSS %ld MiB\n",
              static_cast<size_t>(counters.store.rows), table.columns().size(), fill_ms,
              fill_ms * 1000 / static_cast<double>(row_count), received_bytes / 1048576.0, built, build_ms,
              build_ms * 1000 / static_cast<double>(built), counters.bytes / 1048576.0, rss_mib());

  const std::string last_minute = std::to_string(now_ns / 1000000000ull - 60);
  const std::string full_ctx = context_json(table, "");
  const std::string minute_ctx = context_json(table, last_minute);

  // The bridge's share: context parsing, store lookup and the Thrift reply serialized in memory.
  size_t reply_bytes = 0;
  auto serialize = [&](const QueryContext& context) {
    auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
    apache::thrift::protocol::TBinaryProtocol out(buffer);
    const auto rows = table.select(context);
    vajra::osquery::ExtensionStatus status;
    write_call_reply(out, 1, status, *rows);
    reply_bytes = buffer->available_read();
    return rows->size();
  };
  QueryContext four_columns = parse_context(full_ctx);
  four_columns.columns_used = std::set<std::string>{"pid", "path", "cmdline", "time"};
  std::printf("in the bridge (parse context, look up, serialize the reply in memory):\n");
  report("full scan, every column", measure(runs, [&] { return serialize(parse_context(full_ctx)); }));
  std::printf("    reply %.1f MiB\n", reply_bytes / 1048576.0);
  report("full scan, colsUsed [pid, path, cmdline, time]", measure(runs, [&] { return serialize(four_columns); }));
  std::printf("    reply %.1f MiB\n", reply_bytes / 1048576.0);
  report("time > now - 60, every column", measure(runs, [&] { return serialize(parse_context(minute_ctx)); }));
  std::printf("    reply %.1f MiB\n", reply_bytes / 1048576.0);

  // Through the wire, as osquery calls it: Thrift's default limits, so a reply over 100 MiB is
  // refused by the bridge with an error status rather than sent.
  const std::string socket_path =
      (std::filesystem::temp_directory_path() / ("vajra-bench-" + std::to_string(getpid()) + ".em.1")).string();
  auto handler = std::make_shared<ExtensionHandler>(std::map<std::string, Table*>{{table.name(), &table}});
  ExtensionServer server(socket_path, handler, [] {});
  server.start();
  std::string refusal;
  auto call = [&](const std::string& context) -> size_t {
    auto socket = std::make_shared<apache::thrift::transport::TSocket>(socket_path);
    auto transport = std::make_shared<apache::thrift::transport::TBufferedTransport>(socket);
    vajra::osquery::ExtensionClient client(std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport));
    transport->open();
    vajra::osquery::ExtensionResponse response;
    client.call(response, "table", table.name(), {{"action", "generate"}, {"context", context}});
    transport->close();
    refusal = response.status.code == 0 ? "" : response.status.message;
    return response.response.size();
  };
  std::string four_ctx = full_ctx;
  four_ctx.insert(four_ctx.size() - 1, ",\"colsUsed\":[\"pid\",\"path\",\"cmdline\",\"time\"]");
  std::printf("as osquery sees it (new connection, call, reply read into maps as osquery's C++ client does):\n");
  report("full scan, every column", measure(runs, [&] { return call(full_ctx); }));
  if (!refusal.empty()) std::printf("    refused: %s\n", refusal.c_str());
  report("full scan, colsUsed [pid, path, cmdline, time]", measure(runs, [&] { return call(four_ctx); }));
  report("time > now - 60, every column", measure(runs, [&] { return call(minute_ctx); }));
  server.stop();
  std::filesystem::remove(socket_path);

  const uint64_t examined_before = table.counters().store.rows_examined;
  const size_t minute_rows = table.generate(parse_context(minute_ctx)).size();
  std::printf("time > now - 60 examined %llu rows to return %zu (of %llu held); max RSS %ld MiB\n",
              static_cast<unsigned long long>(table.counters().store.rows_examined - examined_before), minute_rows,
              static_cast<unsigned long long>(counters.store.rows), rss_mib());
  return 0;
}
