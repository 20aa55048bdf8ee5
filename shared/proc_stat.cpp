#include "shared/proc_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include "shared/text.h"

namespace ckh {

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  //  utime stime cutime cstime priority nice num_threads itrealvalue starttime ..."
  // comm may hold spaces and parentheses: it ends at the LAST ')'.
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  int field = 3;  // the first field after comm is the state, field 3
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    const auto end = rest.find_first_of(" \n");
    const std::string_view value = rest.substr(0, end);
    if (field == 4) {
      auto ppid = parse_i64(value);
      if (!ppid) return std::nullopt;
      stat.ppid = static_cast<long>(*ppid);
    } else if (field == 22) {
      auto start = parse_u64(value);
      if (!start) return std::nullopt;
      stat.start_time = *start;
      return stat;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
    ++field;
  }
  return std::nullopt;
}

std::optional<ProcStat> read_proc_stat(long pid) {
  const std::string path = "/proc/" + to_decimal(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[1024];
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (got <= 0) return std::nullopt;
  return parse_proc_stat(std::string_view(buffer, static_cast<std::size_t>(got)));
}

}  // namespace ckh
