// Container attribution from a process's cgroup v2 path: the path is all the kernel tells us, and the
// runtimes name their cgroups after the container.
#pragma once

#include <string_view>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

// Recognised path components (an id is exactly 64 lower-case hex digits; anything else is not one):
//   docker-<id>.scope, /docker/<id>                                      -> docker
//   cri-containerd-<id>.scope                                            -> containerd
//   crio-<id>.scope, crio-<id>                                           -> cri-o
//   libpod-<id>.scope, libpod_parent/libpod-<id>                         -> podman
//   /kubepods/<qos>/pod<uid>/<id> (cgroupfs driver)                      -> containerd, the default CRI
//     runtime since dockershim's removal; cri-dockerd uses the same shape, which cannot be told apart
//   /lxc/<name>, /lxc.payload/<name>, /lxc.payload.<name>               -> lxc, id = name
// Monitors (crio-conmon-<id>.scope, libpod-conmon-<id>.scope, lxc.monitor...) are not the container.
// The innermost component that names a container wins, so nested containers get the inner id and
// sub-cgroups a runtime makes inside a container (.../docker-<id>.scope/init.scope) keep the outer id.
// pod_uid comes from a kubepods pod component (kubepods-<qos>-pod<uid>.slice with '_' turned back
// into '-', or pod<uid>) whether or not a container was found; runtime stays UNSPECIFIED when none was.
vajra::v1::Container parse_container(std::string_view cgroup_path);

}  // namespace vajra
