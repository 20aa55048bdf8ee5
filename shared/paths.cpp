#include "shared/paths.h"

#include <cstdlib>

namespace ckh {

namespace {

std::string_view env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string_view(value) : std::string_view();
}

// $PRIMARY, else $XDG/claude-key-helper[/leaf], else $HOME/<fallback>/claude-key-helper[/leaf].
Result<std::string> resolve(const char* primary, const char* xdg, std::string_view home_fallback,
                            std::string_view leaf) {
  if (auto value = env_or_empty(primary); !value.empty()) return std::string(value);
  std::string base;
  if (auto value = env_or_empty(xdg); !value.empty() && value.front() == '/') {
    base = std::string(value);
  } else if (auto home = env_or_empty("HOME"); !home.empty()) {
    base = std::string(home);
    base += '/';
    base += home_fallback;
  } else {
    return fail(ErrorClass::config, std::string("neither ") + primary + ", " + xdg +
                                        " nor HOME is set; set " + primary);
  }
  base += "/claude-key-helper";
  if (!leaf.empty()) {
    base += '/';
    base += leaf;
  }
  return base;
}

}  // namespace

bool valid_profile_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> state_dir() {
  return resolve("CLAUDE_KEY_HELPER_STATE_DIR", "XDG_STATE_HOME", ".local/state", "");
}

Result<std::string> config_path() {
  return resolve("CLAUDE_KEY_HELPER_CONFIG", "XDG_CONFIG_HOME", ".config", "config.toml");
}

std::string runtime_dir() {
  if (!env_or_empty("CLAUDE_KEY_HELPER_STATE_DIR").empty()) return {};
  const auto base = env_or_empty("XDG_RUNTIME_DIR");
  if (base.empty() || base.front() != '/') return {};
  std::string dir(base);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/claude-key-helper";
}

SocketCandidates daemon_sockets(const std::string& state_sock) {
  SocketCandidates candidates{{}, state_sock};
  const std::string runtime = runtime_dir();
  if (runtime.empty()) return candidates;
  const auto slash = state_sock.rfind('/');
  const std::string name = slash == std::string::npos ? state_sock : state_sock.substr(slash + 1);
  candidates.runtime = runtime + "/" + name;
  if (candidates.runtime == state_sock) candidates.runtime.clear();  // the state dir is there
  return candidates;
}

ProfilePaths profile_paths(const std::string& dir, std::string_view profile) {
  std::string base = dir + "/";
  base += profile;
  return ProfilePaths{
      .dir = dir,
      .cred = base + ".cred",
      .secret = base + ".secret",
      .lock = base + ".lock",
      .status = base + ".status",
      .sock = base + ".sock",
      .callers_dir = dir + "/callers",
  };
}

}  // namespace ckh
