// Turns ring-buffer records (bpf/vajra_wire.h) into API events. Pure: no I/O, no process cache, so
// every malformed shape can be unit-tested with hand-built records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "boot_clock.h"
#include "config.h"
#include "vajra/v1/vajra.pb.h"
#include "vajra_wire.h"

namespace vajra {

// What identifies the executed file on disk; the hasher checks it before trusting a hash.
struct FileIdentity {
  uint32_t dev = 0;  // kernel dev_t encoding (major << 20 | minor)
  uint64_t ino = 0;
  uint64_t size = 0;
  uint64_t mtime_ns = 0;
  bool operator==(const FileIdentity& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
  }
};

struct DecodedEvent {
  v1::Event event;
  uint64_t start_boottime_ns = 0;        // identity of event.process (with its pid)
  uint64_t child_start_boottime_ns = 0;  // fork only
  bool has_exe_identity = false;         // exec only
  FileIdentity exe_identity;
};

// Leaf-first NUL-terminated components -> "/usr/bin/true". Empty -> "/".
std::string join_path_components(std::string_view leaf_first);

// A file's type from its mode bits, as FileEvent.file_type names it ("regular", "directory", ...).
const char* file_type_name(uint32_t mode);

// Symbolic errno name ("ENOENT"), or the number as text when unknown.
std::string errno_name(int error);

// The event's time and its process as the kernel saw it, from a record's task part.
void fill_task(const vj_task& task, const BootClock& clock, v1::Event& event);

// Reads a fixed-size record prefix; the ring buffer gives no alignment promise to C++ objects.
template <typename T>
bool read_fixed(std::string_view rec, T& out) {
  if (rec.size() < sizeof(T)) return false;
  std::memcpy(&out, rec.data(), sizeof(T));
  return true;
}

// Consumes a record's variable part section by section, in the order its fixed part lists them.
class RecordSections {
 public:
  explicit RecordSections(std::string_view data) : rest_(data) {}
  bool take(uint32_t len, std::string_view& out) {
    if (len > rest_.size()) return false;
    out = rest_.substr(0, len);
    rest_.remove_prefix(len);
    return true;
  }

 private:
  std::string_view rest_;
};

class Decoder {
 public:
  Decoder(const ProcessConfig& config, const BootClock& clock);

  // Fills `out` from one record. Returns false, with `error` saying what is wrong, when the record is
  // malformed (short, unknown kind, section lengths past its end).
  bool decode(const void* data, size_t size, DecodedEvent& out, std::string& error) const;

 private:
  bool decode_exec(std::string_view rec, DecodedEvent& out, std::string& error) const;
  bool decode_exec_failed(std::string_view rec, DecodedEvent& out, std::string& error) const;
  bool decode_fork(std::string_view rec, DecodedEvent& out, std::string& error) const;
  bool decode_exit(std::string_view rec, DecodedEvent& out, std::string& error) const;
  // In decode_net.cpp.
  bool decode_socket(std::string_view rec, DecodedEvent& out, std::string& error) const;
  bool decode_dns(std::string_view rec, DecodedEvent& out, std::string& error) const;
  // In decode_file.cpp.
  bool decode_file(std::string_view rec, DecodedEvent& out, std::string& error) const;

  const ProcessConfig& config_;
  const BootClock& clock_;
};

}  // namespace vajra
