// Line-oriented I/O over P.sock and pipes, shared by the helper (client), the refresher's
// daemon (server) and its `signal`/`status` (clients). Every wait of a client is bounded by
// one deadline on CLOCK_MONOTONIC (connect, send and read alike); nothing here raises
// SIGPIPE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

std::int64_t monotonic_ms();

// For blocking descriptors (the daemon's side of a connection).
bool send_all(int fd, std::string_view data);

// Sends everything before the deadline; false when the peer is gone or the time is up.
bool send_all_until(int fd, std::string_view data, std::int64_t deadline_ms);

// Reads up to the first '\n' (returned without it). transient when the peer closes first or
// the deadline passes; corrupt past kMaxProtocolLine bytes.
Result<std::string> read_line_until(int fd, std::int64_t deadline_ms);

// A connected, non-blocking, close-on-exec stream socket to the listener on socket_path.
// Never waits past deadline_ms: a listener that does not accept (stopped, wedged, its backlog
// full) is transient. Nothing is sent before the listener is known to run as our own uid
// (SO_PEERCRED): another uid is unsafe. not_found when nothing listens there (no file, a
// stale file, or a path too long for a unix socket): then no daemon serves the profile.
Result<int> connect_unix(const std::string& socket_path, std::int64_t deadline_ms);

}  // namespace ckh
