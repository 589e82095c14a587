#include "digest.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace vajra {
namespace {

std::string to_hex(const unsigned char* bytes, unsigned int len) {
  static const char digits[] = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return hex;
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

}  // namespace

std::string digest_fd(int fd, const std::vector<std::string>& algorithms, std::vector<std::string>& hex) {
  std::vector<DigestContext> contexts;
  for (const std::string& name : algorithms) {
    const EVP_MD* md = EVP_get_digestbyname(name.c_str());
    if (!md) return "OpenSSL has no digest " + name;
    DigestContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return "OpenSSL " + name + " init failed";
    contexts.push_back(std::move(ctx));
  }
  constexpr size_t kChunk = 1 << 16;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  for (;;) {
    const ssize_t n = read(fd, buf.get(), kChunk);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("read: ") + std::strerror(errno);
    }
    for (DigestContext& ctx : contexts) EVP_DigestUpdate(ctx.get(), buf.get(), static_cast<size_t>(n));
  }
  hex.clear();
  for (DigestContext& ctx : contexts) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    hex.push_back(to_hex(digest, len));
  }
  return "";
}

}  // namespace vajra
