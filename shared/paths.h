// Where things live. Contract (../shared/DESIGN.md, "Files"):
//   state dir  = $CLAUDE_KEY_HELPER_STATE_DIR, else $XDG_STATE_HOME/claude-key-helper,
//                else $HOME/.local/state/claude-key-helper
//   config     = $CLAUDE_KEY_HELPER_CONFIG, else $XDG_CONFIG_HOME/claude-key-helper/config.toml,
//                else $HOME/.config/claude-key-helper/config.toml
// Per profile P in the state dir: P.cred (record), P.secret (refresher-only state),
// P.lock (single-flight), P.status (last outcome, no secret), P.sock (the daemon's socket),
// callers/P.<pid>.<start> (what the helper last gave one Claude Code process).
// Runtime dir = $XDG_RUNTIME_DIR/claude-key-helper when $XDG_RUNTIME_DIR is set (absolute) and
// the state dir is not named explicitly by $CLAUDE_KEY_HELPER_STATE_DIR (an explicit state dir
// keeps everything together: tests and containers run several state dirs side by side). The
// daemon listens there (a tmpfs of this session, never an NFS home); it falls back to P.sock in
// the state dir when the runtime dir is missing or unsafe. Clients try both, runtime dir first:
// a daemon started without $XDG_RUNTIME_DIR (nohup, cron) listens in the state dir.
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

// The runtime dir (above), or "" when there is none: then runtime files live in the state dir.
std::string runtime_dir();

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

// Where a daemon may listen for the profile whose state-dir socket is state_sock (P.sock): the
// runtime dir's P.sock first when there is a runtime dir, then state_sock itself.
struct SocketCandidates {
  std::string runtime;  // "" when there is no runtime dir
  std::string state;    // state_sock
};
SocketCandidates daemon_sockets(const std::string& state_sock);

}  // namespace ckh
