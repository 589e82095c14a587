// What the file tests share (declared at the end of harness.h): the helper's step report, watch
// configs and reloads, and the field-by-field check of a FileEvent.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

namespace vt {

using namespace vajra::v1;

namespace {

bool parse_step(const std::string& line, FileStep& step) {
  if (line.rfind("step=", 0) != 0) return false;
  std::istringstream words(line);
  for (std::string word; words >> word;) {
    const size_t eq = word.find('=');
    const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "op") step.op = value;
    if (key == "ret") step.ret = std::stoll(value);
    if (key == "errno") step.err = std::stoi(value);
    if (key == "getfl") step.getfl = std::stoll(value);
  }
  return true;
}

std::vector<std::string> helper_argv(const std::vector<std::string>& steps) {
  std::vector<std::string> argv{helper_path(), "file"};
  argv.insert(argv.end(), steps.begin(), steps.end());
  return argv;
}

std::string describe_steps(const std::vector<FileStep>& steps) {
  std::ostringstream out;
  for (const FileStep& s : steps) out << " " << s.op << "=" << s.ret << "(errno " << s.err << ")";
  return out.str();
}

}  // namespace

std::vector<FileStep> file_steps(const std::string& out) {
  std::vector<FileStep> steps;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    FileStep step;
    if (parse_step(line, step)) steps.push_back(step);
  }
  return steps;
}

FileHelper::FileHelper(const std::vector<std::string>& steps)
    : argv_(helper_argv(steps)), boot_before_(boot_ns()), child_(argv_) {}

const FileStep& FileHelper::step(size_t index) const {
  if (index >= steps_.size()) FAIL("helper printed " << steps_.size() << " steps, not " << index + 1);
  return steps_[index];
}

void FileHelper::until_wait() {
  for (;;) {
    const std::string line = child_.read_line();
    if (line == "waiting") return;
    FileStep step;
    if (parse_step(line, step)) {
      steps_.push_back(step);
    } else if (line.empty()) {
      FAIL("helper " << pid() << " ended before a wait step; steps:" << describe_steps(steps_));
    }
  }
}

void FileHelper::finish() {
  child_.close_stdin();  // wait steps still to come read EOF
  for (std::string line = child_.read_line(); !line.empty(); line = child_.read_line()) {
    FileStep step;
    if (parse_step(line, step)) steps_.push_back(step);
  }
  const int status = child_.wait();
  INFO("helper steps:" << describe_steps(steps_));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

namespace {

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

}  // namespace

std::string files_config(const std::vector<WatchCategory>& categories) {
  std::string out = "files:\n  categories:\n";
  for (const WatchCategory& c : categories) {
    out += "    " + c.name + ":\n      include: " + quoted_list(c.include) + "\n";
    if (!c.exclude.empty()) out += "      exclude: " + quoted_list(c.exclude) + "\n";
    if (!c.operations.empty()) {
      out += "      operations: [";
      for (size_t i = 0; i < c.operations.size(); ++i) out += (i ? ", " : "") + c.operations[i];
      out += "]\n";
    }
    if (!c.hashes.empty()) {
      out += "      hashes: [";
      for (size_t i = 0; i < c.hashes.size(); ++i) out += (i ? ", " : "") + c.hashes[i];
      out += "]\n";
    }
    if (c.hash_max_bytes >= 0) out += "      hash_max_bytes: " + std::to_string(c.hash_max_bytes) + "\n";
  }
  return out;
}

void reload_files(Daemon& daemon, const std::string& files_yaml) {
  YAML::Node config = YAML::LoadFile(daemon.config_path());
  config["files"] = YAML::Load(files_yaml)["files"];
  YAML::Emitter emitter;
  emitter << config;
  {
    std::ofstream out(daemon.config_path(), std::ios::trunc);
    out << emitter.c_str() << "\n";
  }
  REQUIRE(kill(daemon.pid(), SIGHUP) == 0);
}

std::vector<Event> wait_file_events(Daemon& daemon, EventStream& stream, const Predicate& predicate, size_t n,
                                    const std::string& what) {
  try {
    return stream.wait_count(predicate, n, what);
  } catch (...) {
    WARN("file counters when " << what << " was missed: " << to_json(daemon.status().files()));
    throw;
  }
}

Event wait_file_event(Daemon& daemon, EventStream& stream, const Predicate& predicate, const std::string& what) {
  return wait_file_events(daemon, stream, predicate, 1, what).front();
}

Predicate file_of(pid_t pid, FileOperation op, const std::string& path) {
  return [=](const Event& e) {
    return e.kind() == EVENT_KIND_FILE && e.process().pid() == static_cast<uint32_t>(pid) &&
           e.file().operation() == op && (path.empty() || e.file().path().path() == path);
  };
}

namespace {

void check_path(const char* which, const FilePath& got, const FilePathExpect& want) {
  INFO(which);
  CHECK(got.path() == want.path);
  CHECK(got.host_path() == want.host_path);
  CHECK(got.source() == want.source);
  CHECK(got.truncated() == want.truncated);
  CHECK(got.deleted() == want.deleted);
  CHECK(got.unresolved() == want.unresolved);
}

std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "regular";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISBLK(mode)) return "block";
  if (S_ISCHR(mode)) return "character";
  return "";
}

}  // namespace

void check_file(const Event& event, const FileExpect& x) {
  INFO("file event: " << to_json(event));
  REQUIRE(event.kind() == EVENT_KIND_FILE);
  REQUIRE(event.body_case() == Event::kFile);
  const FileEvent& f = event.file();
  CHECK(f.operation() == x.operation);
  CHECK(f.syscall() == x.syscall);
  CHECK(f.result() == x.result);
  CHECK(f.errno_value() == x.errno_value);
  CHECK(f.error() == x.error);
  check_path("path", f.path(), x.path);
  if (x.new_path) {
    check_path("new_path", f.new_path(), *x.new_path);
  } else {
    // Single-path operations: no second path (an empty one is tolerated here, see test_file_ops.cpp).
    CHECK(f.new_path().path() == "");
    CHECK(f.new_path().host_path() == "");
    CHECK(f.new_path().source() == PATH_SOURCE_UNSPECIFIED);
  }
  CHECK(f.symlink_target() == x.symlink_target);
  CHECK(std::vector<std::string>(f.categories().begin(), f.categories().end()) == x.categories);

  CHECK(f.attributes_source() == x.attributes_source);
  if (x.attributes_source.empty()) {
    CHECK(f.inode() == 0);
    CHECK(f.dev() == 0);
    CHECK(f.file_type() == "");
    CHECK(f.mode() == 0);
    CHECK(f.uid() == 0);
    CHECK(f.gid() == 0);
    CHECK(f.size() == 0);
  } else {
    struct stat st {};
    if (x.attributes) {
      st = *x.attributes;
    } else {
      const std::string of = !x.attributes_of.empty() ? x.attributes_of : x.new_path ? x.new_path->path : x.path.path;
      INFO("lstat " << of);
      REQUIRE(lstat(of.c_str(), &st) == 0);
    }
    CHECK(f.inode() == st.st_ino);
    CHECK(f.dev() == static_cast<uint32_t>(st.st_dev));
    CHECK(f.file_type() == type_of(st.st_mode));
    CHECK(f.mode() == (st.st_mode & 07777));
    CHECK(f.uid() == st.st_uid);
    CHECK(f.gid() == st.st_gid);
    CHECK(f.size() == (x.size ? *x.size : static_cast<uint64_t>(st.st_size)));
  }

  CHECK(f.open_flags() == x.open_flags);
  CHECK(f.open_flags_text() == x.open_flags_text);
  CHECK(f.requested_mode() == x.requested_mode);
  CHECK(f.has_requested_uid() == x.requested_uid.has_value());
  if (x.requested_uid) CHECK(f.requested_uid() == *x.requested_uid);
  CHECK(f.has_requested_gid() == x.requested_gid.has_value());
  if (x.requested_gid) CHECK(f.requested_gid() == *x.requested_gid);
  CHECK(f.at_flags() == x.at_flags);
  CHECK(f.exchange() == x.exchange);
  CHECK(f.xattr_name() == x.xattr_name);
  CHECK(f.fd() == x.fd);
  CHECK(f.bytes_written() == x.bytes_written);
  CHECK(f.writes() == x.writes);
  if (x.has_duration)
    CHECK(f.open_duration_ns() > 0);
  else
    CHECK(f.open_duration_ns() == 0);
  if (x.sha256) {
    REQUIRE(f.hashes_size() == 1);
    CHECK(f.hashes(0).algorithm() == "sha256");
    CHECK(f.hashes(0).hex() == *x.sha256);
  } else {
    CHECK(f.hashes_size() == 0);
  }
  CHECK(f.hash_error() == x.hash_error);
  CHECK(f.watched_as() == x.watched_as);
}

FileExpect file_expect(FileOperation op, const std::string& syscall, const std::string& path, PathSource source,
                       const std::string& attributes_source, const std::vector<std::string>& categories) {
  FileExpect x;
  x.operation = op;
  x.syscall = syscall;
  x.path.path = path;
  x.path.source = source;
  x.attributes_source = attributes_source;
  x.categories = categories;
  return x;
}

SubscribeRequest helper_subscription() {
  SubscribeRequest request;
  request.add_exe_prefixes(helper_path());
  return request;
}

void check_file_process(const std::vector<Event>& events, const FileHelper& helper) {
  for (const Event& e : events) check_helper_process(e, helper.pid(), helper.argv(), helper.boot_before());
}

std::map<FileOperation, uint64_t> kernel_filtered(Daemon& daemon) {
  std::map<FileOperation, uint64_t> counts;
  const StatusResponse status = daemon.status();
  for (const FileOperationCount& c : status.files().kernel_filtered()) counts[c.operation()] = c.count();
  return counts;
}

}  // namespace vt
