#include "helper/output_format.h"

namespace ckh {

namespace {

// A JSON string of printable ASCII (all the record may hold): only '"' and '\' need escapes;
// anything else below 0x20 or above 0x7e cannot occur, but is escaped rather than trusted.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte > 0x7e) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string credential_output(const CredentialRecord& record, OutputFormat format) {
  if (format == OutputFormat::token) return record.credential + "\n";
  std::string out = "{\"token\":";
  append_json_string(out, record.credential);
  out += ",\"headers\":{";
  bool first = true;
  for (const auto& [name, value] : record.headers) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  }
  out += "}}\n";
  return out;
}

}  // namespace ckh
