// Turning a process's raw argv and environment bytes into strings fit for protobuf and osquery.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vajra {

// osquery's bpf_process_events `cmdline`: arguments joined by single spaces; an argument holding ASCII
// whitespace (space, \t, \n, \v, \f, \r) is wrapped in single quotes. Byte-compatible with osquery, so
// it is lossy the same way: embedded quotes are not escaped and an empty argument adds nothing but its
// separator (["a", "", "b"] gives "a  b"). The bridge's `json_cmdline` column is the exact form.
std::string join_cmdline(const std::vector<std::string>& argv);

// Valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) passes unchanged;
// every byte that is not part of a valid sequence becomes the four characters "\xNN" (lower-case hex).
// The escape is not reversible: a literal "\x80" in valid input stays as it is.
std::string sanitize_utf8(std::string_view bytes);

// Splits a NUL-separated block (argv or environment as the kernel copied it) into sanitized items.
// One trailing NUL ends the last item rather than starting an empty one; an unterminated last item
// (the copy was cut) is kept as far as it goes. "" gives no items, "\0" one empty item. At most
// `max_items` are returned; `*truncated` (when not null) says whether items were dropped.
std::vector<std::string> split_nul(std::string_view block, size_t max_items, bool* truncated);

// The allow-listed variables of a NUL-separated environment block, by exact name. When a name occurs
// twice the first wins, as getenv() does. Entries without '=' are skipped; values are sanitized.
std::map<std::string, std::string> env_select(std::string_view env_block,
                                              const std::vector<std::string>& allow);

}  // namespace vajra
