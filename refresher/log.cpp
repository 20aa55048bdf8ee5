#include "refresher/log.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "shared/text.h"

namespace ckh {

void log_line(LogLevel level, std::string_view profile, std::string_view message) {
  static const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  std::string line;
  if (journald) {
    line = "<";  // appends, not operator+: g++ 12 -O3 reports a false -Wrestrict on the latter
    line += to_decimal(static_cast<int>(level));
    line += '>';
  } else {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    struct tm parts {};
    ::gmtime_r(&now, &parts);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &parts);
    line = stamp;
  }
  line += "claude-key-refresher";
  if (!profile.empty()) {
    line += '[';
    line += profile;
    line += ']';
  }
  line += ": ";
  line += one_line(message, 1000);
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t written = ::write(2, rest.data(), rest.size());
    if (written <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace ckh
