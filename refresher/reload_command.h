// `claude-key-refresher reload`: make the running daemon reload its config and wait for the
// result (systemd's ExecReload=; Type=notify-reload needs systemd 253, Debian 12 has 252,
// where ExecReload=kill -HUP returns before the daemon has even read the file).
// Guarantees:
// - The daemon is the one with --pid, else $MAINPID (systemd sets it for ExecReload), else the
//   only daemon that has a reload file (refresher/reload_progress.h) in the runtime dir or the
//   state dir. Only a live process with such a file, named claude-key-refresher, is signalled.
// - Sends it SIGHUP and waits, bounded by --timeout, until it says how that reload went:
//   the success text, or an error: config when the new config was refused (the daemon keeps
//   the old one; the message lists every problem), transient when the daemon exited or did
//   not answer in time, not_found/usage when there is no daemon or several to choose from.
// Callers: refresher/main.cpp.
#pragma once

#include <string>

#include "shared/error.h"

namespace CLI {
class App;
}

namespace ckh {

struct ReloadOptions {
  long pid = 0;                 // 0: $MAINPID, else the only running daemon
  std::string timeout = "85s";  // below systemd's default TimeoutStartSec (90s)
};

CLI::App* add_reload_command(CLI::App& app, ReloadOptions& options);

Result<std::string> reload_daemon(const ReloadOptions& options);

}  // namespace ckh
