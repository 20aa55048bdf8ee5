// The helper's only way to get a new credential: ask the refresher, bounded in time.
// Contract:
// - If a daemon listens on P.sock, send it the request and wait for its reply until the
//   deadline. Otherwise run `claude-key-refresher once --profile P --helper-request ...`
//   itself (no shell; stdin and stderr /dev/null, its own session) and read its reply line.
// - Never waits past deadline_ms (CLOCK_MONOTONIC). A refresher still working then is left
//   to finish in the background (killing it mid-rotation could lose a refresh token); its
//   result serves the next call.
// - The reply is the refresher's protocol reply, or a transient error saying nothing
//   answered in time. Never touches the network itself.
// Callers: helper.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "shared/error.h"
#include "shared/refresh_protocol.h"

namespace ckh {

struct RefresherAddress {
  std::string socket_path;     // P.sock
  std::string refresher_path;  // the claude-key-refresher executable
  std::string profile;
};

Result<RefreshReply> ask_refresher(const RefresherAddress& address, const RefreshRequest& request,
                                   std::int64_t deadline_ms);

// $CLAUDE_KEY_REFRESHER, else claude-key-refresher beside our own executable, else the
// first one on PATH; empty when none is found.
std::string find_refresher();

}  // namespace ckh
