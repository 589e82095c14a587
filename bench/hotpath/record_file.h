// The recorded-event file shared by vbench-record and vbench-replay: the magic line "VBREC1\n", then
// per record a little-endian u32 length and the record's bytes as the ring buffer held them.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vbench {

inline constexpr char kRecordMagic[] = "VBREC1\n";

inline bool write_records(const std::string& path, const std::vector<std::string>& records, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  out.write(kRecordMagic, sizeof(kRecordMagic) - 1);
  for (const std::string& r : records) {
    const uint32_t size = static_cast<uint32_t>(r.size());
    out.write(reinterpret_cast<const char*>(&size), sizeof size);
    out.write(r.data(), static_cast<std::streamsize>(r.size()));
  }
  out.close();
  if (!out) error = "writing " + path + " failed";
  return static_cast<bool>(out);
}

inline bool read_records(const std::string& path, std::vector<std::string>& records, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t magic = sizeof(kRecordMagic) - 1;
  if (data.compare(0, magic, kRecordMagic) != 0) {
    error = path + ": not a vbench record file";
    return false;
  }
  size_t at = magic;
  while (at + 4 <= data.size()) {
    uint32_t size;
    std::memcpy(&size, data.data() + at, 4);
    at += 4;
    if (at + size > data.size()) {
      error = path + ": truncated record";
      return false;
    }
    records.emplace_back(data.substr(at, size));
    at += size;
  }
  return true;
}

}  // namespace vbench
