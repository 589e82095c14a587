// bpf_file_events rows from synthetic FileEvents, and the daemon_file_* columns of vajra_status.
#include <catch2/catch.hpp>

#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "event_table.h"
#include "restore_gate.h"
#include "tables/file_table.h"
#include "tables/status_table.h"

using namespace vajra::bridge;
namespace v1 = vajra::v1;

namespace {

constexpr uint64_t kTimeNs = 1'700'000'123'456'789'000ull;

v1::Event file_event(v1::FileOperation operation, const std::string& syscall) {
  v1::Event event;
  event.set_seq(9);
  event.set_kind(v1::EVENT_KIND_FILE);
  event.set_time_ns(kTimeNs);
  event.set_ktime_ns(5'000'000'000ull);
  event.mutable_process()->set_pid(321);
  event.mutable_process()->set_uid(1000);
  event.mutable_process()->set_exe("/usr/bin/vim");
  event.mutable_process()->set_exe_sha256(std::string(64, 'e'));
  v1::FileEvent* f = event.mutable_file();
  f->set_operation(operation);
  f->set_syscall(syscall);
  f->mutable_path()->set_path("/etc/passwd");
  f->mutable_path()->set_source(v1::PATH_SOURCE_DENTRY);
  f->add_categories("etc");
  return event;
}

struct FileTable {
  RestoreGate gate;
  EventFamily family = file_family();
  EventTable table{family, "bpf_file_events", StoreLimits{1u << 30, 1000}, gate,
                   [] { return kTimeNs / 1000000000ull; }};
  FileTable() { gate.open(); }
  Row only_row(const v1::Event& event) {
    table.add(streamed_event_of(event), std::make_shared<const std::string>("run-1"));
    Rows rows = table.generate(QueryContext{});
    REQUIRE(rows.size() == 1);
    return rows.front();
  }
};

}  // namespace

TEST_CASE("a modify row: the file, its attributes and hashes, and the process", "[bridge][file_table]") {
  FileTable t;
  v1::Event event = file_event(v1::FILE_OPERATION_MODIFY, "close");
  v1::FileEvent* f = event.mutable_file();
  f->add_categories("accounts");
  f->set_inode(1234);
  f->set_dev(2049);
  f->set_file_type("regular");
  f->set_mode(0644);
  f->set_uid(0);
  f->set_gid(42);
  f->set_size(2048);
  f->set_attributes_source("kernel");
  f->set_open_flags(O_WRONLY | O_TRUNC);
  f->set_open_flags_text("O_WRONLY|O_TRUNC");
  f->set_fd(4);
  f->set_bytes_written(2048);
  f->set_writes(2);
  f->set_open_duration_ns(1500);
  for (const auto& [algorithm, hex] : {std::pair{"sha256", "aa"}, std::pair{"sha1", "bb"}, std::pair{"md5", "cc"}}) {
    v1::FileHash* hash = f->add_hashes();
    hash->set_algorithm(algorithm);
    hash->set_hex(hex);
  }
  const Row row = t.only_row(event);
  CHECK(row.at("action") == "modify");
  CHECK(row.at("syscall") == "close");
  CHECK(row.at("path") == "/usr/bin/vim");
  CHECK(row.at("exit_code") == "0");
  CHECK(row.at("target_path") == "/etc/passwd");
  CHECK(row.at("target_path_source") == "dentry");
  CHECK(row.at("target_path_truncated") == "0");
  CHECK(row.at("target_path_deleted") == "0");
  CHECK(row.at("categories") == "etc,accounts");
  CHECK(row.at("inode") == "1234");
  CHECK(row.at("device") == "2049");
  CHECK(row.at("type") == "regular");
  CHECK(row.at("mode") == "0644");
  CHECK(row.at("owner_uid") == "0");
  CHECK(row.at("owner_gid") == "42");
  CHECK(row.at("size") == "2048");
  CHECK(row.at("attributes_source") == "kernel");
  CHECK(row.at("open_flags") == "O_WRONLY|O_TRUNC");
  CHECK(row.at("at_flags") == "0");
  CHECK(row.at("fd") == "4");
  CHECK(row.at("bytes_written") == "2048");
  CHECK(row.at("writes") == "2");
  CHECK(row.at("duration") == "1500");
  CHECK(row.at("hashed") == "1");
  CHECK(row.at("target_sha256") == "aa");
  CHECK(row.at("target_sha1") == "bb");
  CHECK(row.at("target_md5") == "cc");
  // The shared columns keep their meaning: the process's uid and its executable's hash.
  CHECK(row.at("uid") == "1000");
  CHECK(row.at("sha256") == std::string(64, 'e'));
  CHECK(row.at("pid") == "321");
  CHECK(row.at("seq") == "9");
  CHECK(row.at("time") == "1700000123");
  for (const char* absent : {"errno", "error", "target_host_path", "target_path_unresolved", "dest_path",
                             "dest_path_truncated", "symlink_target", "requested_mode", "requested_uid",
                             "requested_gid", "exchange", "xattr_name", "target_hash_error"})
    CHECK(row.count(absent) == 0);
}

TEST_CASE("a failed rename in a container: both paths, host paths, no attributes", "[bridge][file_table]") {
  FileTable t;
  v1::Event event = file_event(v1::FILE_OPERATION_RENAME, "renameat2");
  v1::FileEvent* f = event.mutable_file();
  f->set_result(-18);
  f->set_errno_value(18);
  f->set_error("EXDEV");
  f->mutable_path()->set_source(v1::PATH_SOURCE_NAME);
  f->mutable_path()->set_host_path("/var/lib/docker/overlay2/x/merged/etc/passwd");
  f->mutable_new_path()->set_path("/etc/passwd-");
  f->mutable_new_path()->set_source(v1::PATH_SOURCE_NAME);
  f->mutable_new_path()->set_truncated(true);
  f->mutable_new_path()->set_unresolved("name too long");
  f->set_at_flags(2);
  f->set_exchange(true);
  f->set_fd(-100);  // a dirfd, not the target's: not shown
  f->set_hash_error("larger than hash_max_bytes");
  const Row row = t.only_row(event);
  CHECK(row.at("action") == "rename");
  CHECK(row.at("exit_code") == "-18");
  CHECK(row.at("errno") == "18");
  CHECK(row.at("error") == "EXDEV");
  CHECK(row.at("target_path_source") == "name");
  CHECK(row.at("target_host_path") == "/var/lib/docker/overlay2/x/merged/etc/passwd");
  CHECK(row.at("dest_path") == "/etc/passwd-");
  CHECK(row.at("dest_path_source") == "name");
  CHECK(row.at("dest_path_truncated") == "1");
  CHECK(row.at("dest_path_deleted") == "0");
  CHECK(row.at("dest_path_unresolved") == "name too long");
  CHECK(row.at("at_flags") == "2");
  CHECK(row.at("exchange") == "1");
  CHECK(row.at("hashed") == "-1");
  CHECK(row.at("target_hash_error") == "larger than hash_max_bytes");
  for (const char* absent : {"inode", "device", "type", "mode", "owner_uid", "owner_gid", "size",
                             "attributes_source", "fd", "bytes_written", "writes", "duration", "target_sha256"})
    CHECK(row.count(absent) == 0);
}

TEST_CASE("requested mode, owner and fd appear only where the call has them", "[bridge][file_table]") {
  SECTION("an open that creates: requested mode and the fd it returned") {
    FileTable t;
    v1::Event event = file_event(v1::FILE_OPERATION_CREATE, "openat");
    event.mutable_file()->set_open_flags(O_WRONLY | O_CREAT | O_EXCL);
    event.mutable_file()->set_requested_mode(0600);
    event.mutable_file()->set_result(3);
    event.mutable_file()->set_fd(3);
    const Row row = t.only_row(event);
    CHECK(row.at("requested_mode") == "0600");
    CHECK(row.at("fd") == "3");
    CHECK(row.count("exchange") == 0);
  }
  SECTION("chmod by name: setuid bits in the mode, no fd") {
    FileTable t;
    v1::Event event = file_event(v1::FILE_OPERATION_CHMOD, "fchmodat");
    event.mutable_file()->set_requested_mode(04755);
    const Row row = t.only_row(event);
    CHECK(row.at("requested_mode") == "4755");
    CHECK(row.count("fd") == 0);
  }
  SECTION("fchown leaving the group unchanged") {
    FileTable t;
    v1::Event event = file_event(v1::FILE_OPERATION_CHOWN, "fchown");
    event.mutable_file()->set_requested_uid(0);
    event.mutable_file()->set_fd(5);
    const Row row = t.only_row(event);
    CHECK(row.at("requested_uid") == "0");
    CHECK(row.count("requested_gid") == 0);
    CHECK(row.count("requested_mode") == 0);
    CHECK(row.at("fd") == "5");
  }
  SECTION("symlink and setxattr name what they set") {
    FileTable t;
    v1::Event event = file_event(v1::FILE_OPERATION_SYMLINK, "symlinkat");
    event.mutable_file()->set_symlink_target("../tmp/evil");
    CHECK(t.only_row(event).at("symlink_target") == "../tmp/evil");
    FileTable u;
    event = file_event(v1::FILE_OPERATION_SETXATTR, "setxattr");
    event.mutable_file()->set_xattr_name("security.capability");
    CHECK(u.only_row(event).at("xattr_name") == "security.capability");
  }
}

TEST_CASE("the file table takes file events only", "[bridge][file_table]") {
  FileTable t;
  CHECK(t.table.accepts(v1::EVENT_KIND_FILE));
  CHECK_FALSE(t.table.accepts(v1::EVENT_KIND_EXEC));
  CHECK_FALSE(t.table.accepts(v1::EVENT_KIND_SOCKET));
  CHECK(family_table_name(t.family, "vajra") == "vajra_file_events");
}

TEST_CASE("vajra_status: vajrad's file status as daemon_file_* columns", "[bridge][file_table]") {
  v1::FileStatus files;
  for (const auto& [operation, count] : {std::pair{v1::FILE_OPERATION_OPEN_WRITE, 900}, std::pair{v1::FILE_OPERATION_MODIFY, 100}}) {
    v1::FileOperationCount* filtered = files.add_kernel_filtered();
    filtered->set_operation(operation);
    filtered->set_count(count);
  }
  files.set_unmatched(17);
  v1::FileCategoryStatus* category = files.add_categories();
  category->set_name("etc");
  category->set_matched(40);
  category->set_hashed(30);
  category->set_hash_failures(1);
  files.set_watch_generation(3);
  files.set_last_reload_error("etc: bad glob");
  files.add_unresolved_prefixes("/etc/app.d");
  Row row;
  add_file_status(files, row);
  CHECK(row.at("daemon_file_kernel_filtered") == "1000");
  CHECK(row.at("daemon_file_unmatched") == "17");
  CHECK(nlohmann::json::parse(row.at("daemon_file_categories")) ==
        nlohmann::json::parse(R"([{"name":"etc","matched":40,"hashed":30,"hash_failures":1}])"));
  CHECK(row.at("daemon_file_watch_generation") == "3");
  CHECK(row.at("daemon_file_reload_error") == "etc: bad glob");
  CHECK(nlohmann::json::parse(row.at("daemon_file_unresolved_prefixes")) == nlohmann::json::parse(R"(["/etc/app.d"])"));
}
