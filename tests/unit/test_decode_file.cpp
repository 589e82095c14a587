// File records, hand-built as bpf/file.bpf.c writes them: dentry-walked targets, names joined to their
// base directory, two-path operations, attributes, modify counters, and malformed shapes.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "decode.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

// Leaf-first path section, as the kernel walk writes it.
std::string walked(std::initializer_list<std::string> leaf_first) {
  std::string out;
  for (const auto& part : leaf_first) {
    out += part;
    out += '\0';
  }
  return out;
}

std::string name(const std::string& text) { return text + std::string(1, '\0'); }

struct Sections {
  std::string name, name2, extra, path, path2;
};

vj_file_record base_record(uint16_t op, uint16_t syscall) {
  vj_file_record r{};
  r.hdr.kind = VJ_REC_FILE;
  r.task.ktime_ns = 7'000'000'000;
  r.task.start_boottime_ns = 1'000'000'000;
  r.task.pid = 42;
  r.task.tid = 42;
  std::strcpy(r.task.comm, "writer");
  r.op = op;
  r.syscall = syscall;
  r.fd = -1;
  return r;
}

std::vector<uint8_t> bytes_of(vj_file_record r, const Sections& s) {
  r.name_len = s.name.size();
  r.name2_len = s.name2.size();
  r.extra_len = s.extra.size();
  r.path_len = s.path.size();
  r.path2_len = s.path2.size();
  const std::string data = s.name + s.name2 + s.extra + s.path + s.path2;
  r.hdr.size = sizeof(r) + data.size();
  std::vector<uint8_t> bytes(sizeof(r) + data.size());
  std::memcpy(bytes.data(), &r, sizeof(r));
  std::memcpy(bytes.data() + sizeof(r), data.data(), data.size());
  return bytes;
}

v1::Event decode_ok(const std::vector<uint8_t>& bytes) {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  DecodedEvent out;
  std::string error;
  REQUIRE(decoder.decode(bytes.data(), bytes.size(), out, error));
  CHECK(error.empty());
  return out.event;
}

}  // namespace

TEST_CASE("decode_file: an open that created a file, walked from its dentry, with the inode after") {
  vj_file_record r = base_record(VJ_FILE_CREATE, VJ_FSYS_OPENAT);
  r.path_flags = VJ_FP_TARGET | VJ_FP_ATTRS;
  r.result = 5;
  r.fd = 5;
  r.open_flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  r.arg_mode = 0100644;
  r.ino = 99;
  r.dev = (8u << 20) | 3;
  r.mode = S_IFREG | 0640;
  r.uid = 1000;
  r.gid = 100;
  r.size = 12;
  const v1::Event event = decode_ok(bytes_of(r, {"", "", "", walked({"f.txt", "w", "tmp"}), ""}));
  REQUIRE(event.kind() == v1::EVENT_KIND_FILE);
  CHECK(event.process().pid() == 42);
  CHECK(event.process().comm() == "writer");
  const v1::FileEvent& f = event.file();
  CHECK(f.operation() == v1::FILE_OPERATION_CREATE);
  CHECK(f.syscall() == "openat");
  CHECK(f.result() == 5);
  CHECK(f.errno_value() == 0);
  CHECK(f.error().empty());
  CHECK(f.path().path() == "/tmp/w/f.txt");
  CHECK(f.path().source() == v1::PATH_SOURCE_DENTRY);
  CHECK_FALSE(f.path().truncated());
  CHECK_FALSE(f.path().deleted());
  CHECK_FALSE(f.has_new_path());
  CHECK(f.inode() == 99);
  CHECK(f.dev() == makedev(8, 3));
  CHECK(f.file_type() == "regular");
  CHECK(f.mode() == 0640);
  CHECK(f.uid() == 1000);
  CHECK(f.gid() == 100);
  CHECK(f.size() == 12);
  CHECK(f.attributes_source() == "kernel");
  CHECK(f.open_flags() == static_cast<uint32_t>(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC));
  CHECK(f.open_flags_text() == "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
  CHECK(f.requested_mode() == 0644);
  CHECK(f.fd() == 5);
}

TEST_CASE("decode_file: a name is joined to its base directory and normalised") {
  vj_file_record r = base_record(VJ_FILE_DELETE, VJ_FSYS_UNLINKAT);
  r.result = -13;
  const v1::Event event = decode_ok(bytes_of(r, {name("../x/./y//z"), "", "", walked({"sub", "w", "tmp"}), ""}));
  const v1::FileEvent& f = event.file();
  CHECK(f.path().path() == "/tmp/w/x/y/z");
  CHECK(f.path().source() == v1::PATH_SOURCE_NAME);
  CHECK(f.errno_value() == 13);
  CHECK(f.error() == "EACCES");
  CHECK(f.attributes_source().empty());
  CHECK(f.fd() == -1);
}

TEST_CASE("decode_file: an absolute name is taken from the walked root") {
  vj_file_record r = base_record(VJ_FILE_CHMOD, VJ_FSYS_FCHMODAT);
  r.arg_mode = 04755;
  SECTION("outside a chroot the root is /") {
    const v1::Event event = decode_ok(bytes_of(r, {name("/etc/../etc/passwd"), "", "", "", ""}));
    CHECK(event.file().path().path() == "/etc/passwd");
    CHECK(event.file().requested_mode() == 04755);
  }
  SECTION("in a chroot the root's own path comes first") {
    const v1::Event event = decode_ok(bytes_of(r, {name("/etc/passwd"), "", "", walked({"jail", "srv"}), ""}));
    CHECK(event.file().path().path() == "/srv/jail/etc/passwd");
  }
}

TEST_CASE("decode_file: rename with RENAME_EXCHANGE carries both paths") {
  vj_file_record r = base_record(VJ_FILE_RENAME, VJ_FSYS_RENAMEAT2);
  r.at_flags = 2;  // RENAME_EXCHANGE
  const v1::Event event =
      decode_ok(bytes_of(r, {name("a"), name("/tmp/b"), "", walked({"w", "tmp"}), ""}));  // root: "/"
  const v1::FileEvent& f = event.file();
  CHECK(f.path().path() == "/tmp/w/a");
  CHECK(f.new_path().path() == "/tmp/b");
  CHECK(f.new_path().source() == v1::PATH_SOURCE_NAME);
  CHECK(f.exchange());
  CHECK(f.at_flags() == 2);
}

TEST_CASE("decode_file: symlink target, xattr name and chown's unchanged ids") {
  SECTION("symlink") {
    vj_file_record r = base_record(VJ_FILE_SYMLINK, VJ_FSYS_SYMLINKAT);
    const v1::Event event = decode_ok(bytes_of(r, {name("l"), "", name("../target"), walked({"w"}), ""}));
    CHECK(event.file().path().path() == "/w/l");
    CHECK(event.file().symlink_target() == "../target");
    CHECK(event.file().xattr_name().empty());
  }
  SECTION("setxattr on an fd") {
    vj_file_record r = base_record(VJ_FILE_SETXATTR, VJ_FSYS_FSETXATTR);
    r.path_flags = VJ_FP_TARGET;
    r.fd = 3;
    const v1::Event event = decode_ok(bytes_of(r, {"", "", name("user.tag"), walked({"f", "w"}), ""}));
    CHECK(event.file().path().path() == "/w/f");
    CHECK(event.file().xattr_name() == "user.tag");
    CHECK(event.file().fd() == 3);
  }
  SECTION("chown leaving the group alone") {
    vj_file_record r = base_record(VJ_FILE_CHOWN, VJ_FSYS_FCHOWNAT);
    r.arg_uid = 1000;
    r.arg_gid = 0xffffffffu;
    const v1::Event event = decode_ok(bytes_of(r, {name("f"), "", "", walked({"w"}), ""}));
    CHECK(event.file().has_requested_uid());
    CHECK(event.file().requested_uid() == 1000);
    CHECK_FALSE(event.file().has_requested_gid());
  }
}

TEST_CASE("decode_file: modify counts bytes, writes and the open duration") {
  vj_file_record r = base_record(VJ_FILE_MODIFY, VJ_FSYS_CLOSE);
  r.path_flags = VJ_FP_TARGET;
  r.bytes_written = 4096;
  r.writes = 3;
  r.open_ns = 6'000'000'000;
  r.open_flags = O_RDWR | O_APPEND;
  const v1::Event event = decode_ok(bytes_of(r, {"", "", "", walked({"log", "w"}), ""}));
  const v1::FileEvent& f = event.file();
  CHECK(f.syscall() == "close");
  CHECK(f.bytes_written() == 4096);
  CHECK(f.writes() == 3);
  CHECK(f.open_duration_ns() == 1'000'000'000);
  CHECK(f.open_flags_text() == "O_RDWR|O_APPEND");
}

TEST_CASE("decode_file: flags say what could not be resolved") {
  SECTION("a deleted, truncated dentry path") {
    vj_file_record r = base_record(VJ_FILE_MODIFY, VJ_FSYS_EXIT);
    r.path_flags = VJ_FP_TARGET | VJ_FP_PATH_TRUNCATED | VJ_FP_PATH_DELETED;
    const v1::Event event = decode_ok(bytes_of(r, {"", "", "", walked({"f", "deep"}), ""}));
    CHECK(event.file().path().truncated());
    CHECK(event.file().path().deleted());
    CHECK(event.file().syscall() == "exit");
  }
  SECTION("an unreadable name leaves the base directory, said so") {
    vj_file_record r = base_record(VJ_FILE_DELETE, VJ_FSYS_UNLINK);
    r.path_flags = VJ_FP_NAME_TRUNCATED;
    const v1::Event event = decode_ok(bytes_of(r, {"", "", "", walked({"w"}), ""}));
    CHECK(event.file().path().path() == "/w");
    CHECK(event.file().path().unresolved().find("name unreadable") != std::string::npos);
  }
}

TEST_CASE("decode_file: malformed records are refused, not guessed") {
  ProcessConfig config;
  BootClock clock;
  Decoder decoder(config, clock);
  DecodedEvent out;
  std::string error;
  SECTION("shorter than the fixed part") {
    std::vector<uint8_t> bytes(sizeof(vj_file_record) - 1);
    vj_record_header hdr{VJ_REC_FILE, 0, static_cast<uint32_t>(bytes.size())};
    std::memcpy(bytes.data(), &hdr, sizeof(hdr));
    CHECK_FALSE(decoder.decode(bytes.data(), bytes.size(), out, error));
  }
  SECTION("sections past the end") {
    std::vector<uint8_t> bytes = bytes_of(base_record(VJ_FILE_DELETE, VJ_FSYS_UNLINK), {name("x"), "", "", "", ""});
    vj_file_record r{};
    std::memcpy(&r, bytes.data(), sizeof(r));
    r.path_len = 1000;
    std::memcpy(bytes.data(), &r, sizeof(r));
    CHECK_FALSE(decoder.decode(bytes.data(), bytes.size(), out, error));
    CHECK(error.find("past its end") != std::string::npos);
  }
}
