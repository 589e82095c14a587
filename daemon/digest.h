// Content digests through OpenSSL, shared by the exe hasher and the file-event hasher.
#pragma once

#include <string>
#include <vector>

namespace vajra {

// Reads `fd` to its end once, feeding every named algorithm ("sha256", "sha1", "md5"). On success
// fills `hex` (lower-case, one per algorithm, in order) and returns ""; otherwise returns why not.
std::string digest_fd(int fd, const std::vector<std::string>& algorithms, std::vector<std::string>& hex);

}  // namespace vajra
