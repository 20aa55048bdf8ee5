#include "shared/kv_lines.h"

#include "shared/text.h"

namespace ckh {

namespace {

// Splits off the next '\n'-terminated line; a final line without '\n' is refused by the
// caller (a truncated file must not parse).
bool next_line(std::string_view& rest, std::string_view& line) {
  const auto newline = rest.find('\n');
  if (newline == std::string_view::npos) return false;
  line = rest.substr(0, newline);
  rest.remove_prefix(newline + 1);
  return true;
}

std::string header_line(std::string_view magic, unsigned version) {
  std::string header(magic);
  header += " v";
  header += to_decimal(version);
  return header;
}

}  // namespace

Result<std::vector<KvLine>> parse_kv_lines(std::string_view text, std::string_view magic,
                                           unsigned version,
                                           std::span<const std::string_view> keys) {
  if (text.find('\0') != std::string_view::npos || text.find('\r') != std::string_view::npos) {
    return fail(ErrorClass::corrupt, "holds NUL or CR bytes");
  }
  std::string_view rest = text;
  std::string_view line;
  if (!next_line(rest, line)) return fail(ErrorClass::corrupt, "is truncated (no header line)");
  if (line.substr(0, magic.size()) != magic || line.size() < magic.size() + 3 ||
      line.substr(magic.size(), 2) != " v") {
    return fail(ErrorClass::corrupt, "does not start with the expected header");
  }
  const std::string_view version_text = line.substr(magic.size() + 2);
  const auto found_version = parse_u64(version_text);
  // Only the writer's own spelling ("v1", never "v01"): one text per content.
  if (!found_version || to_decimal(*found_version) != version_text) {
    return fail(ErrorClass::corrupt, "has a malformed version");
  }
  if (*found_version != version) {
    return fail(ErrorClass::corrupt, "has format version " + to_decimal(*found_version) +
                                         ", this build reads version " + to_decimal(version));
  }
  std::vector<KvLine> lines;
  lines.reserve(keys.size());
  for (std::string_view key : keys) {
    if (!next_line(rest, line)) return fail(ErrorClass::corrupt, "is truncated");
    if (line.size() < key.size() + 2 || line.substr(0, key.size()) != key ||
        line.substr(key.size(), 2) != ": ") {
      return fail(ErrorClass::corrupt,
                  "has a malformed line where '" + std::string(key) + "' belongs");
    }
    lines.push_back(KvLine{key, line.substr(key.size() + 2)});
  }
  if (!next_line(rest, line) || line != "end")
    return fail(ErrorClass::corrupt, "is truncated (no end line)");
  if (!rest.empty()) return fail(ErrorClass::corrupt, "has bytes after the end line");
  return lines;
}

std::optional<std::optional<std::int64_t>> parse_optional_time(std::string_view value) {
  if (value == "none") return std::optional<std::int64_t>{};
  auto parsed = parse_i64(value);
  if (!parsed) return std::nullopt;
  return std::optional<std::int64_t>{*parsed};
}

std::string format_optional_time(const std::optional<std::int64_t>& value) {
  return value ? to_decimal(*value) : std::string("none");
}

std::string write_kv_lines(std::string_view magic, unsigned version,
                           std::span<const KvLine> lines) {
  std::string out = header_line(magic, version);
  out += '\n';
  for (const KvLine& line : lines) {
    out += line.key;
    out += ": ";
    out += line.value;
    out += '\n';
  }
  out += "end\n";
  return out;
}

}  // namespace ckh
