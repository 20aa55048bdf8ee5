// The line format shared by the credential record (P.cred) and the status record
// (P.status): a header line "<magic> v<version>", then "key: value" lines, then "end".
//
//   claude-key-helper-cred v1
//   generation: 42
//   ...
//   end
//
// Guarantees: parse_kv_lines accepts exactly what write_kv_lines produces, in the given key
// order, and refuses anything else (missing or extra keys, duplicates, a missing "end",
// bytes after it, NUL or CR bytes, an unknown version) with ErrorClass::corrupt.
// Values may not contain '\n'. Callers: record.cpp, status_record.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.h"

namespace ckh {

struct KvLine {
  std::string_view key;
  std::string_view value;
};

// keys: the exact keys expected, in order. The returned views point into text.
Result<std::vector<KvLine>> parse_kv_lines(std::string_view text, std::string_view magic,
                                           unsigned version,
                                           std::span<const std::string_view> keys);

// Appends the header, the lines and "end". Precondition: no value holds '\n'.
std::string write_kv_lines(std::string_view magic, unsigned version, std::span<const KvLine> lines);

// Times in these files: unix seconds, or "none".
std::optional<std::optional<std::int64_t>> parse_optional_time(std::string_view value);
std::string format_optional_time(const std::optional<std::int64_t>& value);

}  // namespace ckh
