// The helper's only way to get a new credential: ask the refresher, bounded in time.
// Contract:
// - If a daemon listens on P.sock (in the runtime dir, else in the state dir: paths.h),
//   send it the request and wait for its reply. Otherwise
//   run `claude-key-refresher once --profile P --helper-request ...` itself (no shell;
//   stdin and stderr /dev/null, its own session) and read its reply line.
// - One deadline (CLOCK_MONOTONIC) bounds the whole wait: connect, send and read. A daemon
//   that is stopped or wedged (its backlog full) costs at most that; it is not bypassed
//   with a `once` (the daemon may hold P.lock, and it serves the next call).
// - Nothing is said to a P.sock listener of another uid (unsafe), and no `once` is run then.
// - A refresher still working at the deadline is left to finish in the background (killing
//   it mid-rotation could lose a refresh token); its result serves the next call.
// - The reply is the refresher's protocol reply, or an error: transient when nothing
//   answered in time. Never touches the network itself.
// Callers: helper.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"
#include "shared/refresh_protocol.h"

namespace ckh {

struct RefresherAddress {
  std::string socket_path;        // P.sock in the state dir (daemon_sockets finds the other)
  Result<std::string> refresher;  // the claude-key-refresher executable, or why none
  std::string profile;
};

Result<RefreshReply> ask_refresher(const RefresherAddress& address, const RefreshRequest& request,
                                   std::int64_t deadline_ms);

// Where the helper may find the refresher. Claude Code runs the helper in the user's
// project directory, so a relative name would run whatever that project ships: only
// absolute paths are ever used.
struct RefresherSearch {
  std::string_view configured;  // $CLAUDE_KEY_REFRESHER, "" when unset
  std::string_view self_exe;    // our own executable (absolute), "" when unknown
  std::string_view path;        // $PATH
};

// The configured one when it is absolute (a relative one is refused, config: it is a
// mistake to fix, not to guess around), else claude-key-refresher beside self_exe, else
// the first executable claude-key-refresher in an absolute entry of path (relative and
// empty entries, which mean the current directory, are skipped). config when none.
Result<std::string> locate_refresher(const RefresherSearch& search);

// locate_refresher with this process's environment and /proc/self/exe.
Result<std::string> find_refresher();

}  // namespace ckh
