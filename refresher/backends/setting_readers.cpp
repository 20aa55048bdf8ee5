#include "refresher/backends/setting_readers.h"

#include "refresher/http/transport.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

std::string trimmed(std::string text) {
  return std::string(trim(text));
}

}  // namespace

std::optional<std::string> read_path(ConfigSection& section, std::string_view key, EnvLookup env,
                                     bool& ok) {
  auto path = section.get_string(key, "an absolute path (or ~/...)");
  if (!path) {
    if (section.has(key)) ok = false;
    return std::nullopt;
  }
  if (path->starts_with("/")) return path;
  if (path->starts_with("~/")) {
    if (auto home = env_nonempty(env, "HOME"); home && home->starts_with("/")) {
      return *home + path->substr(1);
    }
    section.problem_at(key, "starts with ~/ but HOME is not set; expected an absolute path");
  } else {
    section.problem_at(key, "expected an absolute path (or one starting with ~/)");
  }
  ok = false;
  return std::nullopt;
}

std::optional<std::string> read_endpoint_url(ConfigSection& section, std::string_view key) {
  auto url = section.get_string(key, "an https:// URL");
  if (!url) return std::nullopt;
  if (!is_allowed_endpoint_url(*url)) {
    section.problem_at(key, "expected an https:// URL (http:// only to 127.0.0.1 or localhost)");
    return std::nullopt;
  }
  return url;
}

void take_endpoint_url(ConfigSection& section, std::string_view key, std::string& into, bool& ok) {
  const bool present = section.has(key);
  if (auto url = read_endpoint_url(section, key)) {
    into = *url;
  } else if (present) {
    ok = false;
  }
}

void take_client_id(ConfigSection& section, std::string_view expected, std::string& into,
                    bool& ok) {
  if (auto id = section.get_string("client_id", expected)) {
    if (id->empty() || !is_printable_token(*id)) {
      section.problem_at("client_id", "expected a non-empty client id without spaces");
      ok = false;
    } else {
      into = *id;
    }
  } else if (section.has("client_id")) {
    ok = false;
  }
}

Result<std::string> read_secret_file(const std::string& path, std::string_view what) {
  auto text = read_private_file(path, kMaxSmallFileBytes);
  if (!text) {
    Error error = text.error();
    error.message = std::string(what) + ": " + error.message;
    if (error.kind == ErrorClass::not_found) error.kind = ErrorClass::config;
    return std::unexpected(error);
  }
  std::string value = trimmed(std::move(*text));
  if (value.empty() || !is_printable_token(value)) {
    return fail(ErrorClass::config,
                std::string(what) + " in " + path + " is empty or not one token");
  }
  return value;
}

Result<std::string> read_public_file(const std::string& path) {
  auto text = read_regular_file(path, kMaxSmallFileBytes);
  if (!text) {
    Error error = text.error();
    if (error.kind == ErrorClass::not_found) error.kind = ErrorClass::config;
    return std::unexpected(error);
  }
  return trimmed(std::move(*text));
}

}  // namespace ckh
