// A real container: runc runs a busybox-static rootfs in its own pid, mount, net, uts and ipc
// namespaces under a docker-style cgroup; the exec inside must be attributed to it.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

}  // namespace

TEST_CASE("container: an exec in a runc container carries docker attribution and its own namespaces") {
  REQUIRE_KERNEL();
  if (!vt::require_runc()) return;
  const std::string busybox = vt::find_program("busybox");
  const std::string marker = "vajra-container-" + vt::random_hex(8);
  const std::string script = "read line; /bin/busybox true " + marker + "; exit 0";
  const std::vector<std::string> sh_argv{"/bin/sh", "-c", script};
  const std::vector<std::string> true_argv{"/bin/busybox", "true", marker};
  vt::RuncContainer runc(sh_argv);
  const std::string& id = runc.id();
  const std::string& cgroup = runc.cgroup();

  vt::Daemon daemon;
  SubscribeRequest request;
  request.add_container_ids(id);
  vt::EventStream stream(daemon, request);

  vt::Child container(runc.run_argv());

  const Event sh = stream.wait_for(
      [](const Event& e) { return e.kind() == EVENT_KIND_EXEC && e.process().argv_size() > 0 && e.process().argv(0) == "/bin/sh"; },
      "exec of /bin/sh in the container");
  const pid_t sh_pid = static_cast<pid_t>(sh.process().pid());
  // Facts about the container, read while its shell waits on stdin.
  const std::string mount = vt::cgroup2_mount();
  const uint64_t cgroup_inode = vt::inode_of(mount + cgroup);
  REQUIRE(cgroup_inode != 0);
  REQUIRE(vt::cgroup2_path(sh_pid) == cgroup);
  std::map<std::string, uint32_t> container_ns, host_ns;
  for (const char* ns : {"pid", "mnt", "net", "uts", "ipc", "user", "cgroup"}) {
    container_ns[ns] = vt::ns_inode(sh_pid, ns);
    host_ns[ns] = vt::ns_inode(getpid(), ns);
  }

  container.release();
  const Event e = stream.wait_for(
      [&](const Event& x) { return x.kind() == EVENT_KIND_EXEC && strings(x.process().argv()) == true_argv; },
      "exec of busybox true in the container");
  const int status = container.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  {
    INFO("shell exec event: " << vt::to_json(sh));
    const Process& p = sh.process();
    CHECK(p.ns_pid() == 1);
    CHECK(p.pid() != 1);
    CHECK(p.ppid() == static_cast<uint32_t>(container.pid()));  // runc run is the container init's parent
    CHECK(p.exe() == "/bin/busybox");  // /bin/sh resolved, as a path inside the container
    CHECK(strings(p.argv()) == sh_argv);
    CHECK(p.comm() == "sh");
    CHECK(p.cwd() == "/");
    CHECK(p.container().runtime() == CONTAINER_RUNTIME_DOCKER);
    CHECK(p.container().id() == id);
    CHECK(p.cgroup_path() == cgroup);
    CHECK(p.cgroup_id() == cgroup_inode);
    CHECK(p.exe_hash_status() == HASH_STATUS_OK);
    CHECK(p.exe_sha256() == vt::sha256_file(busybox));
  }

  INFO("exec event in the container: " << vt::to_json(e));
  const Process& p = e.process();
  CHECK(e.kind() == EVENT_KIND_EXEC);
  CHECK(p.container().runtime() == CONTAINER_RUNTIME_DOCKER);
  CHECK(p.container().id() == id);
  CHECK(p.container().pod_uid() == "");
  CHECK(p.cgroup_path() == cgroup);
  CHECK(p.cgroup_path().find(id) != std::string::npos);
  CHECK(p.cgroup_id() == cgroup_inode);
  // Host pid, its pid inside the container, and its parent the container's shell (host pid).
  CHECK(p.pid() != p.ns_pid());
  CHECK(p.pid() > 1);
  CHECK(p.ns_pid() >= 2);
  CHECK(p.ns_pid() <= 10);
  CHECK(p.tid() == p.pid());
  CHECK(p.ppid() == static_cast<uint32_t>(sh_pid));
  CHECK(p.uid() == 0);
  CHECK(p.euid() == 0);
  CHECK(p.gid() == 0);
  CHECK(p.egid() == 0);
  CHECK(p.exe() == "/bin/busybox");
  CHECK(strings(p.argv()) == true_argv);
  CHECK_FALSE(p.argv_truncated());
  CHECK(p.comm() == "busybox");
  CHECK(p.cwd() == "/");
  CHECK(p.notes_size() == 0);
  for (const char* ns : {"pid", "mnt", "net", "uts", "ipc"}) {
    INFO("namespace " << ns);
    CHECK(container_ns[ns] != host_ns[ns]);
  }
  CHECK(p.namespaces().pid() == container_ns["pid"]);
  CHECK(p.namespaces().mnt() == container_ns["mnt"]);
  CHECK(p.namespaces().net() == container_ns["net"]);
  CHECK(p.namespaces().uts() == container_ns["uts"]);
  CHECK(p.namespaces().ipc() == container_ns["ipc"]);
  CHECK(p.namespaces().user() == container_ns["user"]);
  CHECK(p.namespaces().cgroup() == container_ns["cgroup"]);
  // The file executed is the rootfs copy of busybox: same bytes as the host's.
  CHECK(p.exe_hash_status() == HASH_STATUS_OK);
  CHECK(p.exe_sha256() == vt::sha256_file(busybox));
  struct stat st {};
  REQUIRE(stat(runc.bundle_file("rootfs/bin/busybox").c_str(), &st) == 0);
  CHECK(e.exec().exe_inode() == st.st_ino);
  CHECK(e.exec().exe_size() == static_cast<uint64_t>(st.st_size));
  REQUIRE(p.ancestry_size() >= 2);
  CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(sh_pid));
  CHECK(p.ancestry(0).exe() == "/bin/busybox");
  CHECK(strings(p.ancestry(0).argv()) == sh_argv);
  CHECK(p.ancestry(1).pid() == static_cast<uint32_t>(container.pid()));
  CHECK(p.ancestry(1).exe() == vt::realpath_of(runc.runc()));
}
