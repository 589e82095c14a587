// sha256 of files, with the identity check that keeps a hash from naming the wrong file.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "hasher.h"
#include "proc_reader.h"

using namespace vajra;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/vajra-hash-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    close(fd);
    path = tmpl;
  }
  ~TempFile() { unlink(path.c_str()); }
  FileIdentity identity() const {
    struct stat st {};
    stat(path.c_str(), &st);
    return FileIdentity{kernel_dev(st.st_dev), st.st_ino, static_cast<uint64_t>(st.st_size),
                        static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + st.st_mtim.tv_nsec};
  }
};

// sha256("abc"), FIPS 180-2 test vector.
constexpr const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

}  // namespace

TEST_CASE("hash_file computes sha256 of the expected file") {
  TempFile file("abc");
  HashResult r = hash_file(file.path, file.identity(), 1 << 20);
  CHECK(r.status == v1::HASH_STATUS_OK);
  CHECK(r.sha256 == kAbcSha256);
}

TEST_CASE("hash_file refuses a file that is not the one executed") {
  TempFile file("abc");
  FileIdentity other = file.identity();
  other.mtime_ns += 1;
  HashResult r = hash_file(file.path, other, 1 << 20);
  CHECK(r.status == v1::HASH_STATUS_CHANGED);
  CHECK(r.sha256.empty());
}

TEST_CASE("hash_file reports size limits and unreadable paths") {
  TempFile file("abc");
  CHECK(hash_file(file.path, file.identity(), 2).status == v1::HASH_STATUS_TOO_LARGE);
  HashResult missing = hash_file("/nonexistent/vajra", file.identity(), 1 << 20);
  CHECK(missing.status == v1::HASH_STATUS_UNREADABLE);
  CHECK_THAT(missing.error, Catch::Contains("/nonexistent/vajra"));
}

TEST_CASE("the hasher caches results by identity") {
  TempFile file("abc");
  HashConfig config;
  Hasher hasher(config);
  CHECK_FALSE(hasher.lookup(file.identity()));
  Hasher::Pending pending = hasher.request(file.identity(), file.path);
  REQUIRE(pending.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(pending.get().sha256 == kAbcSha256);
  auto cached = hasher.lookup(file.identity());
  REQUIRE(cached);
  CHECK(cached->sha256 == kAbcSha256);
  // A second request is answered from the cache without reading the file.
  const FileIdentity identity = file.identity();
  unlink(file.path.c_str());
  CHECK(hasher.request(identity, file.path).get().sha256 == kAbcSha256);
  CHECK(hasher.status().hits() == 1);
}

TEST_CASE("a disabled hasher says so") {
  HashConfig config;
  config.enabled = false;
  Hasher hasher(config);
  CHECK(hasher.request(FileIdentity{}, "/bin/true").get().status == v1::HASH_STATUS_DISABLED);
}
