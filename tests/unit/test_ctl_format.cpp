// vajractl's output: one text line per event kind, kind names, JSON and the status report.
#include <catch2/catch.hpp>

#include <string>

#include "ctl_format.h"

using namespace vajra;

namespace {

constexpr uint64_t kTime = 1714566896789000000ull;  // 2024-05-01T12:34:56.789Z
const std::string kTimeText = "2024-05-01T12:34:56.789Z";

v1::Event event_of(v1::EventKind kind) {
  v1::Event event;
  event.set_seq(7);
  event.set_time_ns(kTime);
  event.set_kind(kind);
  v1::Process* process = event.mutable_process();
  process->set_pid(1234);
  process->set_ppid(1);
  process->set_uid(1000);
  process->set_exe("/usr/bin/ls");
  process->add_argv("ls");
  process->add_argv("-l");
  process->add_argv("my dir");
  return event;
}

std::string text_of(const v1::Event& event) {
  std::string line;
  ctl::append_event_text(event, line);
  return line;
}

}  // namespace

TEST_CASE("time is ISO-8601 UTC with milliseconds") {
  CHECK(ctl::format_time(kTime) == kTimeText);
  CHECK(ctl::format_time(0) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("exec line") {
  v1::Event event = event_of(v1::EVENT_KIND_EXEC);
  event.mutable_exec();
  CHECK(text_of(event) == kTimeText +
                              " exec pid=1234 ppid=1 uid=1000 exe=/usr/bin/ls cmdline=\"ls -l 'my dir'\"");

  event.mutable_process()->set_argv_truncated(true);
  CHECK(text_of(event) == kTimeText + " exec pid=1234 ppid=1 uid=1000 exe=/usr/bin/ls "
                                      "cmdline=\"ls -l 'my dir'\" argv_truncated");
}

TEST_CASE("exec_failed line names the error and the path tried") {
  v1::Event event = event_of(v1::EVENT_KIND_EXEC_FAILED);
  event.mutable_process()->set_exe("/bin/bash");
  event.mutable_process()->clear_argv();
  event.mutable_process()->add_argv("bash");
  v1::ExecFailedEvent* failure = event.mutable_exec_failed();
  failure->set_path("./no such");
  failure->set_errno_value(-2);
  failure->set_error("ENOENT");
  CHECK(text_of(event) == kTimeText +
                              " exec_failed pid=1234 ppid=1 uid=1000 exe=/bin/bash error=ENOENT "
                              "path=\"./no such\" cmdline=bash");

  SECTION("the errno names the error when the daemon did not") {
    failure->clear_error();
    failure->set_errno_value(-13);
    CHECK(text_of(event).find(" error=EACCES ") != std::string::npos);
  }
}

TEST_CASE("fork line gives the child") {
  v1::Event event = event_of(v1::EVENT_KIND_FORK);
  event.mutable_fork()->set_child_pid(1300);
  CHECK(text_of(event) == kTimeText + " fork pid=1234 ppid=1 uid=1000 exe=/usr/bin/ls child_pid=1300 "
                                      "cmdline=\"ls -l 'my dir'\"");

  event.mutable_fork()->set_thread(true);
  event.mutable_fork()->set_child_tid(1301);
  CHECK(text_of(event).find(" child_pid=1300 child_tid=1301 thread ") != std::string::npos);
}

TEST_CASE("exit line gives the code, or the signal") {
  v1::Event event = event_of(v1::EVENT_KIND_EXIT);
  event.mutable_exit()->set_exit_code(3);
  CHECK(text_of(event) ==
        kTimeText + " exit pid=1234 ppid=1 uid=1000 exe=/usr/bin/ls exit_code=3 cmdline=\"ls -l 'my dir'\"");

  event.mutable_exit()->set_signal(11);
  event.mutable_exit()->set_core_dumped(true);
  CHECK(text_of(event) == kTimeText + " exit pid=1234 ppid=1 uid=1000 exe=/usr/bin/ls signal=SIGSEGV "
                                      "core_dumped cmdline=\"ls -l 'my dir'\"");
}

TEST_CASE("loss line gives count, place and kind") {
  v1::Event event;
  event.set_time_ns(kTime);
  event.set_kind(v1::EVENT_KIND_LOSS);
  event.mutable_loss()->set_place(v1::LOSS_PLACE_SUBSCRIBER);
  event.mutable_loss()->set_count(42);
  CHECK(text_of(event) == kTimeText + " loss count=42 place=subscriber");

  event.mutable_loss()->set_place(v1::LOSS_PLACE_KERNEL_RING);
  event.mutable_loss()->set_kind(v1::EVENT_KIND_EXEC);
  CHECK(text_of(event) == kTimeText + " loss count=42 place=kernel_ring kind=exec");
}

TEST_CASE("a process in a container shows runtime and short id") {
  v1::Event event = event_of(v1::EVENT_KIND_EXEC);
  event.mutable_exec();
  v1::Container* container = event.mutable_process()->mutable_container();
  container->set_runtime(v1::CONTAINER_RUNTIME_CONTAINERD);
  container->set_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  CHECK(text_of(event).find(" container=containerd:0123456789ab cmdline=") != std::string::npos);
}

TEST_CASE("strings from the traced process cannot break the line or drive the terminal") {
  v1::Event event = event_of(v1::EVENT_KIND_EXEC);
  event.mutable_exec();
  event.mutable_process()->set_exe("/tmp/a\nb");
  event.mutable_process()->clear_argv();
  event.mutable_process()->add_argv("x\x1b[2J\"\\");
  event.mutable_process()->add_argv("\xc2\x9b" "1m");  // C1 CSI
  const std::string line = text_of(event);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line.find("\xc2\x9b") == std::string::npos);
  CHECK(line.find(" exe=\"/tmp/a\\nb\"") != std::string::npos);
  CHECK(line.find(" cmdline=\"x\\x1b[2J\\\"\\\\ \\u009b1m\"") != std::string::npos);
}

TEST_CASE("kind names come from the proto, groups from the table") {
  CHECK(ctl::kind_name(v1::EVENT_KIND_EXEC_FAILED) == "exec_failed");
  CHECK(ctl::kind_name(v1::EVENT_KIND_LOSS) == "loss");
  CHECK(ctl::kind_name(static_cast<v1::EventKind>(99)) == "99");

  CHECK(ctl::kinds_named("fork") == std::vector<v1::EventKind>{v1::EVENT_KIND_FORK});
  CHECK(ctl::kinds_named("process") ==
        std::vector<v1::EventKind>{v1::EVENT_KIND_EXEC, v1::EVENT_KIND_EXEC_FAILED,
                                   v1::EVENT_KIND_FORK, v1::EVENT_KIND_EXIT});
  CHECK(ctl::kinds_named("loss").empty());  // always delivered, never selected
  CHECK(ctl::kinds_named("unspecified").empty());
  CHECK(ctl::kinds_named("EXEC").empty());
  CHECK(ctl::kinds_named("net") == std::vector<v1::EventKind>{v1::EVENT_KIND_SOCKET, v1::EVENT_KIND_DNS});
  CHECK(ctl::kinds_named("dns") == std::vector<v1::EventKind>{v1::EVENT_KIND_DNS});
  CHECK(ctl::kind_names() == std::vector<std::string>{"exec", "exec_failed", "fork", "exit", "file", "socket",
                                                      "dns", "process", "net"});
}

TEST_CASE("JSON is one line with proto field names and zero fields printed") {
  v1::Event event = event_of(v1::EVENT_KIND_EXIT);
  event.mutable_exit()->set_exit_code(0);
  const std::string json = ctl::to_json(event);
  CHECK(json.find('\n') == std::string::npos);
  CHECK(json.find("\"time_ns\":\"1714566896789000000\"") != std::string::npos);
  CHECK(json.find("\"kind\":\"EVENT_KIND_EXIT\"") != std::string::npos);
  CHECK(json.find("\"exit\":{\"thread\":false,\"exit_code\":0,") != std::string::npos);
  CHECK(json.find("\"argv\":[\"ls\",\"-l\",\"my dir\"]") != std::string::npos);
}

TEST_CASE("status report shows each section") {
  v1::StatusResponse status;
  status.set_version("0.1.0");
  status.set_started_ns(kTime);
  status.set_kernel_release("6.18.0");
  status.set_cpu_policy("batch");
  status.set_next_seq(501);
  v1::ProbeStatus* probe = status.add_probes();
  probe->set_family("process");
  probe->set_name("exec_failed");
  probe->set_state(v1::PROBE_STATE_FAILED);
  probe->set_attach("tp/syscalls/sys_exit_execve");
  probe->set_error("permission denied");
  v1::KernelFeature* feature = status.add_features();
  feature->set_name("ringbuf");
  feature->set_available(true);
  for (v1::EventKind kind : {v1::EVENT_KIND_EXEC, v1::EVENT_KIND_EXIT}) {
    v1::KindCounters* counters = status.add_kinds();
    counters->set_kind(kind);
    counters->set_received(100);
    counters->set_published(90);
    counters->set_kernel_drops(4);
  }
  status.set_pipeline_drops(6);
  status.set_replay_retained(40);
  status.set_replay_capacity(8192);
  status.set_replay_bytes(2048);
  status.set_pipeline_queue_depth(7);
  status.set_pipeline_queue_bytes(3072);
  status.set_ring_drains(1234);
  status.set_subscriber_drops(10);
  status.mutable_process_cache()->set_size(300);
  status.mutable_process_cache()->set_capacity(32768);
  status.set_refused_connections(2);
  v1::SubscriberStatus* subscriber = status.add_subscribers();
  subscriber->set_id(3);
  subscriber->set_peer_uid(1000);
  subscriber->set_peer_pid(777);
  subscriber->set_connected_ns(kTime);
  subscriber->set_queue_capacity(16384);
  subscriber->set_queue_bytes(3072);
  subscriber->set_queue_bytes_capacity(16u << 20);
  subscriber->mutable_filter()->add_kinds(v1::EVENT_KIND_EXEC);
  subscriber->mutable_filter()->add_pids(9);

  const uint64_t now = kTime + 3723ull * 1000000000ull;  // 1h02m03s later
  const std::string text = ctl::format_status_text(status, now);
  CHECK(text.find("vajrad 0.1.0\n") == 0);
  CHECK(text.find("started      " + kTimeText + " (up 1h02m03s)\n") != std::string::npos);
  CHECK(text.find("config       built-in defaults\n") != std::string::npos);
  CHECK(text.find("next seq     501\n") != std::string::npos);
  CHECK(text.find("  cpu policy   batch\n") != std::string::npos);
  CHECK(text.find("  replay       40 of 8192 events retained for resuming subscribers (2 KiB)\n") != std::string::npos);
  CHECK(text.find("  pipeline     7 events waiting for fan-out (3 KiB)\n") != std::string::npos);
  CHECK(text.find("  ring drains  1234\n") != std::string::npos);
  CHECK(text.find("  ringbuf                      yes") != std::string::npos);
  CHECK(text.find("  process/exec_failed          failed    tp/syscalls/sys_exit_execve  error: "
                  "permission denied\n") != std::string::npos);
  CHECK(text.find("  exit                  100           90            4             0\n") !=
        std::string::npos);
  CHECK(text.find("  kernel ring             8\n") != std::string::npos);  // summed over kinds
  CHECK(text.find("  pipeline                6\n") != std::string::npos);
  CHECK(text.find("  subscriber             10\n") != std::string::npos);
  CHECK(text.find("  process             300      32768") != std::string::npos);
  CHECK(text.find("1 connected, 2 connections refused\n") != std::string::npos);
  CHECK(text.find("  #3 uid 1000 pid 777, up 1h02m03s, delivered 0, dropped 0, queue 0/16384 events 3/16384 KiB, "
                  "filter: kinds=exec pids=9\n") != std::string::npos);

  // A subscriber that asked vajrad to hold its batches (the osquery bridge does).
  subscriber->clear_filter();
  subscriber->mutable_filter()->set_max_batch_delay_ms(250);
  CHECK(ctl::format_status_text(status, now).find("filter: everything, batches held up to 250 ms\n") != std::string::npos);
}
