#include "container.h"

#include <algorithm>
#include <optional>
#include <string>

namespace vajra {
namespace {

using v1::ContainerRuntime;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Docker, containerd, CRI-O and podman all name containers by 64 hex digits; a shorter or longer hex
// run is something else (a truncated id, a hash) and must not be attributed.
bool is_container_id(std::string_view s) { return s.size() == 64 && is_lower_hex(s); }

// A Kubernetes pod uid: a UUID, or 32 hex digits for static pods (the kubelet hashes the manifest).
bool is_pod_uid(std::string_view s) {
  if (s.size() == 32) return is_lower_hex(s);
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_here ? s[i] != '-' : !is_lower_hex(s.substr(i, 1))) return false;
  }
  return true;
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

// The pod uid a component names: systemd driver "kubepods[-<qos>]-pod<uid>.slice" (systemd escapes
// '-' inside a unit name component as '_'), or cgroupfs driver "pod<uid>" below a kubepods directory.
std::optional<std::string> pod_uid_of(std::string_view component, bool under_kubepods) {
  if (strip_prefix(component, "kubepods-") && strip_suffix(component, ".slice")) {
    if (!strip_prefix(component, "burstable-")) strip_prefix(component, "besteffort-");
    if (!strip_prefix(component, "pod")) return std::nullopt;
    std::string uid(component);
    std::replace(uid.begin(), uid.end(), '_', '-');
    if (is_pod_uid(uid)) return uid;
    return std::nullopt;
  }
  if (under_kubepods && strip_prefix(component, "pod") && is_pod_uid(component)) {
    return std::string(component);
  }
  return std::nullopt;
}

struct Attribution {
  ContainerRuntime runtime;
  std::string_view id;
};

// The container a component names, given the component above it. Monitor cgroups such as
// crio-conmon-<id>.scope and libpod-conmon-<id>.scope fail here because "conmon-<id>" is no id.
std::optional<Attribution> container_of(std::string_view component, std::string_view parent,
                                        bool parent_is_pod) {
  static constexpr struct {
    std::string_view prefix;
    ContainerRuntime runtime;
  } kPrefixed[] = {
      {"docker-", v1::CONTAINER_RUNTIME_DOCKER},
      {"cri-containerd-", v1::CONTAINER_RUNTIME_CONTAINERD},
      {"crio-", v1::CONTAINER_RUNTIME_CRIO},
      {"libpod-", v1::CONTAINER_RUNTIME_PODMAN},
  };
  for (const auto& form : kPrefixed) {
    std::string_view id = component;
    if (!strip_prefix(id, form.prefix)) continue;
    strip_suffix(id, ".scope");  // systemd driver adds it, cgroupfs driver does not
    if (is_container_id(id)) return Attribution{form.runtime, id};
  }

  if (is_container_id(component)) {
    if (parent == "docker") return Attribution{v1::CONTAINER_RUNTIME_DOCKER, component};
    if (parent_is_pod) return Attribution{v1::CONTAINER_RUNTIME_CONTAINERD, component};
  }

  // LXC names containers freely, so only its own directories say a component is one.
  if (parent == "lxc" || parent == "lxc.payload") return Attribution{v1::CONTAINER_RUNTIME_LXC, component};
  std::string_view name = component;
  const bool is_payload = strip_prefix(name, "lxc.payload.") && !name.empty();
  if (is_payload) return Attribution{v1::CONTAINER_RUNTIME_LXC, name};
  return std::nullopt;
}

}  // namespace

v1::Container parse_container(std::string_view cgroup_path) {
  v1::Container container;
  std::string_view parent;
  bool under_kubepods = false;
  bool parent_is_pod = false;

  // Outermost component first, so that a later (inner) match overwrites an earlier one.
  size_t start = 0;
  while (start <= cgroup_path.size()) {
    const size_t end = std::min(cgroup_path.find('/', start), cgroup_path.size());
    const std::string_view component = cgroup_path.substr(start, end - start);
    start = end + 1;
    if (component.empty()) continue;

    if (auto found = container_of(component, parent, parent_is_pod)) {
      container.set_runtime(found->runtime);
      container.set_id(std::string(found->id));
    }
    const std::optional<std::string> pod_uid = pod_uid_of(component, under_kubepods);
    if (pod_uid) container.set_pod_uid(*pod_uid);

    under_kubepods = under_kubepods || component == "kubepods" || component == "kubepods.slice";
    parent_is_pod = pod_uid.has_value();
    parent = component;
  }
  return container;
}

}  // namespace vajra
