// How a running daemon tells `claude-key-refresher reload` (systemd's ExecReload) what became
// of a reload: the file daemon.<pid>.reload in the runtime dir (shared/paths.h), else in the
// state dir, 0600, replaced atomically, written only by that daemon's main thread.
// Guarantees:
// - started counts the reloads begun (SIGHUP taken), finished the reloads done; the result
//   and message are those of the last finished one. A client that reads started = N before
//   it sends SIGHUP has its answer once finished >= N + 1 (SIGHUPs sent while a reload runs
//   start another one after it).
// - The daemon writes the file at start (0, 0) and removes it on a clean stop: its presence
//   says "a daemon with this pid serves from here", so a reload never signals a stranger.
// - The message is one line without secrets (a config problem, as check-config prints it).
// Callers: refresher/daemon.cpp (writer), refresher/reload_command.cpp (reader).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

struct ReloadProgress {
  std::uint64_t started = 0;
  std::uint64_t finished = 0;
  bool ok = true;       // the last finished reload's result
  std::string message;  // what it said
};

std::string reload_progress_path(const std::string& dir, long pid);

std::string format_reload_progress(const ReloadProgress& progress);
Result<ReloadProgress> parse_reload_progress(std::string_view text);

Result<void> write_reload_progress(const std::string& path, const ReloadProgress& progress);
Result<ReloadProgress> read_reload_progress(const std::string& path);

}  // namespace ckh
