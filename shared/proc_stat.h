// Reading /proc/<pid>/stat: a process's command name, parent and kernel start time. The
// start time makes (pid, start) a process identity that pid reuse cannot fake. Linux only;
// elsewhere read_proc_stat returns none. Callers: the helper (who is my caller?), the
// refresher (is that caller still alive?).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ckh {

struct ProcStat {
  std::string comm;
  long ppid = 0;
  std::uint64_t start_time = 0;  // field 22, clock ticks since boot
};

std::optional<ProcStat> parse_proc_stat(std::string_view text);
std::optional<ProcStat> read_proc_stat(long pid);

}  // namespace ckh
