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
