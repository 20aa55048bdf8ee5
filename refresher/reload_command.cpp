#include "refresher/reload_command.h"

#include <dirent.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "refresher/config.h"
#include "refresher/reload_progress.h"
#include "shared/line_io.h"
#include "shared/paths.h"
#include "shared/text.h"

namespace ckh {

namespace {

// Where a daemon keeps its reload file: the runtime dir, then the state dir. A shell without
// $XDG_RUNTIME_DIR (su, sudo -u, some ssh setups) still finds a daemon that systemd started
// with it: the conventional /run/user/<uid> is tried too (the pid in a file name is only
// signalled when it is a live claude-key-refresher, and only our own processes can be).
std::vector<std::string> progress_dirs() {
  std::vector<std::string> dirs;
  if (std::string runtime = runtime_dir(); !runtime.empty()) {
    dirs.push_back(std::move(runtime));
  } else if (!std::getenv("XDG_RUNTIME_DIR") && !std::getenv("CLAUDE_KEY_HELPER_STATE_DIR")) {
    dirs.push_back("/run/user/" + std::to_string(::getuid()) + "/claude-key-helper");
  }
  if (auto state = state_dir(); state) dirs.push_back(*state);
  return dirs;
}

bool is_running_refresher(long pid) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) return true;  // no /proc (macOS): the reload file and kill() are all we have
  std::string name;
  std::getline(comm, name);
  return name.starts_with("claude-key-refr");  // comm holds 15 bytes
}

// The reload file of a live daemon with this pid, if there is one.
std::optional<std::string> progress_file_of(long pid) {
  if (!is_running_refresher(pid)) return std::nullopt;
  for (const auto& dir : progress_dirs()) {
    const std::string path = reload_progress_path(dir, pid);
    if (::access(path.c_str(), F_OK) == 0) return path;
  }
  return std::nullopt;
}

// Every live daemon that has a reload file in one of progress_dirs().
std::vector<long> running_daemons() {
  std::vector<long> pids;
  for (const auto& dir : progress_dirs()) {
    DIR* handle = ::opendir(dir.c_str());
    if (!handle) continue;
    while (const dirent* entry = ::readdir(handle)) {
      std::string_view name = entry->d_name;
      if (!name.starts_with("daemon.") || !name.ends_with(".reload")) continue;
      name.remove_prefix(7);
      name.remove_suffix(7);
      const auto pid = parse_i64(name);
      if (!pid || *pid <= 0 || !is_running_refresher(static_cast<long>(*pid))) continue;
      if (std::find(pids.begin(), pids.end(), *pid) == pids.end()) pids.push_back(*pid);
    }
    ::closedir(handle);
  }
  return pids;
}

Result<long> choose_daemon(const ReloadOptions& options) {
  if (options.pid > 0) return options.pid;
  if (const char* main_pid = std::getenv("MAINPID"); main_pid && *main_pid) {
    if (auto pid = parse_i64(main_pid); pid && *pid > 0) return static_cast<long>(*pid);
  }
  const auto pids = running_daemons();
  if (pids.empty()) {
    // No daemon is "unavailable" (69) to the caller, as with status: one may start later.
    return fail(ErrorClass::transient,
                "no running claude-key-refresher daemon found; start one (systemctl --user start "
                "claude-key-refresher, or claude-key-refresher run)");
  }
  if (pids.size() > 1) {
    std::string list;
    for (const long pid : pids) list += (list.empty() ? "" : ", ") + std::to_string(pid);
    return fail(ErrorClass::usage,
                "several daemons are running (pids " + list + "); name one with --pid");
  }
  return pids.front();
}

}  // namespace

CLI::App* add_reload_command(CLI::App& app, ReloadOptions& options) {
  auto* reload = app.add_subcommand(
      "reload", "make the running daemon reload its config; fails if the new config is refused");
  reload->add_option("--pid", options.pid,
                     "the daemon's pid (default: $MAINPID, else the only running daemon)");
  reload->add_option("--timeout", options.timeout,
                     "how long to wait for the daemon's answer (default 85s)");
  return reload;
}

Result<std::string> reload_daemon(const ReloadOptions& options) {
  const auto timeout = parse_duration(options.timeout);
  if (!timeout || timeout->count() <= 0) {
    return fail(ErrorClass::usage, "--timeout expects a duration like 85s or 2m");
  }
  auto pid = choose_daemon(options);
  if (!pid) return std::unexpected(pid.error());
  const auto path = progress_file_of(*pid);
  if (!path) {
    return fail(ErrorClass::transient,
                "process " + std::to_string(*pid) +
                    " is not a running claude-key-refresher daemon (it has no reload file in the "
                    "runtime or state dir); check: claude-key-refresher status");
  }
  auto before = read_reload_progress(*path);
  if (!before) return std::unexpected(before.error());
  const std::uint64_t answer_at = before->started + 1;
  if (::kill(static_cast<pid_t>(*pid), SIGHUP) != 0) {
    return fail(ErrorClass::transient, "cannot signal the daemon (pid " + std::to_string(*pid) +
                                           "): " + std::strerror(errno));
  }
  const std::int64_t deadline = monotonic_ms() + timeout->count();
  for (;;) {
    if (auto now = read_reload_progress(*path); now && now->finished >= answer_at) {
      if (now->ok) return now->message;
      return fail(ErrorClass::config,
                  "reload refused, the daemon keeps running the previous "
                  "configuration: " +
                      now->message +
                      "; fix it (claude-key-refresher check-config), then reload again");
    }
    if (!is_running_refresher(*pid)) {
      return fail(ErrorClass::transient, "the daemon (pid " + std::to_string(*pid) +
                                             ") exited during the reload; see its log");
    }
    if (monotonic_ms() >= deadline) {
      return fail(ErrorClass::transient,
                  "the daemon (pid " + std::to_string(*pid) +
                      ") did not finish the reload within " + options.timeout +
                      " (a refresh in flight delays it); see its log and status");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ckh
