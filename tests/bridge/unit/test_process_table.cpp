#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "event_table.h"
#include "restore_gate.h"
#include "tables/process_table.h"

using namespace vajra::bridge;
namespace v1 = vajra::v1;

namespace {

constexpr uint64_t kTimeNs = 1'700'000'123'456'789'000ull;

v1::Event base_event(uint64_t seq, v1::EventKind kind) {
  v1::Event event;
  event.set_seq(seq);
  event.set_kind(kind);
  event.set_time_ns(kTimeNs);
  event.set_ktime_ns(98'765'000'000'123ull);
  auto* p = event.mutable_process();
  p->set_pid(4000000);  // above 2^21: pids are BIGINT
  p->set_tid(4000001);
  p->set_ppid(1);
  p->set_uid(1000);
  p->set_auid(4294967295u);
  p->set_exe("/usr/bin/printf");
  for (const char* arg : {"printf", "two words", "", "it's"}) p->add_argv(arg);
  p->set_cgroup_id(0x1'0000'0001ull);  // more than 32 bits, unlike osquery's cid
  p->mutable_container()->set_runtime(v1::CONTAINER_RUNTIME_DOCKER);
  p->mutable_container()->set_id(std::string(64, 'a'));
  p->mutable_namespaces()->set_pid(4026531836u);
  p->set_exe_sha256(std::string(64, 'b'));
  p->set_exe_hash_status(v1::HASH_STATUS_OK);
  auto* parent = p->add_ancestry();
  parent->set_pid(1);
  parent->set_exe("/sbin/init");
  auto* unknown = p->add_ancestry();  // an ancestor the daemon knows only the pid of
  unknown->set_pid(0);
  (*p->mutable_env())["LD_PRELOAD"] = "/x.so";
  return event;
}

struct Fixture {
  RestoreGate gate;
  EventFamily family = process_family();
  EventTable table{family, "bpf_process_events", StoreLimits{1u << 30, 1000}, gate,
                   [] { return kTimeNs / 1000000000ull; }};
  Fixture() { gate.open(); }

  void add(const v1::Event& event, const char* instance) {
    table.add(streamed_event_of(event), std::make_shared<const std::string>(instance));
  }

  Row only_row() {
    Rows rows = table.generate(QueryContext{});
    REQUIRE(rows.size() == 1);
    return rows.front();
  }
};

const Column& column(const EventTable& table, const std::string& name) {
  for (const Column& c : table.columns())
    if (c.name == name) return c;
  FAIL("no column " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("column declarations follow osquery's conventions", "[bridge][process_table]") {
  Fixture f;
  CHECK(column(f.table, "time").type == ColumnType::kBigInt);
  CHECK(column(f.table, "time").options == (kHidden | kAdditional));
  CHECK(column(f.table, "seq").options == kAdditional);
  CHECK(column(f.table, "json_cmdline").options == kHidden);
  CHECK(column(f.table, "eid").options == kHidden);
  for (const char* id : {"pid", "tid", "parent", "uid", "gid", "cid", "auid", "ktime", "seq", "duration", "pid_ns"}) {
    CHECK(column(f.table, id).type == ColumnType::kBigInt);
  }
  CHECK(column(f.table, "exit_code").type == ColumnType::kText);
  CHECK(column(f.table, "ntime").type == ColumnType::kText);
  CHECK(f.table.attributes() == kNoAttributes);
  const Rows routes = route_rows(f.table);
  REQUIRE(routes.size() == f.table.columns().size());
  CHECK(routes.front().at("id") == "column");
}

TEST_CASE("an exec row", "[bridge][process_table]") {
  Fixture f;
  v1::Event event = base_event(42, v1::EVENT_KIND_EXEC);
  event.mutable_exec()->set_exe_mode(0100755);
  event.mutable_exec()->set_exe_inode(77);
  event.mutable_exec()->set_argv_bytes(26);
  f.add(event, "run-1");
  const Row row = f.only_row();
  CHECK(row.at("event") == "exec");
  CHECK(row.at("syscall") == "exec");
  CHECK(row.at("path") == "/usr/bin/printf");
  CHECK(row.at("exit_code") == "0");
  CHECK(row.at("pid") == "4000000");
  CHECK(row.at("auid") == "4294967295");
  CHECK(row.at("cid") == "4294967297");
  // osquery's quoting: whitespace-holding arguments in single quotes, nothing escaped.
  CHECK(row.at("cmdline") == "printf 'two words'  it's");
  CHECK(row.at("json_cmdline") == R"(["printf","two words","","it's"])");
  CHECK(row.at("time") == "1700000123");
  CHECK(row.at("time_ns") == std::to_string(kTimeNs));
  CHECK(row.at("ntime") == "98765000000123");
  CHECK(row.at("ktime") == "98765000000123");
  CHECK(row.at("uptime") == "98765");
  CHECK(row.at("seq") == "42");
  CHECK(row.at("daemon_instance") == "run-1");
  CHECK(row.at("eid") == "run-1:42");
  CHECK(row.at("mode") == "0100755");
  CHECK(row.at("inode") == "77");
  CHECK(row.at("cmdline_size") == "26");
  CHECK(row.at("container_runtime") == "docker");
  CHECK(row.at("container_id") == std::string(64, 'a'));
  CHECK(row.at("pid_ns") == "4026531836");
  CHECK(row.at("sha256") == std::string(64, 'b'));
  CHECK(row.at("hash_status") == "ok");
  CHECK(row.at("probe_error") == "0");
  CHECK(row.at("env") == R"({"LD_PRELOAD":"/x.so"})");
  // Ancestry holds only what the daemon knew: no invented fields for the second ancestor.
  const auto ancestry = nlohmann::json::parse(row.at("ancestry"));
  REQUIRE(ancestry.size() == 2);
  CHECK(ancestry[0] == nlohmann::json{{"pid", 1}, {"path", "/sbin/init"}});
  CHECK(ancestry[1] == nlohmann::json{{"pid", 0}});
  // Kind-specific columns of other kinds are NULL (absent).
  for (const char* absent : {"errno", "error", "child_pid", "signal", "duration", "thread"}) CHECK(row.count(absent) == 0);
}

TEST_CASE("json_cmdline is the exact argv as a compact JSON array", "[bridge][process_table]") {
  const std::vector<std::vector<std::string>> cases{
      {},
      {"ls", "-l"},
      {"sh", "-c", "echo \"hi\" \\ there", ""},
      {"\x01\n\t\r\b\f\x1f\x7f"},
      {"caf\u00e9 \u2603", "a b", "it's", "--opt=\"x\""},
  };
  for (const auto& argv : cases) {
    Fixture f;
    v1::Event event = base_event(1, v1::EVENT_KIND_EXEC);
    event.mutable_process()->clear_argv();
    for (const std::string& arg : argv) event.mutable_process()->add_argv(arg);
    f.add(event, "run-1");
    const std::string text = f.only_row().at("json_cmdline");
    INFO(text);
    CHECK(text == nlohmann::json(argv).dump());  // the compact text nlohmann::json writes
    CHECK(nlohmann::json::parse(text).get<std::vector<std::string>>() == argv);
  }
}

TEST_CASE("a failed exec row", "[bridge][process_table]") {
  Fixture f;
  v1::Event event = base_event(1, v1::EVENT_KIND_EXEC_FAILED);
  auto* failed = event.mutable_exec_failed();
  failed->set_path("./missing");
  failed->set_path_truncated(true);
  failed->set_errno_value(2);
  failed->set_error("ENOENT");
  failed->set_syscall("execveat");
  f.add(event, "run");
  const Row row = f.only_row();
  CHECK(row.at("event") == "exec_failed");
  CHECK(row.at("syscall") == "execveat");
  CHECK(row.at("path") == "./missing");
  CHECK(row.at("exe") == "/usr/bin/printf");
  CHECK(row.at("exit_code") == "-2");
  CHECK(row.at("errno") == "2");
  CHECK(row.at("error") == "ENOENT");
  CHECK(row.at("probe_error") == "1");
  CHECK(row.count("mode") == 0);
}

TEST_CASE("fork and exit rows", "[bridge][process_table]") {
  Fixture f;
  v1::Event fork = base_event(1, v1::EVENT_KIND_FORK);
  fork.mutable_fork()->set_child_pid(4000002);
  fork.mutable_fork()->set_child_tid(4000002);
  v1::Event exited = base_event(2, v1::EVENT_KIND_EXIT);
  exited.mutable_exit()->set_exit_code(3);
  exited.mutable_exit()->set_duration_ns(5000);
  v1::Event killed = base_event(3, v1::EVENT_KIND_EXIT);
  killed.mutable_exit()->set_signal(9);
  killed.mutable_exit()->set_core_dumped(true);
  for (const auto* event : {&fork, &exited, &killed}) f.add(*event, "run");
  const Rows rows = f.table.generate(QueryContext{});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].at("event") == "fork");
  CHECK(rows[0].at("syscall") == "fork");
  CHECK(rows[0].at("child_pid") == "4000002");
  CHECK(rows[0].at("thread") == "0");
  CHECK(rows[0].count("exit_code") == 0);
  CHECK(rows[1].at("syscall") == "exit");
  CHECK(rows[1].at("exit_code") == "3");
  CHECK(rows[1].at("signal") == "0");
  CHECK(rows[1].at("duration") == "5000");
  CHECK(rows[2].count("exit_code") == 0);  // ended by a signal: no exit status
  CHECK(rows[2].at("signal") == "9");
  CHECK(rows[2].at("core_dumped") == "1");
}

TEST_CASE("only the columns a query reads are built", "[bridge][process_table]") {
  Fixture f;
  f.add(base_event(1, v1::EVENT_KIND_EXEC), "run");
  QueryContext context;
  context.columns_used = std::set<std::string>{"pid", "cmdline"};
  const Rows rows = f.table.generate(context);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == Row{{"cmdline", "printf 'two words'  it's"}, {"pid", "4000000"}});
}

TEST_CASE("time and seq constraints reach the store", "[bridge][process_table]") {
  Fixture f;
  for (uint64_t seq = 1; seq <= 3; ++seq) f.add(base_event(seq, v1::EVENT_KIND_EXEC), "run");
  CHECK(f.table.generate(parse_context(R"({"constraints":[{"name":"seq","list":[{"op":32,"expr":"2"}]}]})")).size() == 2);
  CHECK(f.table.generate(parse_context(R"({"constraints":[{"name":"time","list":[{"op":4,"expr":"1700000123"}]}]})"))
            .empty());
  CHECK(f.table.generate(parse_context(R"({"constraints":[{"name":"time","list":[{"op":2,"expr":"1700000123"}]}]})"))
            .size() == 3);
}

TEST_CASE("rows are built when a query first reads them, each once", "[bridge][process_table]") {
  RestoreGate gate;
  gate.open();
  const EventFamily family = process_family();
  EventTable table{family, "bpf_process_events", StoreLimits{1u << 30, 3}, gate, [] { return kTimeNs / 1000000000ull; }};
  const auto run = std::make_shared<const std::string>("run");
  for (uint64_t seq = 1; seq <= 5; ++seq) table.add(streamed_event_of(base_event(seq, v1::EVENT_KIND_EXEC)), run);
  TableCounters counters = table.counters();
  CHECK(counters.store.rows == 3);
  CHECK(counters.store.evicted_max_rows == 2);  // pushed out unread: never built
  CHECK(counters.rows_built == 0);
  const uint64_t held_unread = counters.bytes;
  CHECK(held_unread >= 3 * streamed_event_of(base_event(1, v1::EVENT_KIND_EXEC)).bytes.size());  // process pooled

  QueryContext seq_only;
  seq_only.columns_used = std::set<std::string>{"seq"};
  const Rows first = table.generate(seq_only);
  CHECK(first == Rows{{{"seq", "3"}}, {{"seq", "4"}}, {{"seq", "5"}}});
  counters = table.counters();
  CHECK(counters.rows_built == 3);
  CHECK(counters.bytes != held_unread);  // the rows now, not the events' bytes

  // Another query, reading other columns, uses the rows built: every column was built.
  const Rows again = table.generate(QueryContext{});
  REQUIRE(again.size() == 3);
  CHECK(again[0].at("path") == "/usr/bin/printf");
  CHECK(again[2].at("daemon_instance") == "run");
  CHECK(table.counters().rows_built == 3);

  // An event arriving after the query is built by the next one.
  table.add(streamed_event_of(base_event(6, v1::EVENT_KIND_EXEC)), run);
  CHECK(table.generate(seq_only).back() == Row{{"seq", "6"}});
  CHECK(table.counters().rows_built == 4);
}

TEST_CASE("an event whose nested fields do not parse is counted, and has no row", "[bridge][process_table]") {
  Fixture f;
  f.add(base_event(1, v1::EVENT_KIND_EXEC), "run");
  // A well-formed top level (seq, time, kind) whose process field holds a truncated varint.
  std::string bytes = base_event(2, v1::EVENT_KIND_EXEC).SerializePartialAsString();
  bytes += std::string("\x2a\x01\x80", 3);  // field 5 (process), length 1: 0x80 starts a varint it never ends
  StreamedEvent streamed;
  REQUIRE(read_streamed_event(bytes, streamed));
  CHECK(streamed.seq == 2);
  f.table.add(std::move(streamed), std::make_shared<const std::string>("run"));
  f.add(base_event(3, v1::EVENT_KIND_EXEC), "run");

  const Rows rows = f.table.generate(QueryContext{});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("seq") == "1");
  CHECK(rows[1].at("seq") == "3");
  const TableCounters counters = f.table.counters();
  CHECK(counters.unreadable == 1);
  CHECK(counters.rows_built == 2);
}

TEST_CASE("the events of one process hold one copy of its process field until their rows are built",
          "[bridge][process_table]") {
  Fixture f;
  v1::Event event = base_event(1, v1::EVENT_KIND_EXEC);
  event.mutable_process()->add_argv(std::string(2000, 'a'));  // most of the event
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    event.set_seq(seq);
    f.add(event, "run");
  }
  // 100 events of over 2 KB each, held in one copy of the process and 100 of the rest.
  CHECK(event.ByteSizeLong() > 2000);
  const uint64_t held = f.table.counters().bytes;
  CHECK(held > 2000);
  CHECK(held < 2500 + 100 * 200);

  // An event of another process in between does not end the sharing.
  v1::Event other = base_event(101, v1::EVENT_KIND_EXEC);
  other.mutable_process()->set_pid(77);
  f.add(other, "run");
  event.set_seq(102);
  f.add(event, "run");
  CHECK(f.table.counters().bytes < held + 2 * 1000);
  const Rows rows = f.table.generate(QueryContext{});
  REQUIRE(rows.size() == 102);
  CHECK(rows[99].at("seq") == "100");
  CHECK(rows[99].at("cmdline").size() > 2000);
  CHECK(rows[100].at("pid") == "77");
  CHECK(rows[101].at("cmdline") == rows[99].at("cmdline"));
}
