// Lexical path arithmetic: joining a name to the directory it is relative to, and normalising the
// result the way the kernel's lookup would if no component were a symlink.
#pragma once

#include <string>
#include <string_view>

namespace vajra {

// "/a/./b//c/../d" -> "/a/b/d". ".." at the root stays at the root. Always absolute; "" -> "/".
std::string normalize_path(std::string_view path);

// `name` as the process passed it, joined to `base`: the directory it is relative to, or for an
// absolute name the process's root ("/" outside a chroot). The result is normalised.
std::string resolve_name(std::string_view base, std::string_view name);

// Whether `path` is `prefix` or below it, by whole components ("/etc" covers "/etc/x", not "/etcx").
bool path_has_prefix(std::string_view path, std::string_view prefix);

}  // namespace vajra
