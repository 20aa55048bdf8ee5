#include "refresher/callers_gc.h"

#include <dirent.h>
#include <unistd.h>

#include <string_view>

#include "shared/proc_stat.h"
#include "shared/text.h"

namespace ckh {

namespace {

// "<profile>.<pid>.<start>" -> is that exact process still alive?
bool caller_alive(std::string_view name) {
  const auto last_dot = name.rfind('.');
  if (last_dot == std::string_view::npos || last_dot == 0) return false;
  const auto pid_dot = name.rfind('.', last_dot - 1);
  if (pid_dot == std::string_view::npos) return false;
  auto pid = parse_i64(name.substr(pid_dot + 1, last_dot - pid_dot - 1));
  auto start = parse_u64(name.substr(last_dot + 1));
  if (!pid || !start || *pid <= 0) return false;
  auto stat = read_proc_stat(static_cast<long>(*pid));
  return stat && stat->start_time == *start;
}

}  // namespace

int remove_dead_caller_files(const std::string& callers_dir) {
  DIR* dir = ::opendir(callers_dir.c_str());
  if (!dir) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == ".." || name.find(".tmp.") != std::string_view::npos) continue;
    if (!caller_alive(name)) {
      if (::unlinkat(::dirfd(dir), entry->d_name, 0) == 0) ++removed;
    }
  }
  ::closedir(dir);
  return removed;
}

}  // namespace ckh
