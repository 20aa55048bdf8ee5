// `claude-key-refresher run`: the long-running refresher.
// Guarantees (../shared/DESIGN.md):
// - One thread per profile. Each sleeps until its next attempt (next_attempt() in
//   schedule.h: due time or end of backoff) and never polls in between; it wakes at once
//   for a request on P.sock (the helper, `signal`), and answers it when the refresh is done.
// - A profile already served by another live daemon is refused at start (P.sock answers).
// - SIGTERM/SIGINT: finish the refresh in flight, remove the sockets, exit 0.
// - SIGHUP: reload the config; a bad config keeps the old one running and logs why.
// - systemd Type=notify: READY=1 once every socket listens, STOPPING=1 on exit.
// - Removes the helper's caller files of processes that are gone.
// Callers: refresher/main.cpp.
#pragma once

#include <string>
#include <vector>

#include "refresher/config.h"

namespace ckh {

struct DaemonOptions {
  std::string config_path;
  std::vector<std::string> only_profiles;  // empty: every profile in the config
  std::string pid_file;                    // empty: none
};

// Returns the process exit code (0 after a clean stop).
int run_daemon(Config config, const DaemonOptions& options);

}  // namespace ckh
