#include "refresher/config_location.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/paths.h"

namespace ckh {

namespace {

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 || errno != ENOENT;
}

// "mode 0775" for messages.
std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

std::vector<std::string> system_config_candidates(EnvLookup env) {
  std::vector<std::string> candidates;
  std::string dirs = "/etc/xdg";
  if (auto value = env_nonempty(env, "XDG_CONFIG_DIRS")) dirs = *value;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto colon = std::min(dirs.find(':', start), dirs.size());
    std::string dir = dirs.substr(start, colon - start);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (!dir.empty() && dir.front() == '/') {
      candidates.push_back(dir + "/claude-key-helper/config.toml");
    }
    start = colon + 1;
  }
  candidates.emplace_back(kSystemConfigPath);
  // The same file named twice counts once.
  std::vector<std::string> unique;
  for (auto& path : candidates) {
    if (std::find(unique.begin(), unique.end(), path) == unique.end()) {
      unique.push_back(std::move(path));
    }
  }
  return unique;
}

bool is_system_config(const std::string& path, EnvLookup env) {
  const auto candidates = system_config_candidates(env);
  return std::find(candidates.begin(), candidates.end(), path) != candidates.end();
}

std::string find_config_path(const std::string& named, EnvLookup env) {
  if (!named.empty()) return named;
  if (auto from_env = env_nonempty(env, "CLAUDE_KEY_HELPER_CONFIG")) return *from_env;
  auto user = config_path();
  if (user && exists(*user)) return *user;
  for (const auto& candidate : system_config_candidates(env)) {
    if (exists(candidate)) return candidate;
  }
  return user ? *user : std::string();
}

Result<void> check_system_config(const std::string& path) {
  std::string current = path;
  for (;;) {
    struct stat info {};
    if (::stat(current.c_str(), &info) != 0) {
      if (errno == ENOENT && current == path) return {};  // load_config says it is missing
      return fail(ErrorClass::unsafe, "cannot check the system-wide config " + path + ": " +
                                          current + ": " + std::strerror(errno));
    }
    const bool others_write = (info.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (info.st_uid != 0 || others_write) {
      return fail(ErrorClass::unsafe,
                  "refusing the system-wide config " + path + ": " + current +
                      (info.st_uid != 0 ? " is owned by uid " + std::to_string(info.st_uid)
                                        : " is writable by group or others (mode " +
                                              mode_text(info.st_mode) + ")") +
                      ", so a user could change what every user's refresher runs; as root run: "
                      "chown root:root " +
                      current + " && chmod go-w " + current);
    }
    if (current == "/") return {};
    const auto slash = current.find_last_of('/');
    current =
        slash == 0 || slash == std::string::npos ? std::string("/") : current.substr(0, slash);
  }
}

}  // namespace ckh
