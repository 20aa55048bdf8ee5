#include "refresher/http/transport.h"

#include <algorithm>
#include <cctype>

namespace ckh {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '.' || c == '-' || c == '_' || c == '~' || c == '%' || c == ':' ||
         c == '[' || c == ']';
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (equal_ignoring_case(name, lowercase_name)) return value;
  }
  return std::nullopt;
}

std::string url_host(std::string_view url) {
  constexpr std::string_view kUnparsable = "(unparsable URL)";
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::string(kUnparsable);
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::string(kUnparsable);
    host = authority.substr(0, close + 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return std::string(kUnparsable);
  }
  return std::string(host);
}

}  // namespace ckh
