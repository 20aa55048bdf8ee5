// Which configuration file the refresher reads, and whether it is the system-wide one an
// administrator deployed.
// Order: --config; else $CLAUDE_KEY_HELPER_CONFIG; else the user's own
// ($XDG_CONFIG_HOME or ~/.config)/claude-key-helper/config.toml when it exists; else the
// first existing system-wide file: each of $XDG_CONFIG_DIRS (default /etc/xdg) with
// /claude-key-helper/config.toml, then /etc/claude-key-helper/config.toml; else the user's
// path (which does not exist: load_config then applies its no-file rule).
// A system-wide file must be root's and not writable by group or others, and so must every
// directory above it (check_system_config): a user who could change it could make every
// user's refresher run their code or send refresh tokens elsewhere.
// Callers: refresher/main.cpp (every subcommand), refresher/config.cpp (load_config).
#pragma once

#include <string>
#include <vector>

#include "refresher/env_lookup.h"
#include "shared/error.h"

namespace ckh {

inline constexpr const char* kSystemConfigPath = "/etc/claude-key-helper/config.toml";

// The system-wide candidates, in order (absolute paths only).
std::vector<std::string> system_config_candidates(EnvLookup env);

bool is_system_config(const std::string& path, EnvLookup env);

// named: --config ("" when not given).
std::string find_config_path(const std::string& named, EnvLookup env);

// ErrorClass::unsafe, naming the file or directory and what to run, unless path and every
// directory above it are root's and not writable by group or others.
Result<void> check_system_config(const std::string& path);

}  // namespace ckh
