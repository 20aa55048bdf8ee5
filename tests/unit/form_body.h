// Reading the form bodies (application/x-www-form-urlencoded) the oauth2 tests capture from
// the fake transport. Callers: tests/unit/oauth2_*_test.cpp.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/oauth/oauth_urls.h"

namespace ckh::test {

inline std::vector<std::pair<std::string, std::string>> form_fields(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    const auto eq = pair.find('=');
    out.emplace_back(percent_decode(pair.substr(0, eq)), eq == std::string_view::npos
                                                             ? std::string()
                                                             : percent_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return out;
}
inline std::vector<std::string> field_names(std::string_view body) {
  std::vector<std::string> out;
  for (const auto& [name, value] : form_fields(body)) out.push_back(name);
  return out;
}
// The values of one field (not for secrets: a failing check prints them).
inline std::vector<std::string> field_values(std::string_view body, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : form_fields(body)) {
    if (key == name) out.push_back(value);
  }
  return out;
}
// Whether the body holds exactly one field `name`, whose value is `value` (for secrets).
inline bool has_field(std::string_view body, std::string_view name, const std::string& value) {
  int found = 0;
  bool equal = false;
  for (const auto& [key, v] : form_fields(body)) {
    if (key == name) {
      ++found;
      equal = v == value;
    }
  }
  return found == 1 && equal;
}

}  // namespace ckh::test
