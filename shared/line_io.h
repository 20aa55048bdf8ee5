// Line-oriented I/O over P.sock and pipes, shared by the helper (client), the refresher's
// daemon (server) and its `signal`/`status` (clients). Every wait is bounded by a deadline
// on CLOCK_MONOTONIC; nothing here raises SIGPIPE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

std::int64_t monotonic_ms();

bool send_all(int fd, std::string_view data);

// Reads up to the first '\n' (returned without it). transient when the peer closes first or
// the deadline passes; corrupt past kMaxProtocolLine bytes.
Result<std::string> read_line_until(int fd, std::int64_t deadline_ms);

// A connected stream socket (close-on-exec), or not_found when nothing listens there
// (no file, a stale file, or a path too long for a unix socket).
Result<int> connect_unix(const std::string& socket_path);

}  // namespace ckh
