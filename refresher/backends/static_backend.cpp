#include "refresher/backends/static_backend.h"

#include <fmt/format.h>

#include "refresher/file_trust.h"
#include "shared/record.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

// A key file holds one credential (at most kMaxCredentialBytes) and maybe a newline;
// anything much larger is not a key file.
constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

std::string_view trim_trailing_space(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_letter_or_underscore(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// "~/x" -> "$HOME/x"; absolute paths unchanged; anything else refused.
std::optional<std::string> expand_path(ConfigSection& section, const std::string& path,
                                       EnvLookup env) {
  if (path.starts_with("/")) return path;
  if (path.starts_with("~/")) {
    const auto home = env != nullptr ? env("HOME") : std::nullopt;
    if (!home || !home->starts_with("/")) {
      section.problem_at("file",
                         "starts with ~/ but HOME is not set to an absolute path; "
                         "expected an absolute path");
      return std::nullopt;
    }
    return *home + path.substr(1);
  }
  section.problem_at("file",
                     "expected an absolute path (or one starting with ~/) to a file "
                     "that holds the key, mode 0600");
  return std::nullopt;
}

}  // namespace

bool valid_env_name(std::string_view name) {
  if (name.empty() || !is_letter_or_underscore(name.front())) return false;
  for (const char c : name) {
    if (!is_letter_or_underscore(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::unique_ptr<StaticBackend> StaticBackend::from_env(std::string variable, EnvLookup env) {
  return std::unique_ptr<StaticBackend>(new StaticBackend(std::move(variable), env, {}));
}

std::unique_ptr<StaticBackend> StaticBackend::from_file(std::string path) {
  return std::unique_ptr<StaticBackend>(new StaticBackend({}, nullptr, std::move(path)));
}

std::vector<std::string> StaticBackend::secret_env_names() const {
  if (variable_.empty()) return {};
  return {variable_};
}

std::string StaticBackend::source_settings() const {
  std::string out;
  if (variable_.empty()) {
    append_setting(out, "file", path_);
  } else {
    append_setting(out, "env", variable_);
  }
  return out;
}

SourceState StaticBackend::source_state() const {
  SourceState state;
  if (variable_.empty()) {
    state.files.push_back(path_);
  } else {
    const auto value = env_ != nullptr ? env_(variable_.c_str()) : std::nullopt;
    state.env.emplace_back(variable_, value.value_or(std::string("\x01unset")));
  }
  return state;
}

Result<FetchResult> StaticBackend::fetch(const FetchContext& /*context*/) {
  return variable_.empty() ? fetch_file() : fetch_env();
}

Result<FetchResult> StaticBackend::fetch_env() const {
  const auto value = env_ != nullptr ? env_(variable_.c_str()) : std::nullopt;
  const std::string_view fix =
      "set it where the refresher runs (e.g. Environment= in its systemd unit) or use "
      "file = \"...\" in the profile's [static] section";
  if (!value) {
    return fail(ErrorClass::permanent,
                fmt::format("environment variable {} is not set in the refresher's "
                            "environment; {}",
                            variable_, fix));
  }
  if (value->empty()) {
    return fail(ErrorClass::permanent,
                fmt::format("environment variable {} is empty in the refresher's environment; {}",
                            variable_, fix));
  }
  if (auto valid = validate_credential(*value); !valid) {
    return fail(ErrorClass::permanent,
                fmt::format("environment variable {} does not hold a usable key: {}", variable_,
                            valid.error().message));
  }
  return FetchResult{*value, std::nullopt, "env " + variable_, std::nullopt};
}

Result<FetchResult> StaticBackend::fetch_file() const {
  // Owner and mode first (with the chown/chmod to run); read_private_file then also insists
  // on 0600, the user's own file, and no symbolic link.
  if (auto trusted = check_not_writable_by_others(path_, "static key file"); !trusted) {
    return fail(ErrorClass::permanent, trusted.error().message);
  }
  auto content = read_private_file(path_, kMaxKeyFileBytes);
  if (!content) {
    // Only an unexpected OS failure may go away by itself; a missing or unsafe file needs
    // the user.
    const ErrorClass kind =
        content.error().kind == ErrorClass::io ? ErrorClass::transient : ErrorClass::permanent;
    // read_private_file's message names the file already.
    return fail(kind, fmt::format("static key file: {}", content.error().message));
  }
  const std::string_view key = trim_trailing_space(*content);
  if (key.empty()) {
    return fail(ErrorClass::permanent,
                fmt::format("key file {} is empty; put the key in it", one_line(path_, 256)));
  }
  if (auto valid = validate_credential(key); !valid) {
    return fail(ErrorClass::permanent, fmt::format("key file {} does not hold a usable key: {}",
                                                   one_line(path_, 256), valid.error().message));
  }
  return FetchResult{std::string(key), std::nullopt, "file " + one_line(path_, 256), std::nullopt};
}

std::unique_ptr<Backend> make_static_backend(ConfigSection& section,
                                             const BackendContext& context) {
  const auto variable = section.get_string("env", "the name of an environment variable");
  const auto path = section.get_string("file", "the path of a 0600 file that holds the key");
  const bool has_env = section.has("env");
  const bool has_file = section.has("file");
  if (has_env && has_file) {
    section.problem_at("file", "env and file are both set; expected exactly one of them");
    return nullptr;
  }
  if (!has_env && !has_file) {
    section.problem(
        "expected exactly one of env = \"ANTHROPIC_API_KEY\" (a variable of the "
        "refresher's environment) or file = \"/path/to/key\" (a 0600 file)");
    return nullptr;
  }
  if (has_env) {
    if (!variable) return nullptr;  // wrong type, already reported
    if (!valid_env_name(*variable)) {
      section.problem_at("env", fmt::format("\"{}\" is not a variable name; expected letters, "
                                            "digits and '_', not starting with a digit",
                                            quote_from_file(*variable)));
      return nullptr;
    }
    return StaticBackend::from_env(*variable, context.env);
  }
  if (!path) return nullptr;
  auto expanded = expand_path(section, *path, context.env);
  if (!expanded) return nullptr;
  return StaticBackend::from_file(std::move(*expanded));
}

}  // namespace ckh
