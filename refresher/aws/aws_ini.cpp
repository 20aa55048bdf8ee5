#include "refresher/aws/aws_ini.h"

#include "shared/text.h"

namespace ckh {
namespace {

std::string_view strip_comment(std::string_view value) {
  // A comment inside a value starts with whitespace followed by '#' or ';'.
  for (std::size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return value.substr(0, i);
    }
  }
  return value;
}

}  // namespace

const std::map<std::string, std::string>* AwsIni::config_profile(std::string_view name) const {
  const std::string key =
      name == "default" ? std::string("default") : "profile " + std::string(name);
  if (auto it = sections.find(key); it != sections.end()) return &it->second;
  if (name == "default") {
    if (auto it = sections.find("profile default"); it != sections.end()) return &it->second;
  }
  return nullptr;
}

const std::map<std::string, std::string>* AwsIni::credentials_profile(std::string_view name) const {
  if (auto it = sections.find(name); it != sections.end()) return &it->second;
  return nullptr;
}

AwsIni parse_aws_ini(std::string_view text) {
  AwsIni ini;
  std::map<std::string, std::string>* current = nullptr;
  std::string last_key;
  bool in_subsection = false;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view raw = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const auto close = line.find(']');
      if (close == std::string_view::npos) {
        ++ini.skipped_lines;
        current = nullptr;
        continue;
      }
      std::string name(trim(line.substr(1, close - 1)));
      // "[profile   name]" -> "profile name"
      if (name.starts_with("profile") && name.size() > 7 && (name[7] == ' ' || name[7] == '\t')) {
        name = "profile " + std::string(trim(std::string_view(name).substr(8)));
      }
      current = name.empty() ? nullptr : &ini.sections[name];
      last_key.clear();
      in_subsection = false;
      continue;
    }
    if (current == nullptr) {
      ++ini.skipped_lines;
      continue;
    }
    if (indented && !last_key.empty()) {
      // A continuation: a sub-section of last_key ("s3 =\n  max_concurrent_requests = 5")
      // or the rest of its value; nothing we read uses either.
      in_subsection = true;
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      ++ini.skipped_lines;
      continue;
    }
    last_key = std::string(trim(line.substr(0, equals)));
    in_subsection = false;
    (*current)[last_key] = std::string(trim(strip_comment(trim(line.substr(equals + 1)))));
  }
  (void)in_subsection;
  return ini;
}

}  // namespace ckh
