// Events and requests for the hub's and the server's unit tests.
#pragma once

#include <cstdint>
#include <string>

#include "vajra/v1/vajra.pb.h"

namespace vajra::test {

inline v1::Event process_event(v1::EventKind kind, uint32_t pid, const std::string& exe,
                               const std::string& container_id = "") {
  v1::Event event;
  event.set_kind(kind);
  v1::Process* process = event.mutable_process();
  process->set_pid(pid);
  process->set_exe(exe);
  if (!container_id.empty()) {
    process->mutable_container()->set_runtime(v1::CONTAINER_RUNTIME_DOCKER);
    process->mutable_container()->set_id(container_id);
  }
  return event;
}

inline v1::Event exec_event(uint32_t pid) { return process_event(v1::EVENT_KIND_EXEC, pid, "/usr/bin/true"); }

inline v1::SubscribeRequest resume_from(const std::string& instance, uint64_t seq) {
  v1::SubscribeRequest request;
  request.mutable_resume()->set_daemon_instance(instance);
  request.mutable_resume()->set_seq(seq);
  return request;
}

}  // namespace vajra::test
