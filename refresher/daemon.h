// `claude-key-refresher run`: the long-running refresher.
// Guarantees (../shared/DESIGN.md):
// - One thread per profile. Each sleeps until its next attempt (next_attempt() in
//   schedule.h: due time, end of backoff or of a Retry-After; none after a permanent failure
//   until the config or P.secret changes), but at most 30 s; it wakes at once for a request
//   on P.sock (the helper, `signal`; in the runtime dir when there is one, else in the state
//   dir: shared/paths.h), when the wall clock is set (timerfd, then the schedule
//   is rebased: intervals are measured on CLOCK_BOOTTIME), and when something in the state
//   dir is removed or renamed (inotify).
// - A profile already served by another live daemon is refused at start (its claim file
//   P.daemon is locked).
// - The state dir, the claim file and P.sock are known by inode. When one of them is removed
//   or replaced (rm -rf of the state dir under a running daemon), the daemon logs one line
//   saying which and exits with status 75, at the latest 30 s later, so that a fresh start
//   (systemd Restart=on-failure) serves the new dir: never two daemons for one state dir.
//   A socket in the runtime dir that disappears (logind removed the dir at logout under a
//   nohup daemon) is made again, in the state dir if the runtime dir is gone: no exit.
// - Stopping never removes a socket or pid file that is not this daemon's own (by inode).
// - SIGTERM/SIGINT: finish the refresh in flight, remove the sockets, exit 0.
// - SIGHUP: reload the config; a bad config keeps the old one running and logs why. Each
//   reload's start and result go to daemon.<pid>.reload (refresher/reload_progress.h), which
//   `claude-key-refresher reload` (systemd's ExecReload) waits for.
// - An edited config file is reloaded without a SIGHUP, as by one, within about 10 s
//   (config_watch.h: polled every 5 s, loaded once it has read the same for 2 s), so that a
//   daemon never keeps publishing a source the config no longer names while `once`
//   publishes the new. A config file that disappears is not reloaded (a warning says so);
//   a new config whose workers cannot start is tried again a minute later.
// - Starting costs the same with 1 or 1000 profiles: READY=1 is said once every worker
//   listens, before any refresh; scheduled refreshes then run at most 4 at a time
//   (refresh_slots.h), each profile still one at a time by its own worker. A request on
//   P.sock takes no slot (the helper is waiting; per-profile rate limits bound it).
// - Temp files a killed writer left, of any file but P.secret, are removed once at start;
//   each refresh then looks only at its own profile's (temp_recovery.h).
// - systemd Type=notify: READY=1 (with STATUS=) once every socket listens, RELOADING=1 then
//   READY=1 around a reload (READY before the reload file says it is done), STOPPING=1 on
//   exit. Watchdog: with WATCHDOG_USEC (and WATCHDOG_PID unset or ours), WATCHDOG=1 every
//   half period from the main thread, but only while every worker's loop went round within
//   the period (workers then wake at least every quarter period) or is inside one refresh
//   younger than 15 min; a stopped or wedged daemon is therefore killed and restarted.
// - Removes the helper's caller files of processes that are gone.
// Callers: refresher/main.cpp.
#pragma once

#include <string>
#include <vector>

#include "refresher/config.h"
#include "refresher/config_watch.h"

namespace ckh {

struct DaemonOptions {
  std::string config_path;
  std::vector<std::string> only_profiles;  // empty: every profile in the config
  std::string pid_file;                    // empty: none
  ConfigFileStamp config_stamp;            // config_path as it was before `config` was loaded
};

// Returns the process exit code (0 after a clean stop).
int run_daemon(Config config, const DaemonOptions& options);

}  // namespace ckh
