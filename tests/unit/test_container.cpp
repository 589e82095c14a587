// Container attribution from cgroup paths, for every runtime layout we know and for look-alikes.
#include <catch2/catch.hpp>

#include <cctype>
#include <string>

#include "container.h"

using namespace vajra;
using v1::ContainerRuntime;

namespace {

const std::string kId = "3f4e9c2a1b0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
const std::string kInnerId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kPodUid = "5b1f7c9e-2d3a-4b8c-9e0f-1a2b3c4d5e6f";
const std::string kPodUidSystemd = "5b1f7c9e_2d3a_4b8c_9e0f_1a2b3c4d5e6f";

void check_container(const std::string& path, ContainerRuntime runtime, const std::string& id,
                     const std::string& pod_uid = "") {
  INFO("cgroup path: " << path);
  const v1::Container container = parse_container(path);
  CHECK(v1::ContainerRuntime_Name(container.runtime()) == v1::ContainerRuntime_Name(runtime));
  CHECK(container.id() == id);
  CHECK(container.pod_uid() == pod_uid);
}

void check_no_container(const std::string& path) {
  check_container(path, v1::CONTAINER_RUNTIME_UNSPECIFIED, "");
}

}  // namespace

TEST_CASE("container: docker", "[container]") {
  check_container("/system.slice/docker-" + kId + ".scope", v1::CONTAINER_RUNTIME_DOCKER, kId);
  check_container("/docker/" + kId, v1::CONTAINER_RUNTIME_DOCKER, kId);
  // Rootless docker lives in the user's systemd instance.
  check_container("/user.slice/user-1000.slice/user@1000.service/docker-" + kId + ".scope",
                  v1::CONTAINER_RUNTIME_DOCKER, kId);
}

TEST_CASE("container: containerd under Kubernetes, systemd driver", "[container]") {
  for (const std::string qos : {"burstable", "besteffort"}) {
    check_container("/kubepods.slice/kubepods-" + qos + ".slice/kubepods-" + qos + "-pod" + kPodUidSystemd +
                        ".slice/cri-containerd-" + kId + ".scope",
                    v1::CONTAINER_RUNTIME_CONTAINERD, kId, kPodUid);
  }
  // Guaranteed pods sit directly under kubepods.slice.
  check_container("/kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/cri-containerd-" + kId + ".scope",
                  v1::CONTAINER_RUNTIME_CONTAINERD, kId, kPodUid);
}

TEST_CASE("container: Kubernetes cgroupfs driver is attributed to containerd", "[container]") {
  check_container("/kubepods/burstable/pod" + kPodUid + "/" + kId, v1::CONTAINER_RUNTIME_CONTAINERD, kId,
                  kPodUid);
  check_container("/kubepods/pod" + kPodUid + "/" + kId, v1::CONTAINER_RUNTIME_CONTAINERD, kId, kPodUid);
  // Static pods have a 32-hex uid: the kubelet hashes their manifest.
  const std::string static_uid = "6d2c0c9b1f3a4e5d8c7b6a5f4e3d2c1b";
  check_container("/kubepods/besteffort/pod" + static_uid + "/" + kId, v1::CONTAINER_RUNTIME_CONTAINERD, kId,
                  static_uid);
}

TEST_CASE("container: cri-o, and its conmon monitor is not the container", "[container]") {
  const std::string pod_slice =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidSystemd + ".slice/";
  check_container(pod_slice + "crio-" + kId + ".scope", v1::CONTAINER_RUNTIME_CRIO, kId, kPodUid);
  check_container("/kubepods/burstable/pod" + kPodUid + "/crio-" + kId, v1::CONTAINER_RUNTIME_CRIO, kId,
                  kPodUid);
  // conmon runs in the pod's cgroup on the host side: the pod is named, no container is.
  check_container(pod_slice + "crio-conmon-" + kId + ".scope", v1::CONTAINER_RUNTIME_UNSPECIFIED, "",
                  kPodUid);
}

TEST_CASE("container: podman", "[container]") {
  check_container("/machine.slice/libpod-" + kId + ".scope", v1::CONTAINER_RUNTIME_PODMAN, kId);
  check_container("/libpod_parent/libpod-" + kId, v1::CONTAINER_RUNTIME_PODMAN, kId);
  check_container("/machine.slice/libpod-" + kId + ".scope/container", v1::CONTAINER_RUNTIME_PODMAN, kId);
  check_no_container("/machine.slice/libpod-conmon-" + kId + ".scope");
}

TEST_CASE("container: lxc names its containers freely", "[container]") {
  check_container("/lxc/web-01", v1::CONTAINER_RUNTIME_LXC, "web-01");
  check_container("/lxc.payload/web-01", v1::CONTAINER_RUNTIME_LXC, "web-01");
  check_container("/lxc.payload.web-01", v1::CONTAINER_RUNTIME_LXC, "web-01");
  // A systemd inside the container makes its own cgroups; they still belong to it.
  check_container("/lxc.payload.web-01/system.slice/nginx.service", v1::CONTAINER_RUNTIME_LXC, "web-01");
  check_container("/lxc.payload/web-01/init.scope", v1::CONTAINER_RUNTIME_LXC, "web-01");
  // The monitor runs on the host side.
  check_no_container("/lxc.monitor.web-01");
  check_no_container("/lxc.monitor/web-01");
  check_no_container("/lxc.payload.");
  check_no_container("/lxc");
}

TEST_CASE("container: the innermost container wins", "[container]") {
  check_container("/docker/" + kId + "/docker/" + kInnerId, v1::CONTAINER_RUNTIME_DOCKER, kInnerId);
  check_container("/lxc.payload.ci/system.slice/docker-" + kInnerId + ".scope", v1::CONTAINER_RUNTIME_DOCKER,
                  kInnerId);
  check_container("/kubepods/burstable/pod" + kPodUid + "/" + kId + "/lxc/nested", v1::CONTAINER_RUNTIME_LXC,
                  "nested", kPodUid);
  // Sub-cgroups inside a container are not containers, so the outer id stays.
  check_container("/system.slice/docker-" + kId + ".scope/init.scope", v1::CONTAINER_RUNTIME_DOCKER, kId);
  check_container("/system.slice/docker-" + kId + ".scope/system.slice/cron.service",
                  v1::CONTAINER_RUNTIME_DOCKER, kId);
}

TEST_CASE("container: host cgroups are no container", "[container]") {
  check_no_container("");
  check_no_container("/");
  check_no_container("/user.slice/user-1000.slice/session-3.scope");
  check_no_container("/system.slice/docker.service");
  check_no_container("/system.slice/containerd.service");
  check_no_container("/init.scope");
  check_no_container("/docker");
  check_no_container("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope");
}

TEST_CASE("container: hex of the wrong length or case is no id", "[container]") {
  const std::string short_id = kId.substr(0, 63);
  const std::string long_id = kId + "0";
  std::string upper_id = kId;
  for (char& c : upper_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string non_hex = kId.substr(0, 63) + "g";
  for (const std::string& bad : {short_id, long_id, upper_id, non_hex, std::string("abc123")}) {
    check_no_container("/system.slice/docker-" + bad + ".scope");
    check_no_container("/docker/" + bad);
    check_no_container("/machine.slice/libpod-" + bad + ".scope");
    check_container(
        "/kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/cri-containerd-" + bad + ".scope",
        v1::CONTAINER_RUNTIME_UNSPECIFIED, "", kPodUid);
  }
  // A bare id only counts under docker/ or a pod: elsewhere 64 hex digits may be anything.
  check_no_container("/system.slice/" + kId);
  check_no_container("/" + kId);
}

TEST_CASE("container: pod uids must look like pod uids, under kubepods", "[container]") {
  check_container("/kubepods/burstable/pod" + kPodUid.substr(1) + "/" + kId,
                  v1::CONTAINER_RUNTIME_UNSPECIFIED, "");
  check_container("/kubepods/burstable/podnot-a-uid/" + kId, v1::CONTAINER_RUNTIME_UNSPECIFIED, "");
  // "pod<uid>" outside kubepods is some other pod (podman, say), not a Kubernetes one.
  check_container("/machine.slice/pod" + kPodUid + "/" + kId, v1::CONTAINER_RUNTIME_UNSPECIFIED, "");
  check_container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podzzz.slice/cri-containerd-" +
                      kId + ".scope",
                  v1::CONTAINER_RUNTIME_CONTAINERD, kId, "");
  // The pod itself, with no container below it yet.
  check_container(
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kPodUidSystemd + ".slice",
      v1::CONTAINER_RUNTIME_UNSPECIFIED, "", kPodUid);
}

TEST_CASE("container: repeated and trailing slashes do not matter", "[container]") {
  check_container("//system.slice//docker-" + kId + ".scope/", v1::CONTAINER_RUNTIME_DOCKER, kId);
  check_container("system.slice/docker-" + kId + ".scope", v1::CONTAINER_RUNTIME_DOCKER, kId);
}
