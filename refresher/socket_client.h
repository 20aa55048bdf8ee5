// The refresher as a client of a daemon's P.sock (`signal`, `status`): one request line,
// one reply line, the whole exchange (connect included) bounded by timeout_ms, and nothing
// said to a listener of another uid (unsafe). Line I/O itself is shared/line_io.h.
// Callers: main.cpp (signal, status).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

// not_found when no daemon listens on socket_path.
Result<std::string> exchange_with_daemon(const std::string& socket_path, std::string_view request,
                                         int timeout_ms);

// The pid of the daemon serving that socket, when one answers a ping.
std::optional<long> daemon_pid(const std::string& socket_path);

}  // namespace ckh
