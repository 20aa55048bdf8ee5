// Where things live. Contract (../shared/DESIGN.md, "Files"):
//   state dir  = $CLAUDE_KEY_HELPER_STATE_DIR, else $XDG_STATE_HOME/claude-key-helper,
//                else $HOME/.local/state/claude-key-helper
//   config     = $CLAUDE_KEY_HELPER_CONFIG, else $XDG_CONFIG_HOME/claude-key-helper/config.toml,
//                else $HOME/.config/claude-key-helper/config.toml
// Per profile P in the state dir: P.cred (record), P.secret (refresher-only state),
// P.lock (single-flight), P.status (last outcome, no secret), P.sock (the daemon's socket),
// callers/P.<pid>.<start> (what the helper last gave one Claude Code process).
// Callers: both binaries. Reads only the environment, never the password database (the
// helper is static).
#pragma once

#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

inline constexpr std::string_view kDefaultProfile = "default";

// 1..64 bytes of [A-Za-z0-9_-]: a profile name is used in file names.
bool valid_profile_name(std::string_view name);

Result<std::string> state_dir();
Result<std::string> config_path();

struct ProfilePaths {
  std::string dir;
  std::string cred;
  std::string secret;
  std::string lock;
  std::string status;
  std::string sock;
  std::string callers_dir;
};
ProfilePaths profile_paths(const std::string& state_dir, std::string_view profile);

}  // namespace ckh
