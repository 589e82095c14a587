// File operations, one syscall at a time, in a watched temporary directory: every field of each
// FileEvent and the process of the helper that made the call.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::string tree_config(const std::string& dir) { return vt::files_config({{"tree", {dir + "/**"}, {}, {}, {}}}); }

vt::FileExpect expect(FileOperation op, const std::string& syscall, const std::string& path, PathSource source,
                      const std::string& attributes) {
  return vt::file_expect(op, syscall, path, source, attributes, {"tree"});
}

// An open for write (or create) of `path` by step `step` of `h`: the fd it returned, and `flags` as asked.
vt::FileExpect open_expect(FileOperation op, const std::string& syscall, const std::string& path,
                           const vt::FileHelper& h, size_t step, uint32_t flags, const std::string& flags_text) {
  vt::FileExpect x = expect(op, syscall, path, PATH_SOURCE_DENTRY, "kernel");
  x.result = x.fd = static_cast<int>(h.step(step).ret);
  x.open_flags = flags;
  x.open_flags_text = flags_text;
  return x;
}

// The modify that `syscall` reports when it ends the write cycle of the fd that step `open_step` of `h`
// opened; its flags are as the open left them (F_GETFL), and `flags_text` names them.
vt::FileExpect modify_expect(const std::string& syscall, const std::string& path, const vt::FileHelper& h,
                             size_t open_step, const std::string& flags_text) {
  vt::FileExpect x = expect(FILE_OPERATION_MODIFY, syscall, path, PATH_SOURCE_DENTRY, "kernel");
  x.fd = static_cast<int>(h.step(open_step).ret);
  x.open_flags = static_cast<uint32_t>(h.step(open_step).getfl);
  x.open_flags_text = flags_text;
  x.has_duration = true;
  return x;
}

}  // namespace

TEST_CASE("file ops: create, then one modify for write, pwrite64 and writev, reported at close", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  const std::string a = w.file("a");
  vt::FileHelper h({"openat", "f", "cwd", a, "O_WRONLY|O_CREAT|O_EXCL", "0640",  //
                    "write", "f", "hello", "pwrite", "f", "XY", "1", "writev", "f", "ab", "cd", "close", "f"});
  h.finish();
  REQUIRE(h.steps().size() == 5);
  const int fd = static_cast<int>(h.step(0).ret);
  REQUIRE(fd >= 3);
  const Event create =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CREATE, a), "create of a");
  const Event modify =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MODIFY, a), "modify of a");

  vt::FileExpect x =
      open_expect(FILE_OPERATION_CREATE, "openat", a, h, 0, O_WRONLY | O_CREAT | O_EXCL, "O_WRONLY|O_CREAT|O_EXCL");
  x.size = 0;  // read at the open, before the writes
  x.requested_mode = 0640;
  vt::check_file(create, x);

  x = modify_expect("close", a, h, 0, "O_WRONLY|O_LARGEFILE");
  REQUIRE(x.open_flags == (O_WRONLY | 0100000));  // as the open left them: O_CREAT|O_EXCL gone
  x.bytes_written = 5 + 2 + 4;
  x.writes = 3;
  vt::check_file(modify, x);
  CHECK(vt::read_file(a) == "hXYloabcd");

  vt::check_file_process({create, modify}, h);
  CHECK(create.seq() < modify.seq());
  CHECK(stream.count(vt::file_of(h.pid(), FILE_OPERATION_MODIFY)) == 1);
  CHECK(stream.count(vt::file_of(h.pid(), FILE_OPERATION_OPEN_WRITE)) == 0);  // a create is not also an open
}

TEST_CASE("file ops: open for write of an existing file, by openat, open, creat and openat2, with O_* flags",
          "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  const std::string b = w.file("b");
  w.write("b", "init");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  const std::string marker = w.file("marker");
  vt::FileHelper h({"openat",
                    "f",
                    "cwd",
                    b,
                    "O_WRONLY|O_APPEND|O_CLOEXEC",
                    "0",  //
                    "write",
                    "f",
                    "12",
                    "close",
                    "f",  //
                    "open",
                    "g",
                    b,
                    "O_RDWR|O_CREAT|O_TRUNC",
                    "0600",  //
                    "write",
                    "g",
                    "abc",
                    "write",
                    "g",
                    "de",
                    "close",
                    "g",  //
                    "creat",
                    "c",
                    b,
                    "0644",
                    "close",
                    "c",  //
                    "openat2",
                    "k",
                    "cwd",
                    b,
                    "O_WRONLY",
                    "0",
                    "close",
                    "k",  //
                    "openat",
                    "m",
                    "cwd",
                    marker,
                    "O_WRONLY|O_CREAT",
                    "0600",
                    "close",
                    "m"});
  h.finish();
  REQUIRE(h.steps().size() == 13);
  vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CREATE, marker), "create of the marker");
  const auto opens = stream.matching(vt::file_of(h.pid(), FILE_OPERATION_OPEN_WRITE, b));
  const auto modifies = stream.matching(vt::file_of(h.pid(), FILE_OPERATION_MODIFY, b));
  INFO(stream.summary());
  REQUIRE(opens.size() == 4);
  REQUIRE(modifies.size() == 2);  // creat and openat2 wrote nothing

  vt::FileExpect x = open_expect(FILE_OPERATION_OPEN_WRITE, "openat", b, h, 0, O_WRONLY | O_APPEND | O_CLOEXEC,
                                 "O_WRONLY|O_APPEND|O_CLOEXEC");
  x.size = 4;
  vt::check_file(opens[0], x);

  x = modify_expect("close", b, h, 0, "O_WRONLY|O_APPEND|O_LARGEFILE");
  x.size = 6;
  x.bytes_written = 2;
  x.writes = 1;
  vt::check_file(modifies[0], x);

  x = open_expect(FILE_OPERATION_OPEN_WRITE, "open", b, h, 3, O_RDWR | O_CREAT | O_TRUNC, "O_RDWR|O_CREAT|O_TRUNC");
  x.size = 0;  // O_TRUNC emptied it
  x.requested_mode = 0600;
  vt::check_file(opens[1], x);

  x = modify_expect("close", b, h, 3, "O_RDWR|O_LARGEFILE");
  x.size = 5;
  x.bytes_written = 5;
  x.writes = 2;
  vt::check_file(modifies[1], x);

  // O_WRONLY|O_CREAT|O_TRUNC: what creat(2) means.
  x = open_expect(FILE_OPERATION_OPEN_WRITE, "creat", b, h, 7, O_WRONLY | O_CREAT | O_TRUNC,
                  "O_WRONLY|O_CREAT|O_TRUNC");
  x.size = 0;
  x.requested_mode = 0644;
  vt::check_file(opens[2], x);

  x = open_expect(FILE_OPERATION_OPEN_WRITE, "openat2", b, h, 9, O_WRONLY, "O_WRONLY");
  x.size = 0;
  vt::check_file(opens[3], x);

  vt::check_file_process(opens, h);
  vt::check_file_process(modifies, h);
  CHECK(opens[0].seq() < modifies[0].seq());
  CHECK(modifies[0].seq() < opens[1].seq());
}

TEST_CASE("file ops: a write cycle left open is reported when the process exits (syscall exit)", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  const std::string e = w.file("e");
  vt::FileHelper h({"openat", "f", "cwd", e, "O_WRONLY|O_CREAT", "0600", "write", "f", "bye", "exit", "0"});
  h.finish();
  REQUIRE(h.steps().size() == 2);  // exit prints nothing
  const Event modify =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MODIFY, e), "modify of e at exit");

  vt::FileExpect x = modify_expect("exit", e, h, 0, "O_WRONLY|O_LARGEFILE");
  x.bytes_written = 3;
  x.writes = 1;
  vt::check_file(modify, x);
  vt::check_file_process({modify}, h);
  CHECK(stream.count(vt::file_of(h.pid(), FILE_OPERATION_MODIFY)) == 1);
}

TEST_CASE("file ops: failed calls are reported by name, with their errno", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("b", "");
  w.write("c", "");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"openat",
                    "f",
                    "cwd",
                    w.file("b"),
                    "O_WRONLY|O_CREAT|O_EXCL",
                    "0600",  //
                    "dir",
                    "D",
                    w.path(),  //
                    "openat",
                    "g",
                    "D",
                    "nothere/x",
                    "O_WRONLY",
                    "0",  //
                    "unlinkat",
                    "D",
                    "missing",
                    "0",  //
                    "renameat2",
                    "D",
                    "b",
                    "D",
                    "c",
                    "RENAME_NOREPLACE"});
  h.finish();
  REQUIRE(h.steps().size() == 5);
  CHECK(h.step(0).err == EEXIST);
  CHECK(h.step(2).err == ENOENT);
  CHECK(h.step(3).err == ENOENT);
  CHECK(h.step(4).err == EEXIST);
  const Event exists =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CREATE), "failed create");
  const Event missing =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_OPEN_WRITE), "failed open");
  const Event unlink =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_DELETE), "failed unlinkat");
  const Event rename =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_RENAME), "failed renameat2");

  vt::FileExpect x = expect(FILE_OPERATION_CREATE, "openat", w.file("b"), PATH_SOURCE_NAME, "");
  x.result = -EEXIST;
  x.errno_value = EEXIST;
  x.error = "EEXIST";
  x.open_flags = O_WRONLY | O_CREAT | O_EXCL;
  x.open_flags_text = "O_WRONLY|O_CREAT|O_EXCL";
  x.requested_mode = 0600;
  vt::check_file(exists, x);

  x = expect(FILE_OPERATION_OPEN_WRITE, "openat", w.file("nothere/x"), PATH_SOURCE_NAME, "");
  x.result = -ENOENT;
  x.errno_value = ENOENT;
  x.error = "ENOENT";
  x.open_flags = O_WRONLY;
  x.open_flags_text = "O_WRONLY";
  vt::check_file(missing, x);

  x = expect(FILE_OPERATION_DELETE, "unlinkat", w.file("missing"), PATH_SOURCE_NAME, "");
  x.result = -ENOENT;
  x.errno_value = ENOENT;
  x.error = "ENOENT";
  vt::check_file(unlink, x);

  // A failed call leaves nothing to describe: no attributes.
  x = expect(FILE_OPERATION_RENAME, "renameat2", w.file("b"), PATH_SOURCE_NAME, "");
  x.new_path = vt::FilePathExpect{w.file("c"), "", PATH_SOURCE_NAME};
  x.result = -EEXIST;
  x.errno_value = EEXIST;
  x.error = "EEXIST";
  x.at_flags = RENAME_NOREPLACE;
  vt::check_file(rename, x);
  vt::check_file_process({exists, missing, unlink, rename}, h);
}

TEST_CASE("file ops: truncate by name and ftruncate by fd", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  const std::string t = w.file("t");
  w.write("t", "0123456789");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h1({"truncate", t, "4"});
  h1.finish();
  const Event by_name =
      vt::wait_file_event(daemon, stream, vt::file_of(h1.pid(), FILE_OPERATION_TRUNCATE, t), "truncate");
  vt::FileExpect x = expect(FILE_OPERATION_TRUNCATE, "truncate", t, PATH_SOURCE_NAME, "lstat");
  vt::check_file(by_name, x);
  vt::check_file_process({by_name}, h1);

  // An mtime well in the past: the ftruncate below surely moves it (a change without write calls).
  const timespec old[2] = {{946684800, 0}, {946684800, 0}};
  REQUIRE(utimensat(AT_FDCWD, t.c_str(), old, 0) == 0);
  vt::FileHelper h2({"openat", "f", "cwd", t, "O_WRONLY", "0", "ftruncate", "f", "2", "close", "f"});
  h2.finish();
  const int fd = static_cast<int>(h2.step(0).ret);
  const Event by_fd =
      vt::wait_file_event(daemon, stream, vt::file_of(h2.pid(), FILE_OPERATION_TRUNCATE, t), "ftruncate");
  const Event modify =
      vt::wait_file_event(daemon, stream, vt::file_of(h2.pid(), FILE_OPERATION_MODIFY, t), "modify by ftruncate");
  x = expect(FILE_OPERATION_TRUNCATE, "ftruncate", t, PATH_SOURCE_DENTRY, "kernel");
  x.fd = fd;
  vt::check_file(by_fd, x);
  // The cycle changed the content without a write call: reported, with no bytes.
  vt::check_file(modify, modify_expect("close", t, h2, 0, "O_WRONLY|O_LARGEFILE"));
  vt::check_file_process({by_fd, modify}, h2);
  CHECK(std::filesystem::file_size(t) == 2);
}

TEST_CASE("file ops: delete by unlink, unlinkat, rmdir and unlinkat(AT_REMOVEDIR)", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("u1", "");
  w.write("u2", "");
  std::filesystem::create_directory(w.file("dir1"));
  std::filesystem::create_directory(w.file("dir2"));
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"unlink", w.file("u1"), "dir", "D", w.path(), "unlinkat", "D", "u2", "0",  //
                    "unlinkat", "D", "dir1", "AT_REMOVEDIR", "rmdir", w.file("dir2")});
  h.finish();
  for (const auto& step : h.steps()) CHECK(step.err == 0);
  const auto deletes =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_DELETE), 4, "four deletes");

  vt::FileExpect x = expect(FILE_OPERATION_DELETE, "unlink", w.file("u1"), PATH_SOURCE_NAME, "");
  vt::check_file(deletes[0], x);
  x = expect(FILE_OPERATION_DELETE, "unlinkat", w.file("u2"), PATH_SOURCE_NAME, "");
  vt::check_file(deletes[1], x);
  x = expect(FILE_OPERATION_DELETE, "unlinkat", w.file("dir1"), PATH_SOURCE_NAME, "");
  x.at_flags = AT_REMOVEDIR;
  vt::check_file(deletes[2], x);
  x = expect(FILE_OPERATION_DELETE, "rmdir", w.file("dir2"), PATH_SOURCE_NAME, "");
  vt::check_file(deletes[3], x);
  vt::check_file_process(deletes, h);
}

TEST_CASE("file ops: rename, renameat2 and renameat2(RENAME_EXCHANGE), with both paths", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("r1", "r");
  w.write("x1", "one");
  w.write("x2", "two");
  const uint64_t x1_inode = vt::inode_of(w.file("x1"));
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  // One run per rename: vajrad reads the new name's attributes with lstat after each event.
  vt::FileHelper h1({"dir", "D", w.path(), "renameat2", "D", "r1", "D", "r2", "0"});
  h1.finish();
  const Event plain = vt::wait_file_event(daemon, stream, vt::file_of(h1.pid(), FILE_OPERATION_RENAME), "renameat2");
  vt::FileExpect x = expect(FILE_OPERATION_RENAME, "renameat2", w.file("r1"), PATH_SOURCE_NAME, "lstat");
  x.new_path = vt::FilePathExpect{w.file("r2"), "", PATH_SOURCE_NAME};
  vt::check_file(plain, x);
  vt::check_file_process({plain}, h1);

  vt::FileHelper h2({"dir", "D", w.path(), "renameat2", "D", "x1", "D", "x2", "RENAME_EXCHANGE"});
  h2.finish();
  const Event exchange =
      vt::wait_file_event(daemon, stream, vt::file_of(h2.pid(), FILE_OPERATION_RENAME), "RENAME_EXCHANGE");
  x = expect(FILE_OPERATION_RENAME, "renameat2", w.file("x1"), PATH_SOURCE_NAME, "lstat");
  x.new_path = vt::FilePathExpect{w.file("x2"), "", PATH_SOURCE_NAME};
  x.at_flags = RENAME_EXCHANGE;
  x.exchange = true;
  vt::check_file(exchange, x);
  CHECK(exchange.file().inode() == x1_inode);  // x2 is now the file that was x1
  CHECK(vt::read_file(w.file("x2")) == "one");
  vt::check_file_process({exchange}, h2);

  vt::FileHelper h3({"rename", w.file("r2"), w.file("r3")});
  h3.finish();
  const Event old_style = vt::wait_file_event(daemon, stream, vt::file_of(h3.pid(), FILE_OPERATION_RENAME), "rename");
  x = expect(FILE_OPERATION_RENAME, "rename", w.file("r2"), PATH_SOURCE_NAME, "lstat");
  x.new_path = vt::FilePathExpect{w.file("r3"), "", PATH_SOURCE_NAME};
  vt::check_file(old_style, x);
  vt::check_file_process({old_style}, h3);
}

TEST_CASE("file ops: link, linkat, symlink and symlinkat (with the target as given)", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("src", "data");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"dir", "D", w.path(), "linkat", "D", "src", "D", "l1", "0",  //
                    "link", w.file("src"), w.file("l2"),                         //
                    "symlinkat", "target-text", "D", "s1",                       //
                    "symlink", "../src", w.file("s2")});
  h.finish();
  for (size_t i = 1; i < h.steps().size(); ++i) CHECK(h.steps()[i].ret == 0);
  const auto links = vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_LINK), 2, "two links");
  const auto symlinks =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_SYMLINK), 2, "two symlinks");

  vt::FileExpect x = expect(FILE_OPERATION_LINK, "linkat", w.file("src"), PATH_SOURCE_NAME, "lstat");
  x.new_path = vt::FilePathExpect{w.file("l1"), "", PATH_SOURCE_NAME};
  vt::check_file(links[0], x);
  x = expect(FILE_OPERATION_LINK, "link", w.file("src"), PATH_SOURCE_NAME, "lstat");
  x.new_path = vt::FilePathExpect{w.file("l2"), "", PATH_SOURCE_NAME};
  vt::check_file(links[1], x);
  CHECK(links[0].file().inode() == vt::inode_of(w.file("src")));

  x = expect(FILE_OPERATION_SYMLINK, "symlinkat", w.file("s1"), PATH_SOURCE_NAME, "lstat");
  x.symlink_target = "target-text";
  vt::check_file(symlinks[0], x);
  CHECK(symlinks[0].file().file_type() == "symlink");
  CHECK(symlinks[0].file().size() == std::string("target-text").size());
  x = expect(FILE_OPERATION_SYMLINK, "symlink", w.file("s2"), PATH_SOURCE_NAME, "lstat");
  x.symlink_target = "../src";
  vt::check_file(symlinks[1], x);
  vt::check_file_process(links, h);
  vt::check_file_process(symlinks, h);
}

TEST_CASE("file ops: mkdir and mkdirat with the requested mode", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"dir", "D", w.path(), "mkdirat", "D", "m1", "0750", "mkdir", w.file("m2"), "0700"});
  h.finish();
  const auto mkdirs = vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR), 2, "two mkdirs");
  vt::FileExpect x = expect(FILE_OPERATION_MKDIR, "mkdirat", w.file("m1"), PATH_SOURCE_NAME, "lstat");
  x.requested_mode = 0750;
  vt::check_file(mkdirs[0], x);
  CHECK(mkdirs[0].file().file_type() == "directory");
  CHECK(mkdirs[0].file().mode() == 0750);
  x = expect(FILE_OPERATION_MKDIR, "mkdir", w.file("m2"), PATH_SOURCE_NAME, "lstat");
  x.requested_mode = 0700;
  vt::check_file(mkdirs[1], x);
  vt::check_file_process(mkdirs, h);
}

TEST_CASE("file ops: chmod, fchmodat and fchmod with the new mode", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  for (const char* name : {"c1", "c2", "c3"}) w.write(name, "");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  // The O_RDONLY open is not an event: no category asks for open_read.
  vt::FileHelper h({"dir", "D", w.path(), "fchmodat", "D", "c1", "04604",  //
                    "chmod", w.file("c2"), "0600",                         //
                    "openat", "f", "cwd", w.file("c3"), "O_RDONLY", "0", "fchmod", "f", "0640"});
  h.finish();
  const auto chmods =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CHMOD), 3, "three chmods");
  vt::FileExpect x = expect(FILE_OPERATION_CHMOD, "fchmodat", w.file("c1"), PATH_SOURCE_NAME, "lstat");
  x.requested_mode = 04604;
  vt::check_file(chmods[0], x);
  CHECK(chmods[0].file().mode() == 04604);
  x = expect(FILE_OPERATION_CHMOD, "chmod", w.file("c2"), PATH_SOURCE_NAME, "lstat");
  x.requested_mode = 0600;
  vt::check_file(chmods[1], x);
  x = expect(FILE_OPERATION_CHMOD, "fchmod", w.file("c3"), PATH_SOURCE_DENTRY, "kernel");
  x.requested_mode = 0640;
  x.fd = static_cast<int>(h.step(3).ret);
  vt::check_file(chmods[2], x);
  CHECK(chmods[2].file().mode() == 0640);
  vt::check_file_process(chmods, h);
  CHECK(stream.count(vt::file_of(h.pid(), FILE_OPERATION_OPEN_READ)) == 0);
}

TEST_CASE("file ops: chown, fchownat and fchown with the requested owner", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  for (const char* name : {"o1", "o2", "o3", "o4"}) w.write(name, "");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"dir",      "D",          w.path(), "fchownat",   "D",        "o1",
                    "1234",     "5678",       "0",                                                        //
                    "fchownat", "D",          "o2",     "-1",         "99",       "AT_SYMLINK_NOFOLLOW",  //
                    "chown",    w.file("o3"), "77",     "-1",                                             //
                    "openat",   "f",          "cwd",    w.file("o4"), "O_RDONLY", "0",
                    "fchown",   "f",          "4321",   "-1"});
  h.finish();
  for (size_t i = 1; i < h.steps().size(); ++i) CHECK(h.steps()[i].err == 0);
  const auto chowns =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CHOWN), 4, "four chowns");
  vt::FileExpect x = expect(FILE_OPERATION_CHOWN, "fchownat", w.file("o1"), PATH_SOURCE_NAME, "lstat");
  x.requested_uid = 1234;
  x.requested_gid = 5678;
  vt::check_file(chowns[0], x);
  CHECK(chowns[0].file().uid() == 1234);
  CHECK(chowns[0].file().gid() == 5678);
  x = expect(FILE_OPERATION_CHOWN, "fchownat", w.file("o2"), PATH_SOURCE_NAME, "lstat");
  x.requested_gid = 99;
  x.at_flags = AT_SYMLINK_NOFOLLOW;
  vt::check_file(chowns[1], x);
  x = expect(FILE_OPERATION_CHOWN, "chown", w.file("o3"), PATH_SOURCE_NAME, "lstat");
  x.requested_uid = 77;
  vt::check_file(chowns[2], x);
  x = expect(FILE_OPERATION_CHOWN, "fchown", w.file("o4"), PATH_SOURCE_DENTRY, "kernel");
  x.requested_uid = 4321;
  x.fd = static_cast<int>(h.step(4).ret);
  vt::check_file(chowns[3], x);
  CHECK(chowns[3].file().uid() == 4321);
  vt::check_file_process(chowns, h);
}

TEST_CASE("file ops: setxattr, fsetxattr, removexattr and fremovexattr of user.* attributes", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  w.write("x1", "");
  w.write("x2", "");
  if (setxattr(w.file("x1").c_str(), "user.probe", "1", 1, 0) != 0) {
    WARN("skipping: " << w.path() << " does not take user.* xattrs: " << strerror(errno));
    return;
  }
  removexattr(w.file("x1").c_str(), "user.probe");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  vt::FileHelper h({"setxattr",
                    w.file("x1"),
                    "user.vajra",
                    "v1",
                    "XATTR_CREATE",  //
                    "openat",
                    "f",
                    "cwd",
                    w.file("x2"),
                    "O_RDONLY",
                    "0",  //
                    "fsetxattr",
                    "f",
                    "user.other",
                    "v2",
                    "0",  //
                    "removexattr",
                    w.file("x1"),
                    "user.vajra",  //
                    "fremovexattr",
                    "f",
                    "user.other"});
  h.finish();
  for (const auto& step : h.steps()) CHECK(step.err == 0);
  const int fd = static_cast<int>(h.step(1).ret);
  const auto sets =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_SETXATTR), 2, "two setxattrs");
  const auto removes =
      vt::wait_file_events(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_REMOVEXATTR), 2, "two removexattrs");

  vt::FileExpect x = expect(FILE_OPERATION_SETXATTR, "setxattr", w.file("x1"), PATH_SOURCE_NAME, "lstat");
  x.xattr_name = "user.vajra";
  x.at_flags = XATTR_CREATE;
  vt::check_file(sets[0], x);
  x = expect(FILE_OPERATION_SETXATTR, "fsetxattr", w.file("x2"), PATH_SOURCE_DENTRY, "kernel");
  x.xattr_name = "user.other";
  x.fd = fd;
  vt::check_file(sets[1], x);
  x = expect(FILE_OPERATION_REMOVEXATTR, "removexattr", w.file("x1"), PATH_SOURCE_NAME, "lstat");
  x.xattr_name = "user.vajra";
  vt::check_file(removes[0], x);
  x = expect(FILE_OPERATION_REMOVEXATTR, "fremovexattr", w.file("x2"), PATH_SOURCE_DENTRY, "kernel");
  x.xattr_name = "user.other";
  x.fd = fd;
  vt::check_file(removes[1], x);
  vt::check_file_process(sets, h);
  vt::check_file_process(removes, h);
}

TEST_CASE("file ops: a modify of a file unlinked while open is flagged deleted", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());

  const std::string gone = w.file("gone");
  vt::FileHelper h({"openat", "f", "cwd", gone, "O_WRONLY|O_CREAT", "0600", "unlink", gone,  //
                    "write", "f", "data", "close", "f"});
  h.finish();
  const Event create = vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_CREATE, gone), "create");
  const Event del = vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_DELETE, gone), "delete");
  const Event modify =
      vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MODIFY, gone), "modify after unlink");
  vt::check_file(del, expect(FILE_OPERATION_DELETE, "unlink", gone, PATH_SOURCE_NAME, ""));

  struct stat attributes {};
  REQUIRE(stat(w.path().c_str(), &attributes) == 0);  // same filesystem
  attributes.st_ino = create.file().inode();
  attributes.st_mode = S_IFREG | 0600;
  attributes.st_uid = 0;
  attributes.st_gid = 0;
  attributes.st_size = 4;
  vt::FileExpect x = modify_expect("close", gone, h, 0, "O_WRONLY|O_LARGEFILE");
  x.path.deleted = true;
  x.attributes = attributes;
  x.bytes_written = 4;
  x.writes = 1;
  vt::check_file(modify, x);
  vt::check_file_process({create, del, modify}, h);
}

TEST_CASE("file ops: an event with one path carries no new_path at all", "[file]") {
  REQUIRE_KERNEL();
  vt::TempDir w("vajra-fim");
  vt::Daemon daemon(tree_config(w.path()));
  vt::EventStream stream(daemon, vt::helper_subscription());
  vt::FileHelper h({"mkdir", w.file("m"), "0700"});
  h.finish();
  const Event mkdir = vt::wait_file_event(daemon, stream, vt::file_of(h.pid(), FILE_OPERATION_MKDIR), "mkdir");
  INFO(vt::to_json(mkdir));
  CHECK_FALSE(mkdir.file().has_new_path());  // new_path is for rename and link only
}
