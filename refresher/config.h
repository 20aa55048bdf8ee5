// The refresher's configuration: TOML (toml++) at config_location.h's find_config_path().
// Guarantees:
// - load_config reports EVERY problem, each as "file:line:column: what is wrong; what is
//   expected", including unknown keys at any level (typos never pass silently), wrong
//   types, bad durations, and backend sections that do not match `backend`.
// - Which file: config_location.h (the user's own, else a root-owned system-wide one, which
//   load_config refuses unless it and every directory above it are root's and not
//   writable by group or others).
// - No config file at the default location ($XDG_CONFIG_HOME or ~/.config) and
//   ANTHROPIC_API_KEY set: one profile "default", backend static on that variable. No file and
//   no variable: a config error that says what to create. A file named elsewhere (--config,
//   CLAUDE_KEY_HELPER_CONFIG) must exist: its absence is a config error naming the path.
// - load_config refuses a file that others can write or own, or that sits in a directory
//   they can write (file_trust.h), with the chmod/chown to run: whoever can change it runs
//   code as the user (command argv) or receives the refresh token (token_url).
// - Every secret variable of an accepted configuration (static env = ...) is registered with
//   child_env.h: no child of any profile inherits it.
// - Each backend parses its own section [profile.P.<backend>] (backends/*.cpp) and
//   returns a ready Backend.
// Callers: refresher/main.cpp (every subcommand), the daemon on SIGHUP.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/backend.h"
#include "refresher/env_lookup.h"
#include "shared/error.h"

namespace ckh {

// Where the profile's long-lived secret state lives (secret_store.h): P.secret (0600), or
// the OS keyring (the Secret Service; the Keychain on macOS).
enum class SecretStore { file, keyring };

struct ProfileConfig {
  std::string name;
  std::string backend_name;
  std::chrono::seconds refresh_interval{240};       // refresh at least this often
  std::chrono::seconds refresh_before_expiry{600};  // or when less than this remains
  std::chrono::seconds force_min_interval{30};      // suspected-401 refreshes at most this often
  std::chrono::seconds backoff_min{1};              // failure backoff: full jitter between
  std::chrono::seconds backoff_max{300};            //   these bounds, doubling per failure
  // Where else the credential goes besides P.cred: "claude-code" (anthropic-oauth only)
  // keeps Claude Code's own credential store current.
  std::vector<std::string> sinks;
  // headers = { Name = "value" }: published with the credential for callers that take
  // headers (claude-key-helper --format json: Claude Desktop's helper-script contract).
  std::vector<std::pair<std::string, std::string>> headers;
  SecretStore secret_store = SecretStore::file;
  std::shared_ptr<Backend> backend;
  // Names this profile's configuration ([profile.P] with its backend section, as parsed):
  // changes when any of it does. Empty for the built-in default profile.
  std::string config_fingerprint;

  bool has_sink(std::string_view sink) const {
    for (const auto& s : sinks) {
      if (s == sink) return true;
    }
    return false;
  }
};

struct Config {
  std::string path;          // the file it came from ("" when no file existed)
  bool system_wide = false;  // path is the administrator's file (config_location.h)
  bool defaulted = false;    // true when ANTHROPIC_API_KEY was used because no file existed
                             // or the file defines no profile (e.g. all commented out)
  std::map<std::string, ProfileConfig, std::less<>> profiles;
};

struct ConfigProblem {
  std::string file;
  std::uint32_t line = 0;  // 0 when not tied to a place
  std::uint32_t column = 0;
  std::string message;
  std::string to_string() const;  // "file:line:column: message"
};

// Either a config, or every problem found (never an empty list).
std::expected<Config, std::vector<ConfigProblem>> load_config(const std::string& path,
                                                              EnvLookup env = process_env);
// The same from text already in memory (tests, fuzzing); path only names it in messages.
std::expected<Config, std::vector<ConfigProblem>> parse_config(std::string_view text,
                                                               const std::string& path,
                                                               EnvLookup env = process_env);

// "4m", "90s", "1h30m", "250ms" (rounded up to whole seconds where seconds are wanted),
// "2d". Refuses empty, negative, unknown units and overflow.
// Grammar: one or more <digits><unit> groups, unit one of d h m s ms, each unit at most once
// and largest first ("1h30m", not "30m1h"), no spaces, no sign, no fractions.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse of parse_duration for messages and status: "1h30m", "250ms", "0s". Its output
// parses back to the same value.
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace ckh
