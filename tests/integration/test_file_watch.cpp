// Watch lists at work: what the in-kernel filter drops, open_read only where asked, reloads (SIGHUP),
// content hashes, and the Subscribe filters by category and path prefix.
#include <fcntl.h>
#include <signal.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

// Polls Status until `done` holds (a wait, bounded by vt::kWait); FAILs with the last Status if not.
FileStatus wait_status(vt::Daemon& daemon, const std::function<bool(const FileStatus&)>& done,
                       const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  for (;;) {
    const FileStatus files = daemon.status().files();
    if (done(files)) return files;
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("waited for " << what << "; files status: " << vt::to_json(files));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> names_of(const FileStatus& files) {
  std::vector<std::string> names;
  for (const auto& c : files.categories()) names.push_back(c.name());
  return names;
}

const FileCategoryStatus* category_status(const FileStatus& files, const std::string& name) {
  for (const auto& c : files.categories())
    if (c.name() == name) return &c;
  return nullptr;
}

std::string path_of(const Event& e) { return e.file().path().path(); }

// A temporary root with the directories a and b; category "a" watches a's tree.
struct DirsAB {
  vt::TempDir root{"vajra-fim"};
  const std::string a = root.file("a"), b = root.file("b");
  const vt::WatchCategory cat_a{"a", {a + "/**"}, {}, {}, {}};
  DirsAB() {
    std::filesystem::create_directory(a);
    std::filesystem::create_directory(b);
  }
};

// Waits for the mkdir(path, 0700) that `h` made, and checks it is seen in `category`.
void check_mkdir(vt::Daemon& daemon, vt::EventStream& stream, const vt::FileHelper& h, const std::string& path,
                 const std::string& category) {
  vt::FileExpect x = vt::file_expect(FILE_OPERATION_MKDIR, "mkdir", path, PATH_SOURCE_NAME, "lstat", {category});
  x.requested_mode = 0700;
  const Event mkdir =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR, path), "mkdir " + path);
  vt::check_file(mkdir, x);
}

}  // namespace

TEST_CASE("file watch: an unwatched sibling directory makes no event and the kernel filter counts the drops", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir root("vajra-fim");
  const std::string w = root.file("w"), u = root.file("u");
  std::filesystem::create_directory(w);
  std::filesystem::create_directory(u);
  const bool xattrs = setxattr(u.c_str(), "user.probe", "1", 1, 0) == 0;
  vt::Daemon daemon(vt::files_config({{"tree", {w + "/**"}, {}, {}, {}}}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const auto before = vt::kernel_filtered(daemon);

  std::vector<std::string> steps{"dir",      "U",         u,  //
                                 "openat",   "f",         "cwd",    u + "/a",    "O_WRONLY|O_CREAT",
                                 "0600",                                               // create
                                 "write",    "f",         "data",   "close",     "f",  // (modify: untracked)
                                 "openat",   "g",         "cwd",    u + "/a",    "O_WRONLY",
                                 "0",        "close",     "g",  // open_write
                                 "truncate", u + "/a",    "1",      "fchmodat",  "U",
                                 "a",        "0640",  //
                                 "fchownat", "U",         "a",      "0",         "0",
                                 "0",        "renameat2", "U",      "a",         "U",
                                 "b",        "0",         "linkat", "U",         "b",
                                 "U",        "c",         "0",      "symlinkat", "t",
                                 "U",        "s",  //
                                 "mkdirat",  "U",         "m",      "0700",      "unlinkat",
                                 "U",        "c",         "0"};
  if (xattrs) steps.insert(steps.end(), {"setxattr", u + "/b", "user.x", "v", "0", "removexattr", u + "/b", "user.x"});
  steps.insert(steps.end(), {"mkdir", w + "/marker", "0700"});
  vt::FileHelper h(steps);
  h.finish();
  for (const auto& step : h.steps()) CHECK(step.err == 0);
  vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR, w + "/marker"), "the marker mkdir");
  const auto files = stream.matching(vt::kind_is(EVENT_KIND_FILE));
  INFO(stream.summary());
  REQUIRE(files.size() == 1);  // the marker only

  auto after = vt::kernel_filtered(daemon);
  std::vector<FileOperation> dropped{FILE_OPERATION_CREATE, FILE_OPERATION_OPEN_WRITE, FILE_OPERATION_TRUNCATE,
                                     FILE_OPERATION_CHMOD,  FILE_OPERATION_CHOWN,      FILE_OPERATION_RENAME,
                                     FILE_OPERATION_LINK,   FILE_OPERATION_SYMLINK,    FILE_OPERATION_MKDIR,
                                     FILE_OPERATION_DELETE};
  if (xattrs) {
    dropped.push_back(FILE_OPERATION_SETXATTR);
    dropped.push_back(FILE_OPERATION_REMOVEXATTR);
  }
  for (FileOperation op : dropped) {
    INFO("kernel_filtered " << FileOperation_Name(op));
    CHECK(after[op] > before.at(op));  // other processes may add to it too
  }
  const FileStatus status = daemon.status().files();
  REQUIRE(category_status(status, "tree") != nullptr);
  CHECK(category_status(status, "tree")->matched() == 1);
}

TEST_CASE("file watch: open_read is reported only where a category asks for it", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("secret", "s3cret");
  w.write("plain", "text");
  vt::Daemon daemon(vt::files_config(
      {{"secrets", {w.file("secret")}, {}, {"open_read"}, {}}, {"tree", {w.path() + "/**"}, {}, {}, {}}}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const auto before = vt::kernel_filtered(daemon);

  vt::FileHelper h({"openat",   "f",
                    "cwd",      w.file("secret"),
                    "O_RDONLY", "0",
                    "read",     "f",
                    "close",    "f",  //
                    "openat",   "g",
                    "cwd",      w.file("plain"),
                    "O_RDONLY", "0",
                    "read",     "g",
                    "close",    "g",  //
                    "mkdir",    w.file("marker"),
                    "0700"});
  h.finish();
  const Event read =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_OPEN_READ, w.file("secret")), "read");
  vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR, w.file("marker")), "marker");
  vt::FileExpect x =
      vt::file_expect(FILE_OPERATION_OPEN_READ, "openat", w.file("secret"), PATH_SOURCE_DENTRY, "kernel", {"secrets"});
  x.result = x.fd = static_cast<int>(h.step(0).ret);
  x.open_flags = O_RDONLY;
  x.open_flags_text = "O_RDONLY";
  vt::check_file(read, x);
  vt::check_file_process({read}, h);
  INFO(stream.summary());
  CHECK(stream.count(vt::file_of(h.pid(), FILE_OPERATION_OPEN_READ)) == 1);  // not plain: "tree" has no open_read
  CHECK(vt::kernel_filtered(daemon)[FILE_OPERATION_OPEN_READ] > before.at(FILE_OPERATION_OPEN_READ));
}

TEST_CASE("file watch: a reload (SIGHUP) that adds a category makes the next change there seen", "[file]") {
  REQUIRE_KERNEL();
  const DirsAB dirs;
  const std::string &a = dirs.a, &b = dirs.b;
  const vt::WatchCategory& cat_a = dirs.cat_a;
  const vt::WatchCategory cat_b{"b", {b + "/**"}, {}, {}, {}};
  vt::Daemon daemon(vt::files_config({cat_a}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const FileStatus start = daemon.status().files();
  CHECK(start.last_reload_error() == "");

  vt::FileHelper before({"mkdir", b + "/unseen", "0700", "mkdir", a + "/m1", "0700"});
  before.finish();
  vt::wait_file_event(daemon, stream, vt::file_of(before.pid(), FILE_OPERATION_MKDIR, a + "/m1"), "mkdir a/m1");
  CHECK(stream.count(vt::file_of(before.pid(), FILE_OPERATION_MKDIR)) == 1);

  vt::reload_files(daemon, vt::files_config({cat_a, cat_b}));
  const FileStatus reloaded = wait_status(
      daemon, [&](const FileStatus& f) { return f.watch_generation() > start.watch_generation(); }, "the reload");
  CHECK(reloaded.watch_generation() == start.watch_generation() + 1);
  CHECK(reloaded.last_reload_error() == "");
  CHECK(names_of(reloaded) == std::vector<std::string>{"a", "b"});

  vt::FileHelper after({"mkdir", b + "/seen", "0700", "mkdir", a + "/m2", "0700"});
  after.finish();
  check_mkdir(daemon, stream, after, b + "/seen", "b");
  check_mkdir(daemon, stream, after, a + "/m2", "a");
}

TEST_CASE("file watch: a reload with a bad glob or operation keeps the old lists and names the problem", "[file]") {
  REQUIRE_KERNEL();
  const DirsAB dirs;
  const std::string &a = dirs.a, &b = dirs.b;
  const vt::WatchCategory& cat_a = dirs.cat_a;
  vt::Daemon daemon(vt::files_config({cat_a}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const uint64_t generation = daemon.status().files().watch_generation();

  // A bad glob, with a good category beside it that would have watched b.
  vt::reload_files(daemon, vt::files_config({cat_a, {"b", {b + "/**"}, {}, {}, {}}, {"bad", {"/x/[ab"}, {}, {}, {}}}));
  FileStatus files = wait_status(
      daemon, [](const FileStatus& f) { return !f.last_reload_error().empty(); }, "the bad glob's reload error");
  INFO("last_reload_error: " << files.last_reload_error());
  CHECK(files.last_reload_error().find("/x/[ab") != std::string::npos);
  CHECK(files.last_reload_error().find("bad") != std::string::npos);
  CHECK(files.watch_generation() == generation);
  CHECK(names_of(files) == std::vector<std::string>{"a"});

  vt::FileHelper h1({"mkdir", b + "/unseen", "0700", "mkdir", a + "/still", "0700"});
  h1.finish();
  check_mkdir(daemon, stream, h1, a + "/still", "a");
  CHECK(stream.count(vt::file_of(h1.pid(), FILE_OPERATION_MKDIR)) == 1);

  // An unknown operation: refused the same way, with its own message.
  const std::string first_error = files.last_reload_error();
  vt::reload_files(daemon, vt::files_config({{"a", {a + "/**"}, {}, {"create", "frobnicate"}, {}}}));
  files = wait_status(
      daemon, [&](const FileStatus& f) { return f.last_reload_error() != first_error; },
      "the unknown operation's error");
  INFO("last_reload_error: " << files.last_reload_error());
  CHECK(files.last_reload_error().find("frobnicate") != std::string::npos);
  CHECK(files.watch_generation() == generation);

  // A good reload clears the error and counts one generation.
  vt::reload_files(daemon, vt::files_config({cat_a, {"b", {b + "/**"}, {}, {}, {}}}));
  files = wait_status(
      daemon, [&](const FileStatus& f) { return f.watch_generation() > generation; }, "the good reload");
  CHECK(files.watch_generation() == generation + 1);
  CHECK(files.last_reload_error() == "");
}

TEST_CASE("file watch: changes on a path watched before and after a reload are all reported", "[file]") {
  REQUIRE_KERNEL();
  const DirsAB dirs;
  const std::string &a = dirs.a, &b = dirs.b;
  const vt::WatchCategory& cat_a = dirs.cat_a;
  // The helper's 6,000 arguments make each of its events ~20 KB: the default 8 MiB queues would hold
  // a few hundred of the 2,000 (and count the rest as lost, which is the bound working).
  const std::string roomy = "buffers:\n  pipeline_queue_bytes: 268435456\n  subscriber_queue_bytes: 268435456\n";
  vt::Daemon daemon(roomy + vt::files_config({cat_a}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const uint64_t generation = daemon.status().files().watch_generation();

  constexpr int kDirs = 2000;
  std::vector<std::string> steps;
  for (int i = 0; i < kDirs; ++i) steps.insert(steps.end(), {"mkdir", a + "/d" + std::to_string(i), "0700"});
  vt::FileHelper h(steps);
  vt::reload_files(daemon, vt::files_config({cat_a, {"b", {b + "/**"}, {}, {}, {}}}));  // while it runs
  wait_status(
      daemon, [&](const FileStatus& f) { return f.watch_generation() > generation; }, "the reload");
  h.finish();
  const auto mkdirs =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR), kDirs, "every mkdir");
  CHECK(mkdirs.size() == kDirs);
  CHECK(stream.count(vt::kind_is(EVENT_KIND_LOSS)) == 0);
  for (size_t i = 0; i < mkdirs.size(); ++i) {
    INFO(vt::describe(mkdirs[i]));
    CHECK(mkdirs[i].file().path().path() == a + "/d" + std::to_string(i));
    CHECK(std::vector<std::string>(mkdirs[i].file().categories().begin(), mkdirs[i].file().categories().end()) ==
          std::vector<std::string>{"a"});
  }
}

TEST_CASE("file watch: a reload that changes no watch list keeps watch_generation", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir root("vajra-fim");
  const std::string config = vt::files_config({{"a", {root.path() + "/**"}, {}, {}, {}}});
  vt::Daemon daemon(config);
  const uint64_t generation = daemon.status().files().watch_generation();
  const size_t reloads = count_of(daemon.log(), "config reloaded");
  vt::reload_files(daemon, config);
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  while (count_of(daemon.log(), "config reloaded") == reloads && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(count_of(daemon.log(), "config reloaded") == reloads + 1);
  // The proto: "increases on every reload that changed the watch lists".
  CHECK(daemon.status().files().watch_generation() == generation);
}

TEST_CASE("file watch: create and modify carry the sha256 of the content: too large a file says why not", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir root("vajra-fim");
  const std::string w = root.file("w"), small = root.file("small");
  std::filesystem::create_directory(w);
  std::filesystem::create_directory(small);
  vt::Daemon daemon(vt::files_config(
      {{"hashed", {w + "/**"}, {}, {}, {"sha256"}}, {"capped", {small + "/**"}, {}, {}, {"sha256"}, 4}}));
  vt::EventStream stream(daemon, vt::helper_subscription());
  const std::string f = w + "/h";

  vt::FileHelper h({"openat",
                    "c",
                    "cwd",
                    f,
                    "O_WRONLY|O_CREAT",
                    "0600",
                    "close",
                    "c",
                    "wait",  //
                    "openat",
                    "m",
                    "cwd",
                    f,
                    "O_WRONLY|O_TRUNC",
                    "0",
                    "write",
                    "m",
                    "hello world\n",
                    "writev",
                    "m",
                    "more ",
                    "text",
                    "close",
                    "m",
                    "wait",  //
                    "openat",
                    "s",
                    "cwd",
                    small + "/big",
                    "O_WRONLY|O_CREAT",
                    "0600",
                    "write",
                    "s",
                    "twelve bytes",
                    "close",
                    "s"});
  h.until_wait();
  vt::FileExpect x = vt::file_expect(FILE_OPERATION_CREATE, "openat", f, PATH_SOURCE_DENTRY, "kernel", {"hashed"});
  x.result = x.fd = static_cast<int>(h.step(0).ret);
  x.open_flags = O_WRONLY | O_CREAT;
  x.open_flags_text = "O_WRONLY|O_CREAT";
  x.requested_mode = 0600;
  x.sha256 = vt::sha256_file(f);  // of nothing
  vt::check_file(vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CREATE, f), "create"), x);

  h.resume();
  h.until_wait();
  x = vt::file_expect(FILE_OPERATION_MODIFY, "close", f, PATH_SOURCE_DENTRY, "kernel", {"hashed"});
  x.fd = static_cast<int>(h.step(2).ret);
  x.open_flags = static_cast<uint32_t>(h.step(2).getfl);
  x.open_flags_text = "O_WRONLY|O_LARGEFILE";
  x.bytes_written = 21;
  x.writes = 2;
  x.has_duration = true;
  x.sha256 = vt::sha256_file(f);
  CHECK(vt::read_file(f) == "hello world\nmore text");
  vt::check_file(vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MODIFY, f), "modify"), x);

  h.resume();
  h.finish();
  const Event big =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MODIFY, small + "/big"), "modify of big");
  INFO(vt::to_json(big));
  CHECK(big.file().hashes_size() == 0);
  CHECK(big.file().hash_error().find("hash_max_bytes") != std::string::npos);
  const FileStatus files = daemon.status().files();
  REQUIRE(category_status(files, "hashed") != nullptr);
  CHECK(category_status(files, "hashed")->hashed() == 2);
  CHECK(category_status(files, "hashed")->hash_failures() == 0);
  REQUIRE(category_status(files, "capped") != nullptr);
  CHECK(category_status(files, "capped")->hash_failures() >= 1);
}

TEST_CASE("file watch: Subscribe filters by category and by path prefix (whole components)", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir root("vajra-fim");
  const std::string a = root.file("a"), ab = root.file("ab"), b = root.file("b");
  for (const auto& d : {a, ab, b}) std::filesystem::create_directory(d);
  vt::Daemon daemon(vt::files_config({{"A", {a + "/**", ab + "/**"}, {}, {}, {}}, {"B", {b + "/**"}, {}, {}, {}}}));
  SubscribeRequest by_category;
  by_category.add_categories("B");
  SubscribeRequest by_prefix;
  by_prefix.add_path_prefixes(a);
  vt::EventStream all(daemon, vt::helper_subscription());
  vt::EventStream only_b(daemon, by_category);
  vt::EventStream under_a(daemon, by_prefix);

  vt::FileHelper h({"mkdir", a + "/1", "0700", "mkdir", ab + "/2", "0700", "mkdir", b + "/3", "0700",  //
                    "mkdir", a + "/9", "0700", "mkdir", b + "/10", "0700"});
  h.finish();
  all.wait_for(vt::file_of(h.pid(), FILE_OPERATION_MKDIR, b + "/10"), "the last mkdir");
  CHECK(all.count(vt::file_of(h.pid(), FILE_OPERATION_MKDIR)) == 5);

  only_b.wait_for(vt::file_of(h.pid(), FILE_OPERATION_MKDIR, b + "/10"), "B's last mkdir");
  under_a.wait_for(vt::file_of(h.pid(), FILE_OPERATION_MKDIR, a + "/9"), "the last mkdir under a");
  auto paths = [](const vt::EventStream& s) {
    std::vector<std::string> out;
    for (const Event& e : s.events())
      if (e.kind() == EVENT_KIND_FILE) out.push_back(path_of(e));
    return out;
  };
  CHECK(paths(only_b) == std::vector<std::string>{b + "/3", b + "/10"});
  CHECK(paths(under_a) == std::vector<std::string>{a + "/1", a + "/9"});  // not ab/2
  for (const vt::EventStream* s : {&only_b, &under_a}) {
    for (const Event& e : s->events()) {
      INFO(vt::describe(e));
      CHECK((e.kind() == EVENT_KIND_FILE || e.kind() == EVENT_KIND_STREAM_START));
    }
  }
}
