// Decoder against hand-built records: every section, every flag, and every malformed shape.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "decode.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

vj_task sample_task() {
  vj_task t{};
  t.ktime_ns = 5'000'000'000;
  t.start_boottime_ns = 4'000'000'000;
  t.cgroup_id = 77;
  t.pid = 100;
  t.tid = 101;
  t.ppid = 1;
  t.ns_pid = 7;
  t.uid = 1000;
  t.euid = 0;
  t.gid = 1001;
  t.egid = 2;
  t.auid = 1000;
  t.session_id = 3;
  t.ns = {11, 12, 13, 14, 15, 16, 17};
  std::strcpy(t.comm, "true");
  return t;
}

std::string nul_joined(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    out += p;
    out += '\0';
  }
  return out;
}

std::vector<uint8_t> exec_record(const std::string& exe, const std::string& cwd, const std::string& cgroup,
                                 const std::string& argv, const std::string& env, uint16_t flags = 0) {
  vj_exec_record r{};
  r.hdr.kind = VJ_REC_EXEC;
  r.hdr.flags = flags;
  r.task = sample_task();
  r.exe_ino = 42;
  r.exe_size = 1234;
  r.exe_mtime_ns = 99;
  r.exe_dev = (8u << 20) | 1;
  r.exe_mode = 0100755;
  std::strcpy(r.tty, "pts0");
  r.exe_len = exe.size();
  r.cwd_len = cwd.size();
  r.cgroup_len = cgroup.size();
  r.argv_len = argv.size();
  r.env_len = env.size();
  r.argv_total = argv.size();
  std::string data = exe + cwd + cgroup + argv + env;
  r.hdr.size = sizeof(r) + data.size();
  std::vector<uint8_t> bytes(sizeof(r) + data.size());
  std::memcpy(bytes.data(), &r, sizeof(r));
  std::memcpy(bytes.data() + sizeof(r), data.data(), data.size());
  return bytes;
}

}  // namespace

TEST_CASE("path components are reversed into an absolute path") {
  CHECK(join_path_components(nul_joined({"true", "bin", "usr"})) == "/usr/bin/true");
  CHECK(join_path_components("") == "/");
  CHECK(join_path_components(nul_joined({"etc"})) == "/etc");
  CHECK(join_path_components(std::string("a\xff", 2) + std::string(1, '\0')) == "/a\\xff");
}

TEST_CASE("path components: empty components are skipped, non-ASCII is sanitized, as before") {
  CHECK(join_path_components(std::string("\0\0", 2)) == "/");
  CHECK(join_path_components(std::string("b\0\0a", 4)) == "/a/b");  // unterminated last component
  CHECK(join_path_components(std::string("f\xc3\xa9\0d\xff\0", 7)) == "/d\\xff/f\xc3\xa9");
  std::string deep;
  std::string expected;
  for (int i = 0; i < 64; ++i) {
    deep += "dir" + std::to_string(i) + std::string(1, '\0');
    expected = "/dir" + std::to_string(i) + expected;
  }
  CHECK(join_path_components(deep) == expected);
}

TEST_CASE("errno names are symbolic") {
  CHECK(errno_name(2) == "ENOENT");
  CHECK(errno_name(13) == "EACCES");
  CHECK(errno_name(100000) == "100000");
}

TEST_CASE("an exec record decodes every field") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  auto bytes = exec_record(nul_joined({"true", "bin", "usr"}), nul_joined({"tmp"}),
                           nul_joined({"docker-abc.scope", "system.slice"}), nul_joined({"/bin/true", "a b", ""}),
                           nul_joined({"HOME=/root", "LD_PRELOAD=/x.so", "LD_AUDIT="}));
  DecodedEvent out;
  std::string error;
  REQUIRE(decoder.decode(bytes.data(), bytes.size(), out, error));
  const auto& e = out.event;
  CHECK(e.kind() == v1::EVENT_KIND_EXEC);
  CHECK(e.ktime_ns() == 5'000'000'000);
  CHECK(e.time_ns() == clock.to_wall_ns(5'000'000'000));
  const auto& p = e.process();
  CHECK(p.pid() == 100);
  CHECK(p.tid() == 101);
  CHECK(p.ppid() == 1);
  CHECK(p.ns_pid() == 7);
  CHECK(p.uid() == 1000);
  CHECK(p.euid() == 0);
  CHECK(p.gid() == 1001);
  CHECK(p.egid() == 2);
  CHECK(p.auid() == 1000);
  CHECK(p.session_id() == 3);
  CHECK(p.comm() == "true");
  CHECK(p.tty() == "pts0");
  CHECK(p.exe() == "/usr/bin/true");
  CHECK(p.cwd() == "/tmp");
  CHECK(p.cgroup_path() == "/system.slice/docker-abc.scope");
  CHECK(p.cgroup_id() == 77);
  REQUIRE(p.argv_size() == 3);
  CHECK(p.argv(0) == "/bin/true");
  CHECK(p.argv(1) == "a b");
  CHECK(p.argv(2) == "");
  CHECK_FALSE(p.argv_truncated());
  CHECK(p.env().size() == 2);
  CHECK(p.env().at("LD_PRELOAD") == "/x.so");
  CHECK(p.env().at("LD_AUDIT") == "");
  CHECK(p.namespaces().pid() == 11);
  CHECK(p.namespaces().cgroup() == 17);
  CHECK(p.start_time_ns() == clock.to_wall_ns(4'000'000'000));
  CHECK(e.exec().exe_inode() == 42);
  CHECK(e.exec().exe_size() == 1234);
  CHECK(e.exec().exe_mode() == 0100755);
  CHECK(out.has_exe_identity);
  CHECK(out.exe_identity == FileIdentity{(8u << 20) | 1, 42, 1234, 99});
  CHECK(out.start_boottime_ns == 4'000'000'000);
  CHECK(p.notes_size() == 0);
}

TEST_CASE("exec flags become truncation markers and notes") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  auto bytes = exec_record("", "", "", nul_joined({"x"}), "",
                           VJ_F_ARGV_TRUNCATED | VJ_F_ENV_TRUNCATED | VJ_F_EXE_DELETED | VJ_F_CWD_TRUNCATED);
  DecodedEvent out;
  std::string error;
  REQUIRE(decoder.decode(bytes.data(), bytes.size(), out, error));
  CHECK(out.event.process().argv_truncated());
  CHECK(out.event.process().env_truncated());
  CHECK_FALSE(out.has_exe_identity);
  CHECK(out.event.process().notes_size() == 2);
}

TEST_CASE("the argument count cap truncates and says so") {
  ProcessConfig config;
  config.argv_max_args = 2;
  BootClock clock;
  Decoder decoder(config, clock);
  auto bytes = exec_record("", "", "", nul_joined({"a", "b", "c"}), "");
  DecodedEvent out;
  std::string error;
  REQUIRE(decoder.decode(bytes.data(), bytes.size(), out, error));
  CHECK(out.event.process().argv_size() == 2);
  CHECK(out.event.process().argv_truncated());
}

TEST_CASE("malformed records are refused with a reason") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  DecodedEvent out;
  std::string error;

  SECTION("shorter than a header") {
    uint8_t tiny[3] = {};
    CHECK_FALSE(decoder.decode(tiny, sizeof(tiny), out, error));
    CHECK_THAT(error, Catch::Contains("shorter than its header"));
  }
  SECTION("unknown kind") {
    vj_record_header hdr{999, 0, sizeof(vj_record_header)};
    CHECK_FALSE(decoder.decode(&hdr, sizeof(hdr), out, error));
    CHECK_THAT(error, Catch::Contains("unknown record kind 999"));
  }
  SECTION("header size larger than the ring record") {
    auto bytes = exec_record("", "", "", "", "");
    CHECK_FALSE(decoder.decode(bytes.data(), bytes.size() - 1, out, error));
    CHECK_THAT(error, Catch::Contains("claims"));
  }
  SECTION("sections past the end") {
    auto bytes = exec_record("", "", "", nul_joined({"abc"}), "");
    vj_exec_record r;
    std::memcpy(&r, bytes.data(), sizeof(r));
    r.argv_len = 1000;
    std::memcpy(bytes.data(), &r, sizeof(r));
    CHECK_FALSE(decoder.decode(bytes.data(), bytes.size(), out, error));
    CHECK_THAT(error, Catch::Contains("past its end"));
  }
  SECTION("truncated fixed part of each kind") {
    for (uint16_t kind : {VJ_REC_EXEC, VJ_REC_EXEC_FAILED, VJ_REC_FORK, VJ_REC_EXIT}) {
      vj_record_header hdr{kind, 0, sizeof(vj_record_header)};
      CHECK_FALSE(decoder.decode(&hdr, sizeof(hdr), out, error));
      CHECK_THAT(error, Catch::Contains("shorter than its fixed part"));
    }
  }
}

TEST_CASE("exit status is split into code, signal and core dump") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  auto decode_exit = [&](uint32_t raw) {
    vj_exit_record r{};
    r.hdr = {VJ_REC_EXIT, 0, sizeof(r)};
    r.task = sample_task();
    r.exit_code = raw;
    DecodedEvent out;
    std::string error;
    REQUIRE(decoder.decode(&r, sizeof(r), out, error));
    return out.event.exit();
  };
  auto normal = decode_exit(3 << 8);
  CHECK(normal.exit_code() == 3);
  CHECK(normal.signal() == 0);
  CHECK(normal.duration_ns() == 1'000'000'000);
  auto killed = decode_exit(9);
  CHECK(killed.signal() == 9);
  CHECK(killed.exit_code() == 0);
  CHECK_FALSE(killed.core_dumped());
  auto dumped = decode_exit(0x80 | 11);
  CHECK(dumped.signal() == 11);
  CHECK(dumped.core_dumped());
}

TEST_CASE("fork and failed exec records decode") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  DecodedEvent out;
  std::string error;

  vj_fork_record fork{};
  fork.hdr = {VJ_REC_FORK, VJ_F_THREAD, sizeof(fork)};
  fork.task = sample_task();
  fork.child_pid = 100;
  fork.child_tid = 555;
  fork.child_start_boottime_ns = 6'000'000'000;
  REQUIRE(decoder.decode(&fork, sizeof(fork), out, error));
  CHECK(out.event.kind() == v1::EVENT_KIND_FORK);
  CHECK(out.event.fork().child_pid() == 100);
  CHECK(out.event.fork().child_tid() == 555);
  CHECK(out.event.fork().thread());
  CHECK(out.child_start_boottime_ns == 6'000'000'000);

  const std::string path = std::string("./missing") + '\0';
  std::vector<uint8_t> bytes(sizeof(vj_exec_failed_record) + path.size());
  vj_exec_failed_record failed{};
  failed.hdr = {VJ_REC_EXEC_FAILED, 0, static_cast<uint32_t>(bytes.size())};
  failed.task = sample_task();
  failed.error = 2;
  failed.dirfd = -100;
  failed.path_len = path.size();
  std::memcpy(bytes.data(), &failed, sizeof(failed));
  std::memcpy(bytes.data() + sizeof(failed), path.data(), path.size());
  DecodedEvent out2;
  REQUIRE(decoder.decode(bytes.data(), bytes.size(), out2, error));
  CHECK(out2.event.exec_failed().path() == "./missing");
  CHECK(out2.event.exec_failed().error() == "ENOENT");
  CHECK(out2.event.exec_failed().errno_value() == 2);
  CHECK(out2.event.exec_failed().syscall() == "execve");
  CHECK(out2.event.exec_failed().dirfd() == -100);
}
