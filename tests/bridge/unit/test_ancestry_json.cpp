#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tables/ancestry_json.h"

using vajra::bridge::AncestryJson;
namespace v1 = vajra::v1;

namespace {

v1::Ancestor* add(v1::Process& process, uint32_t pid, const std::string& exe, std::vector<std::string> argv,
                  uint64_t start_time_ns) {
  v1::Ancestor* ancestor = process.add_ancestry();
  ancestor->set_pid(pid);
  ancestor->set_exe(exe);
  for (const auto& arg : argv) ancestor->add_argv(arg);
  ancestor->set_start_time_ns(start_time_ns);
  return ancestor;
}

}  // namespace

TEST_CASE("ancestry JSON: nearest first, unknown fields left out, with cmdline and argv", "[bridge][ancestry]") {
  v1::Process process;
  add(process, 42, "/bin/sh", {"sh", "-c", "two words"}, 1'700'000'000'000'000'001ull);
  add(process, 1, "", {}, 0);  // known by pid only
  AncestryJson ancestry;
  const auto parsed = nlohmann::json::parse(ancestry.of(process));
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0] == nlohmann::json{{"pid", 42}, {"path", "/bin/sh"}, {"cmdline", "sh -c 'two words'"},
                                    {"argv", {"sh", "-c", "two words"}}, {"start_time_ns", 1'700'000'000'000'000'001ull}});
  CHECK(parsed[1] == nlohmann::json{{"pid", 1}});
  CHECK(ancestry.of(v1::Process{}) == "[]");
}

TEST_CASE("ancestry JSON: an ancestor whose argv vajrad cut says so", "[bridge][ancestry]") {
  v1::Process process;
  add(process, 42, "/usr/bin/java", {"java", "-cp", "a.jar"}, 7)->set_argv_truncated(true);
  AncestryJson ancestry;
  auto parsed = nlohmann::json::parse(ancestry.of(process));
  CHECK(parsed[0]["argv_truncated"] == 1);
  CHECK(parsed[0]["argv"] == nlohmann::json{"java", "-cp", "a.jar"});
  // The same ancestor sent whole is another text, not the remembered one.
  process.mutable_ancestry(0)->set_argv_truncated(false);
  parsed = nlohmann::json::parse(ancestry.of(process));
  CHECK_FALSE(parsed[0].contains("argv_truncated"));
  // Beyond vajrad's argv depth the ancestor has no argv at all: no cmdline, flagged.
  process.mutable_ancestry(0)->clear_argv();
  process.mutable_ancestry(0)->set_argv_truncated(true);
  parsed = nlohmann::json::parse(ancestry.of(process));
  CHECK(parsed[0] == nlohmann::json{{"pid", 42}, {"path", "/usr/bin/java"}, {"argv_truncated", 1}, {"start_time_ns", 7}});
  // Taking turns between the forms, each gets its own text.
  process.mutable_ancestry(0)->add_argv("java");
  CHECK(nlohmann::json::parse(ancestry.of(process))[0]["argv"] == nlohmann::json{"java"});
  process.mutable_ancestry(0)->clear_argv();
  CHECK(nlohmann::json::parse(ancestry.of(process)) == nlohmann::json::array({parsed[0]}));
}

TEST_CASE("ancestry JSON: a remembered ancestor is written anew when it changed", "[bridge][ancestry]") {
  AncestryJson ancestry(2);
  v1::Process first;
  add(first, 100, "/usr/bin/python3", {"python3", "a.py"}, 5000);
  add(first, 1, "/sbin/init", {"init"}, 10);
  const std::string first_text = ancestry.of(first);
  CHECK(ancestry.of(first) == first_text);  // from memory, the same text

  // The same pid and start time after an exec: new exe and argv, not the remembered text.
  v1::Process after_exec;
  add(after_exec, 100, "/usr/bin/env", {"env", "b"}, 5000);
  add(after_exec, 1, "/sbin/init", {"init"}, 10);
  auto parsed = nlohmann::json::parse(ancestry.of(after_exec));
  CHECK(parsed[0]["path"] == "/usr/bin/env");
  CHECK(parsed[0]["argv"] == nlohmann::json{"env", "b"});
  CHECK(parsed[1]["path"] == "/sbin/init");

  // Only argv changed (same exe).
  after_exec.mutable_ancestry(0)->set_argv(1, "c");
  parsed = nlohmann::json::parse(ancestry.of(after_exec));
  CHECK(parsed[0]["argv"] == nlohmann::json{"env", "c"});

  // A reused pid with another start time is another process.
  v1::Process reused;
  add(reused, 100, "/usr/bin/env", {"env", "c"}, 6000);
  CHECK(nlohmann::json::parse(ancestry.of(reused))[0]["start_time_ns"] == 6000);

  // Past the capacity of 2 the memory is dropped, and the text is still right.
  CHECK(ancestry.of(first) == first_text);
}

TEST_CASE("ancestry JSON: text larger than the byte bound is still written whole", "[bridge][ancestry]") {
  AncestryJson ancestry(4096, 1024);
  v1::Process process;
  add(process, 7, "/bin/sh", {"sh", std::string(4000, 'x')}, 70);
  add(process, 1, "/sbin/init", {"init"}, 10);
  for (int round = 0; round < 3; ++round) {
    const auto parsed = nlohmann::json::parse(ancestry.of(process));
    REQUIRE(parsed.size() == 2);
    CHECK(parsed[0]["argv"][1].get<std::string>().size() == 4000);
    CHECK(parsed[1]["path"] == "/sbin/init");
  }
}
