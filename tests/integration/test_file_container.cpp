// A process in a runc container changes a watched file: the watch list names the host path (inside
// the bundle's rootfs); the events carry the container, the path as the container sees it and the
// host path.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.h"

using namespace vajra::v1;

TEST_CASE("file container: a write in a runc container has its container id, container path and host path", "[file]") {
  REQUIRE_KERNEL();
  if (!vt::require_runc()) return;
  vt::RuncContainer runc({"/bin/sh", "-c", "read line; echo x > /data/f; /bin/busybox rm /data/g; read line"});
  // A writable rootfs with a /data directory, seen from the host under the bundle.
  nlohmann::json spec = nlohmann::json::parse(vt::read_file(runc.bundle_file("config.json")));
  spec["root"]["readonly"] = false;
  std::ofstream(runc.bundle_file("config.json")) << spec.dump(2);
  const std::string host_data = vt::realpath_of(runc.bundle_file("rootfs")) + "/data";
  std::filesystem::create_directory(host_data);
  std::ofstream(host_data + "/g") << "g";

  vt::Daemon daemon(vt::files_config({{"ctr", {host_data + "/**"}, {}, {}, {}}}));
  SubscribeRequest request;
  request.add_container_ids(runc.id());
  vt::EventStream stream(daemon, request);
  vt::Child container(runc.run_argv());

  const Event sh = vt::wait_file_event(
      daemon, stream,
      [](const Event& e) {
        return e.kind() == EVENT_KIND_EXEC && e.process().argv_size() > 0 && e.process().argv(0) == "/bin/sh";
      },
      "exec of /bin/sh in the container");
  const pid_t pid = static_cast<pid_t>(sh.process().pid());
  container.release();
  // The shell's rm child exits after the writes: wait for that, then for the file events (on failure,
  // say where vajrad's file counters stand).
  vt::wait_file_event(
      daemon, stream,
      [](const Event& e) {
        return e.kind() == EVENT_KIND_EXIT && e.process().argv_size() > 1 && e.process().argv(1) == "rm";
      },
      "exit of rm in the container");
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  while (stream.count(vt::kind_is(EVENT_KIND_FILE)) < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  INFO("files status: " << vt::to_json(daemon.status().files()));
  const Event create =
      vt::wait_file_event(daemon, stream, vt::file_of(pid, FILE_OPERATION_CREATE, "/data/f"), "create of /data/f");
  const Event modify =
      vt::wait_file_event(daemon, stream, vt::file_of(pid, FILE_OPERATION_MODIFY, "/data/f"), "modify of /data/f");
  const Event del = vt::wait_file_event(
      daemon, stream,
      [](const Event& e) { return e.kind() == EVENT_KIND_FILE && e.file().operation() == FILE_OPERATION_DELETE; },
      "delete of /data/g");

  vt::FileExpect x = vt::file_expect(FILE_OPERATION_CREATE, "openat", "/data/f", PATH_SOURCE_DENTRY, "kernel", {"ctr"});
  x.path.host_path = host_data + "/f";
  x.result = x.fd = 3;  // ash: openat(AT_FDCWD, "/data/f", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3, then dup2(3, 1)
  x.size = 0;
  x.open_flags = O_WRONLY | O_CREAT | O_TRUNC;
  x.open_flags_text = "O_WRONLY|O_CREAT|O_TRUNC";
  x.requested_mode = 0666;
  x.attributes_of = host_data + "/f";
  vt::check_file(create, x);

  // ash ends the cycle when it restores its stdout: dup2(saved, 1) closes the file on fd 1.
  x = vt::file_expect(FILE_OPERATION_MODIFY, "dup2", "/data/f", PATH_SOURCE_DENTRY, "kernel", {"ctr"});
  x.path.host_path = host_data + "/f";
  x.attributes_of = host_data + "/f";
  x.fd = 1;
  x.open_flags = O_WRONLY | 0100000;
  x.open_flags_text = "O_WRONLY|O_LARGEFILE";
  x.bytes_written = 2;
  x.writes = 1;
  x.has_duration = true;
  vt::check_file(modify, x);

  x = vt::file_expect(FILE_OPERATION_DELETE, "unlink", "/data/g", PATH_SOURCE_NAME, "", {"ctr"});
  x.path.host_path = host_data + "/g";
  vt::check_file(del, x);

  for (const Event* e : {&create, &modify, &del}) {
    INFO(vt::describe(*e));
    const Process& p = e->process();
    CHECK(p.container().runtime() == CONTAINER_RUNTIME_DOCKER);
    CHECK(p.container().id() == runc.id());
    CHECK(p.cgroup_path() == runc.cgroup());
    CHECK(p.exe() == "/bin/busybox");
    CHECK(p.namespaces().mnt() == vt::ns_inode(pid, "mnt"));
    CHECK(p.namespaces().mnt() != vt::ns_inode(getpid(), "mnt"));
  }
  CHECK(create.process().ns_pid() == 1);
  CHECK(vt::read_file(host_data + "/f") == "x\n");
  container.release();
  const int status = container.wait();
  CHECK(WIFEXITED(status));
}
