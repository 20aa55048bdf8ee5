// One line per event on stderr, journald-friendly: under systemd (JOURNAL_STREAM set) each
// line carries a "<N>" syslog priority prefix that journald turns into the priority;
// elsewhere a UTC timestamp. Lines are written whole with one write(2), so concurrent
// threads never interleave. Callers pass text that holds no secret (backend errors are
// redacted where they are made). Callers: everything in refresher/.
#pragma once

#include <string_view>

namespace ckh {

enum class LogLevel { error = 3, warning = 4, info = 6, debug = 7 };

void log_line(LogLevel level, std::string_view profile, std::string_view message);

}  // namespace ckh
