// Content digests of watched files: every algorithm in one read, and the reasons a digest is missing.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "file_hasher.h"

using namespace vajra;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/vajra-hash-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    path = name;
  }
  ~TempFile() { unlink(path.c_str()); }
  uint64_t ino() const {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_ino;
  }
};

}  // namespace

TEST_CASE("hash_watched_file computes each requested digest") {
  TempFile file("hello\n");
  const FileHashResult result = hash_watched_file(file.path, file.ino(), {"sha256", "sha1", "md5"}, 1024);
  CHECK(result.error.empty());
  REQUIRE(result.hashes.size() == 3);
  CHECK(result.hashes[0].algorithm() == "sha256");
  CHECK(result.hashes[0].hex() == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  CHECK(result.hashes[1].hex() == "f572d396fae9206628714fb2ce00f72e94f2258f");
  CHECK(result.hashes[2].hex() == "b1946ac92492d2347c6235b4d2611184");
}

TEST_CASE("hash_watched_file says why it did not hash") {
  TempFile file("0123456789");
  CHECK(hash_watched_file(file.path, file.ino(), {"sha256"}, 4).error == "10 bytes exceeds hash_max_bytes 4");
  CHECK(hash_watched_file(file.path, file.ino() + 1, {"sha256"}, 100).error.find("replaced") != std::string::npos);
  CHECK(hash_watched_file("/tmp", 0, {"sha256"}, 100).error.find("not a regular file") != std::string::npos);
  CHECK(hash_watched_file("/nonexistent/x", 0, {"sha256"}, 100).error.find("No such file") != std::string::npos);
}

TEST_CASE("FileHasher answers through a future") {
  TempFile file("abc");
  FileHasher hasher;
  FileHasher::Pending pending = hasher.request(file.path, file.ino(), {"md5"}, 100);
  REQUIRE(pending.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  REQUIRE(pending.get().hashes.size() == 1);
  CHECK(pending.get().hashes[0].hex() == "900150983cd24fb0d6963f7d28e17f72");
}
