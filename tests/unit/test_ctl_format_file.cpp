// vajractl's file events: the line, the JSON, the subscriber filter and the status section.
#include <catch2/catch.hpp>

#include <string>

#include "ctl_format.h"

using namespace vajra;

namespace {

constexpr uint64_t kTime = 1714566896789000000ull;  // 2024-05-01T12:34:56.789Z
const std::string kPrefix = "2024-05-01T12:34:56.789Z file pid=1234 ppid=1 uid=0 exe=/usr/bin/vi ";

v1::Event file_event(v1::FileOperation operation, const std::string& path) {
  v1::Event event;
  event.set_time_ns(kTime);
  event.set_kind(v1::EVENT_KIND_FILE);
  v1::Process* process = event.mutable_process();
  process->set_pid(1234);
  process->set_ppid(1);
  process->set_exe("/usr/bin/vi");
  v1::FileEvent* file = event.mutable_file();
  file->set_operation(operation);
  file->mutable_path()->set_path(path);
  file->add_categories("etc");
  return event;
}

std::string text_of(const v1::Event& event) {
  std::string line;
  ctl::append_event_text(event, line);
  return line;
}

}  // namespace

TEST_CASE("file line: a modify with its write counts and categories") {
  v1::Event event = file_event(v1::FILE_OPERATION_MODIFY, "/etc/passwd");
  event.mutable_file()->add_categories("accounts");
  event.mutable_file()->set_bytes_written(120);
  event.mutable_file()->set_writes(2);
  CHECK(text_of(event) == kPrefix + "op=modify path=/etc/passwd bytes=120 writes=2 categories=etc,accounts");
}

TEST_CASE("file line: a rename gives both paths, container host paths and path flags") {
  v1::Event event = file_event(v1::FILE_OPERATION_RENAME, "/etc/hosts.tmp");
  v1::FileEvent& f = *event.mutable_file();
  f.mutable_path()->set_deleted(true);
  f.mutable_new_path()->set_path("/etc/hosts");
  f.mutable_new_path()->set_host_path("/var/lib/docker/overlay2/abc/merged/etc/hosts");
  f.set_exchange(true);
  CHECK(text_of(event) == kPrefix + "op=rename path=/etc/hosts.tmp path_deleted new_path=/etc/hosts "
                                    "new_host_path=/var/lib/docker/overlay2/abc/merged/etc/hosts exchange categories=etc");
}

TEST_CASE("file line: a failed call names its error, from errno when the daemon gave no name") {
  v1::Event event = file_event(v1::FILE_OPERATION_DELETE, "/etc/shadow");
  event.mutable_file()->set_result(-13);
  event.mutable_file()->set_errno_value(13);
  CHECK(text_of(event) == kPrefix + "op=delete path=/etc/shadow error=EACCES categories=etc");
  event.mutable_file()->set_error("EPERM");
  CHECK(text_of(event).find(" error=EPERM ") != std::string::npos);
}

TEST_CASE("file line: chmod, chown, symlink and xattr details: an unresolved path") {
  v1::Event event = file_event(v1::FILE_OPERATION_CHMOD, "/etc/sudoers");
  event.mutable_file()->set_requested_mode(04755);
  CHECK(text_of(event) == kPrefix + "op=chmod path=/etc/sudoers mode=4755 categories=etc");

  event.mutable_file()->set_operation(v1::FILE_OPERATION_CHOWN);
  event.mutable_file()->set_requested_uid(0);
  CHECK(text_of(event).find(" op=chown path=/etc/sudoers owner=0:- ") != std::string::npos);

  event = file_event(v1::FILE_OPERATION_SYMLINK, "/etc/cron.d/job");
  event.mutable_file()->set_symlink_target("../../tmp/x y");
  CHECK(text_of(event).find(" path=/etc/cron.d/job target=\"../../tmp/x y\" ") != std::string::npos);

  event = file_event(v1::FILE_OPERATION_SETXATTR, "/usr/bin/ping");
  event.mutable_file()->set_xattr_name("security.capability");
  CHECK(text_of(event).find(" xattr=security.capability ") != std::string::npos);

  event = file_event(v1::FILE_OPERATION_CREATE, "");
  event.mutable_file()->mutable_path()->set_unresolved("name unreadable");
  event.mutable_file()->mutable_path()->set_truncated(true);
  CHECK(text_of(event) ==
        kPrefix + "op=create path=\"\" path_unresolved=\"name unreadable\" path_truncated categories=etc");
}

TEST_CASE("file JSON carries the body under `file` with proto field names") {
  v1::Event event = file_event(v1::FILE_OPERATION_MODIFY, "/etc/passwd");
  v1::FileHash* hash = event.mutable_file()->add_hashes();
  hash->set_algorithm("sha256");
  hash->set_hex("ab12");
  const std::string json = ctl::to_json(event);
  CHECK(json.find("\"kind\":\"EVENT_KIND_FILE\"") != std::string::npos);
  CHECK(json.find("\"operation\":\"FILE_OPERATION_MODIFY\"") != std::string::npos);
  CHECK(json.find("\"path\":{\"path\":\"/etc/passwd\",") != std::string::npos);
  CHECK(json.find("\"hashes\":[{\"algorithm\":\"sha256\",\"hex\":\"ab12\"}]") != std::string::npos);
  CHECK(json.find("\"categories\":[\"etc\"]") != std::string::npos);
}

TEST_CASE("vajractl --kind file selects file events") {
  CHECK(ctl::kinds_named("file") == std::vector<v1::EventKind>{v1::EVENT_KIND_FILE});
}

TEST_CASE("status report: the files section, and file filters of subscribers") {
  v1::StatusResponse status;
  v1::FileStatus& files = *status.mutable_files();
  files.set_watch_generation(3);
  files.set_kernel_dirs(12);
  files.set_kernel_names(4);
  files.set_kernel_prefixes(2);
  files.add_unresolved_prefixes("/etc/app.d");
  files.set_unmatched(17);
  v1::FileOperationCount* filtered = files.add_kernel_filtered();
  filtered->set_operation(v1::FILE_OPERATION_OPEN_WRITE);
  filtered->set_count(900);
  v1::FileCategoryStatus* category = files.add_categories();
  category->set_name("etc");
  category->set_matched(40);
  category->set_hashed(30);
  category->set_hash_failures(1);
  v1::SubscriberStatus* subscriber = status.add_subscribers();
  subscriber->mutable_filter()->add_categories("etc");
  subscriber->mutable_filter()->add_path_prefixes("/etc/ssh");

  std::string text = ctl::format_status_text(status, 0);
  CHECK(text.find("\nfiles          watch generation 3, last reload applied\n"
                  "  kernel maps  12 dirs, 4 names, 2 prefixes\n"
                  "  unresolved   /etc/app.d  (does not exist yet: its nearest existing parent is watched)\n"
                  "  unmatched              17  passed the kernel's filter, matched no category's globs\n") !=
        std::string::npos);
  CHECK(text.find("\n  open_write            900\n") != std::string::npos);
  CHECK(text.find("\ncategories          matched       hashed hash_failures\n"
                  "  etc                    40           30             1\n") != std::string::npos);
  CHECK(text.find("filter: categories=etc path_prefixes=/etc/ssh\n") != std::string::npos);

  files.set_last_reload_error("etc: bad glob");
  text = ctl::format_status_text(status, 0);
  CHECK(text.find("watch generation 3, last reload failed: etc: bad glob\n") != std::string::npos);

  status.clear_files();
  CHECK(ctl::format_status_text(status, 0).find("\nfiles ") == std::string::npos);
}
