// Loading and validating config.toml. toml++ reports syntax errors by throwing
// toml::parse_error (the Debian library is built with exceptions, so every translation unit
// keeps the default TOML_EXCEPTIONS); the throw is caught right here and becomes a
// ConfigProblem, so nothing escapes this module.
#include "refresher/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "refresher/backends/registry.h"
#include "refresher/backends/static_backend.h"
#include "refresher/child_env.h"
#include "refresher/config_location.h"
#include "refresher/config_section.h"
#include "refresher/file_trust.h"
#include "refresher/fingerprint.h"
#include "shared/paths.h"
#include "shared/record.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
constexpr const char* kDefaultKeyVariable = "ANTHROPIC_API_KEY";
constexpr const char* kConfigVariable = "CLAUDE_KEY_HELPER_CONFIG";
constexpr std::string_view kTopLevelKey = "profile";

using ConfigOrProblems = std::expected<Config, std::vector<ConfigProblem>>;

std::unexpected<std::vector<ConfigProblem>> one_problem(const std::string& file,
                                                        std::string message) {
  return std::unexpected(std::vector<ConfigProblem>{ConfigProblem{file, 0, 0, std::move(message)}});
}

// Where the configuration is when nobody names one ($XDG_CONFIG_HOME, else ~/.config), as
// paths.h's config_path() computes it; none without either variable.
std::optional<std::string> default_config_location(EnvLookup env) {
  if (env == nullptr) return std::nullopt;
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && xdg->starts_with('/'))
    return *xdg + "/claude-key-helper/config.toml";
  if (auto home = env("HOME"); home && !home->empty())
    return *home + "/.config/claude-key-helper/config.toml";
  return std::nullopt;
}

// Only the default location may be absent (then the default profile applies): a path given
// with --config or CLAUDE_KEY_HELPER_CONFIG is a promise that the file is there.
bool is_named_location(const std::string& path, EnvLookup env) {
  if (path.empty()) return false;                 // no location could be computed at all
  if (is_system_config(path, env)) return false;  // found, not named (config_location.h)
  const auto usual = default_config_location(env);
  return !usual || *usual != path;
}

bool default_key_available(EnvLookup env) {
  const auto value = env != nullptr ? env(kDefaultKeyVariable) : std::nullopt;
  return value && !value->empty();
}

// One profile "default", static on ANTHROPIC_API_KEY: what a user who only exported the key
// gets without writing any configuration.
Config defaulted_config(std::string path, EnvLookup env) {
  Config config;
  config.path = std::move(path);
  config.defaulted = true;
  ProfileConfig profile;
  profile.name = std::string(kDefaultProfile);
  profile.backend_name = "static";
  profile.backend = StaticBackend::from_env(kDefaultKeyVariable, env);
  config.profiles.emplace(profile.name, std::move(profile));
  return config;
}

std::vector<std::string_view> backend_names() {
  std::vector<std::string_view> names;
  for (const auto& entry : registered_backends()) names.push_back(entry.name);
  return names;
}

// Parses [profile.<key>]; adds the profile to `config` when it has no problem.
class ProfileParser {
 public:
  ProfileParser(ProblemList& problems, EnvLookup env, SecretEnvNames secret_env_names)
      : problems_(problems), env_(env), secret_env_names_(std::move(secret_env_names)) {}

  void parse(const toml::key& key, const toml::node& node, Config& config) {
    const std::size_t problems_before = problems_.size();
    const std::string name(key.str());
    const std::string shown = quote_from_file(name);
    if (!valid_profile_name(name)) {
      problems_.add(key.source().begin,
                    fmt::format("profile name '{}' is not valid; expected 1 to 64 letters, "
                                "digits, '_' or '-' (it is used in file names)",
                                shown));
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      problems_.add(node.source().begin,
                    fmt::format("'{}' in [profile]: expected a table [profile.{}], got {}", shown,
                                shown, describe_toml_type(node)));
      return;
    }
    const std::string label = fmt::format("[profile.{}]", shown);
    ConfigSection section(table, label, table->source().begin, problems_);

    ProfileConfig profile;
    profile.name = name;
    const auto backend = section.get_string(
        "backend", fmt::format("the name of a backend: {}", describe_known_backends()));
    const bool before_expiry_set = section.has("refresh_before_expiry");
    read_schedule(section, profile);
    const auto sinks = section.get_string_array("sinks", "a list of sinks: [\"claude-code\"]");
    read_headers(section, profile);
    read_secret_store(section, profile);

    const BackendEntry* entry = nullptr;
    if (backend) {
      entry = find_backend(*backend);
      if (entry == nullptr) report_unknown_backend(section, *backend);
    } else if (!section.has("backend")) {
      section.problem(
          fmt::format("missing 'backend'; expected backend = {}", describe_known_backends()));
    }

    const BackendSections sections = check_backend_sections(*table, shown, entry);
    for (const auto name_of_backend : backend_names()) section.has(name_of_backend);
    section.report_unknown_keys();
    if (entry == nullptr) check_orphan_backend_sections(*table, shown, name);

    if (entry != nullptr && !sections.own_malformed) {
      const toml::table* backend_table = sections.own;
      ConfigSection backend_section(backend_table,
                                    fmt::format("[profile.{}.{}]", shown, entry->name),
                                    table->source().begin, problems_);
      const BackendContext context{name, env_, secret_env_names_};
      profile.backend_name = std::string(entry->name);
      profile.backend = entry->make(backend_section, context);
      backend_section.report_unknown_keys();
      if (profile.backend && !before_expiry_set) {
        if (auto wanted = profile.backend->default_refresh_before_expiry()) {
          profile.refresh_before_expiry = *wanted;
        }
      }
    }
    if (sinks) read_sinks(section, *sinks, profile);

    if (problems_.size() == problems_before && profile.backend != nullptr) {
      // toml++'s rendering of the section (keys sorted): a permanent failure waits for it
      // to change (permanent_stop.h).
      std::ostringstream rendered;
      rendered << *table;
      profile.config_fingerprint = token_fingerprint(rendered.str());
      config.profiles.emplace(name, std::move(profile));
    }
  }

 private:
  // The timing keys of [profile.P]; what is absent keeps its default.
  static void read_schedule(ConfigSection& section, ProfileConfig& profile) {
    const auto interval = section.get_duration_seconds("refresh_interval", seconds(10), hours(24));
    const auto before_expiry =
        section.get_duration_seconds("refresh_before_expiry", seconds(0), hours(24 * 7));
    const auto force_min = section.get_duration_seconds("force_min_interval", seconds(1), hours(1));
    const auto backoff_min = section.get_duration_seconds("backoff_min", seconds(1), hours(1));
    const auto backoff_max = section.get_duration_seconds("backoff_max", seconds(1), hours(24));
    if (interval) profile.refresh_interval = *interval;
    if (before_expiry) profile.refresh_before_expiry = *before_expiry;
    if (force_min) profile.force_min_interval = *force_min;
    if (backoff_min) profile.backoff_min = *backoff_min;
    if (backoff_max) profile.backoff_max = *backoff_max;
    if (profile.backoff_min > profile.backoff_max) {
      section.problem_at(
          section.has("backoff_min") ? "backoff_min" : "backoff_max",
          fmt::format("backoff_min ({}) is larger than backoff_max ({}); expected "
                      "backoff_min <= backoff_max",
                      format_duration(profile.backoff_min), format_duration(profile.backoff_max)));
    }
  }

  // secret_store = "file" | "keyring" (secret_store.h).
  static void read_secret_store(ConfigSection& section, ProfileConfig& profile) {
    const auto store = section.get_string("secret_store",
                                          "where long-lived secrets live: \"file\" or \"keyring\"");
    if (!store) return;
    if (*store == "keyring") {
      profile.secret_store = SecretStore::keyring;
    } else if (*store != "file") {
      section.problem_at("secret_store",
                         fmt::format("unknown secret_store \"{}\"; expected \"file\" (P.secret, "
                                     "0600) or \"keyring\" (the OS keyring)",
                                     *store));
    }
  }

  // headers = { "X-Org" = "acme" }: HTTP header names and values, each name once whatever
  // its case; never the credential's own headers (the caller sets those from the token).
  static void read_headers(ConfigSection& section, ProfileConfig& profile) {
    auto headers = section.get_string_table(
        "headers", "HTTP headers sent with the credential, e.g. { \"X-Org\" = \"acme\" }");
    if (!headers) return;
    if (headers->size() > kMaxHeaders) {
      section.problem_at(
          "headers", fmt::format("{} headers; expected at most {}", headers->size(), kMaxHeaders));
      return;
    }
    std::vector<std::string> seen;
    bool ok = true;
    for (const auto& [name, value] : *headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string wrong;
      if (!valid_header_name(name)) {
        wrong = fmt::format(
            "'{}' is not an HTTP header name; expected 1-64 letters, digits "
            "or !#$%&'*+-.^_`|~",
            quote_from_file(name));
      } else if (lower == "authorization" || lower == "x-api-key") {
        wrong = fmt::format(
            "'{}' carries the credential itself, which the caller sets from "
            "the token; remove it",
            name);
      } else if (std::find(seen.begin(), seen.end(), lower) != seen.end()) {
        wrong = fmt::format("'{}' is listed twice (header names ignore case)", name);
      } else if (!valid_header_value(value)) {
        wrong = fmt::format(
            "the value of '{}' is not a header value; expected at most {} "
            "printable ASCII characters, no tabs or line breaks, no space at "
            "either end",
            name, kMaxHeaderValueBytes);
      }
      if (!wrong.empty()) {
        section.problem_at("headers", wrong);
        ok = false;
      }
      seen.push_back(std::move(lower));
    }
    if (ok) profile.headers = std::move(*headers);
  }

  // sinks = ["claude-code"]: only known sinks, each once, and only with a backend that
  // produces what the sink stores.
  static void read_sinks(ConfigSection& section, const std::vector<std::string>& sinks,
                         ProfileConfig& profile) {
    for (const auto& sink : sinks) {
      if (sink != "claude-code") {
        section.problem_at("sinks", fmt::format("unknown sink \"{}\"; expected \"claude-code\"",
                                                quote_from_file(sink)));
      } else if (profile.has_sink(sink)) {
        section.problem_at("sinks", "\"claude-code\" is listed twice");
      } else if (!profile.backend_name.empty() && profile.backend_name != "anthropic-oauth") {
        section.problem_at("sinks", fmt::format("the \"claude-code\" sink stores Claude "
                                                "subscription tokens; it needs backend = "
                                                "\"anthropic-oauth\", not \"{}\"",
                                                profile.backend_name));
      } else {
        profile.sinks.push_back(sink);
      }
    }
  }

  void report_unknown_backend(ConfigSection& section, const std::string& backend) {
    const auto names = backend_names();
    const auto suggestion = suggest_key(backend, names);
    section.problem_at(
        "backend", fmt::format("unknown backend \"{}\"; expected {}{}", quote_from_file(backend),
                               describe_known_backends(),
                               suggestion ? fmt::format(" (did you mean \"{}\"?)", *suggestion)
                                          : std::string()));
  }

  // Without a usable `backend` the profile cannot be built, but each backend section it
  // has is still checked by that backend's parser: a typo in `backend` must not hide the
  // problems of [profile.P.<backend>] until it is fixed.
  void check_orphan_backend_sections(const toml::table& table, const std::string& shown,
                                     const std::string& name) {
    for (auto&& [key, node] : table) {
      const BackendEntry* named = find_backend(key.str());
      if (named == nullptr || !node.is_table()) continue;
      ConfigSection sub(node.as_table(), fmt::format("[profile.{}.{}]", shown, named->name),
                        table.source().begin, problems_);
      const BackendContext context{name, env_, secret_env_names_};
      (void)named->make(sub, context);
      sub.report_unknown_keys();
    }
  }

  struct BackendSections {
    const toml::table* own = nullptr;  // [profile.P.<backend>], null when absent
    bool own_malformed = false;        // present but not a table (reported)
  };

  // Sub-tables named like a backend: only the one of `backend` may exist.
  BackendSections check_backend_sections(const toml::table& table, const std::string& shown,
                                         const BackendEntry* entry) {
    BackendSections found;
    for (auto&& [key, node] : table) {
      const BackendEntry* named = find_backend(key.str());
      if (named == nullptr) continue;  // reported as unknown keys
      const std::string sub_label = fmt::format("[profile.{}.{}]", shown, named->name);
      if (!node.is_table()) {
        problems_.add(node.source().begin,
                      fmt::format("'{}' in [profile.{}]: expected a table {}, got {}", named->name,
                                  shown, sub_label, describe_toml_type(node)));
        if (entry == named) found.own_malformed = true;
        continue;
      }
      if (entry == named) {
        found.own = node.as_table();
      } else if (entry != nullptr) {  // without a usable backend, that was reported already
        problems_.add(node.source().begin,
                      fmt::format("section {} does not match backend = \"{}\"; remove it or set "
                                  "backend = \"{}\"",
                                  sub_label, entry->name, named->name));
      }
    }
    return found;
  }

  ProblemList& problems_;
  EnvLookup env_;
  SecretEnvNames secret_env_names_;
};

// Every variable any profile treats as secret, so that no profile's child inherits another
// profile's key.
void collect_secret_env_names(const Config& config, std::vector<std::string>& names) {
  names.assign(kCredentialEnvNames.begin(), kCredentialEnvNames.end());
  for (const auto& [name, profile] : config.profiles) {
    for (auto& secret : profile.backend->secret_env_names()) {
      if (std::find(names.begin(), names.end(), secret) == names.end()) {
        names.push_back(std::move(secret));
      }
    }
  }
}

// Every child of this process loses them from now on (child_env.h), whichever profile it
// serves: a command of one profile must not see another profile's key.
void register_profile_secrets(const Config& config) {
  std::vector<std::string> names;
  for (const auto& [name, profile] : config.profiles) {
    for (auto& secret : profile.backend->secret_env_names()) names.push_back(std::move(secret));
  }
  register_secret_env_names(names);
}

}  // namespace

std::string ConfigProblem::to_string() const {
  if (file.empty()) return message;
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

ConfigOrProblems parse_config(std::string_view text, const std::string& path, EnvLookup env) {
  ProblemList problems(path);
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& error) {
    problems.add(error.source().begin,
                 fmt::format("TOML syntax error: {}", one_line(error.description(), 300)));
    return std::unexpected(problems.take_sorted());
  } catch (const std::exception& error) {  // e.g. std::bad_alloc
    problems.add_unplaced(fmt::format("cannot parse: {}", one_line(error.what(), 300)));
    return std::unexpected(problems.take_sorted());
  }

  auto secret_env_names = std::make_shared<std::vector<std::string>>();
  ProfileParser profile_parser(problems, env, secret_env_names);
  Config config;
  config.path = path;
  bool any_profile = false;
  for (auto&& [key, node] : root) {
    if (key.str() != kTopLevelKey) {
      const std::string shown = quote_from_file(key.str());
      const std::array<std::string_view, 1> known{kTopLevelKey};
      problems.add(
          key.source().begin,
          suggest_key(key.str(), known)
              ? fmt::format("unknown key '{}' at the top level; did you mean 'profile'?", shown)
              : fmt::format("unknown key '{}' at the top level; expected only "
                            "[profile.NAME] sections",
                            shown));
      continue;
    }
    const toml::table* profiles = node.as_table();
    if (profiles == nullptr) {
      problems.add(node.source().begin,
                   fmt::format("'profile' must hold one table per profile, e.g. "
                               "[profile.default]; got {}",
                               node.is_array_of_tables() ? "an array of tables ([[profile]])"
                                                         : describe_toml_type(node)));
      continue;
    }
    for (auto&& [name, profile] : *profiles) {
      any_profile = true;
      profile_parser.parse(name, profile, config);
    }
  }

  if (!any_profile && problems.empty()) {
    // The installer's fully commented-out file must behave like no file at all.
    if (default_key_available(env)) return defaulted_config(path, env);
    problems.add_unplaced(fmt::format(
        "no profile is configured; add a [profile.default] section with backend = {} (or set "
        "ANTHROPIC_API_KEY in the refresher's environment), then run `claude-key-refresher "
        "check-config`",
        describe_known_backends()));
  }
  if (!problems.empty()) return std::unexpected(problems.take_sorted());
  collect_secret_env_names(config, *secret_env_names);
  return config;
}

ConfigOrProblems load_config(const std::string& path, EnvLookup env) {
  // A system location (config_location.h), however it was found: stricter trust.
  const bool system_wide = is_system_config(path, env);
  // O_NONBLOCK: opening a FIFO put in its place must not hang; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      if (is_named_location(path, env)) {
        // Named by the user: a typo must not quietly serve the default profile instead.
        const auto from_env = env != nullptr ? env(kConfigVariable) : std::nullopt;
        const bool by_env = from_env && *from_env == path;
        const auto usual = default_config_location(env);
        return one_problem(
            path, fmt::format("the configuration file named by {} does not exist; correct the "
                              "path or create the file{}, then run `claude-key-refresher "
                              "check-config`",
                              by_env ? kConfigVariable : "--config",
                              usual ? fmt::format(" ({} to use the default {})",
                                                  by_env ? "unset " + std::string(kConfigVariable)
                                                         : "drop --config",
                                                  *usual)
                                    : std::string()));
      }
      if (default_key_available(env)) return defaulted_config("", env);
      // The problem is shown as "<path>: <message>": the message does not repeat the path,
      // so that the hint at its end survives the helper's 480-byte line.
      return one_problem(path,
                         "the configuration file does not exist and ANTHROPIC_API_KEY is "
                         "not set; create this file with a [profile.default] section (or "
                         "set ANTHROPIC_API_KEY for the refresher), then run "
                         "`claude-key-refresher check-config`");
    }
    return one_problem(path,
                       fmt::format("cannot open the configuration file: {}", std::strerror(error)));
  }
  struct stat info;
  std::string text;
  std::string refusal;
  if (::fstat(fd, &info) != 0) {
    refusal = fmt::format("cannot read the configuration file: {}", std::strerror(errno));
  } else if (!S_ISREG(info.st_mode)) {
    refusal = "the configuration file is not a regular file; expected a TOML file";
  } else if (auto system = system_wide ? check_system_config(path) : Result<void>{}; !system) {
    // The administrator's file for every user: root's, up to /, or not believed at all.
    ::close(fd);
    return std::unexpected(
        std::vector<ConfigProblem>{ConfigProblem{"", 0, 0, system.error().message}});
  } else if (auto trusted = check_not_writable_by_others(path, info, "config"); !trusted) {
    // Whoever can write it runs code as this user (argv) or receives the refresh token
    // (token_url): refused before a byte of it is believed.
    ::close(fd);
    return std::unexpected(
        std::vector<ConfigProblem>{ConfigProblem{"", 0, 0, trusted.error().message}});
  } else if (static_cast<std::uint64_t>(info.st_size) > kMaxConfigBytes) {
    refusal = fmt::format(
        "the configuration file is larger than {} bytes; expected a small "
        "TOML file",
        kMaxConfigBytes);
  } else {
    // Sized by the file (one piece of code for bounded reads: secure_file.h), still
    // refused when it grew past the cap since fstat.
    auto read = read_bounded(fd, path, static_cast<std::size_t>(info.st_size), kMaxConfigBytes);
    if (read) {
      text = std::move(*read);
    } else if (read.error().kind == ErrorClass::corrupt) {
      refusal = fmt::format("the configuration file is larger than {} bytes", kMaxConfigBytes);
    } else {
      refusal = read.error().message;
    }
  }
  ::close(fd);
  if (!refusal.empty()) return one_problem(path, std::move(refusal));
  auto config = parse_config(text, path, env);
  if (config) {
    config->system_wide = system_wide;
    register_profile_secrets(*config);
  }
  return config;
}

}  // namespace ckh
