#include "helper/caller.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/proc_stat.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

bool is_shell(std::string_view comm) {
  return comm == "sh" || comm == "dash" || comm == "bash" || comm == "zsh" || comm == "ksh" ||
         comm == "busybox" || comm == "ash";
}

}  // namespace

std::optional<CallerId> identify_claude_code_caller() {
  long pid = static_cast<long>(::getppid());
  auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  if (is_shell(stat->comm) && stat->ppid > 1) {
    pid = stat->ppid;
    stat = read_proc_stat(pid);
    if (!stat) return std::nullopt;
  }
  return CallerId{pid, stat->start_time};
}

std::string caller_memory_path(const std::string& callers_dir, const std::string& profile,
                               const CallerId& caller) {
  return callers_dir + "/" + profile + "." + to_decimal(caller.pid) + "." +
         to_decimal(caller.start_time);
}

std::optional<CallerMemory> read_caller_memory(const std::string& path) {
  auto text = read_private_file(path, 256);
  if (!text) return std::nullopt;
  std::string_view view = trim(*text);
  const auto space = view.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto generation = parse_u64(view.substr(0, space));
  auto served_at = parse_i64(view.substr(space + 1));
  if (!generation || !served_at) return std::nullopt;
  return CallerMemory{*generation, *served_at};
}

void write_caller_memory(const std::string& callers_dir, const std::string& path,
                         const CallerMemory& memory) {
  ::mkdir(callers_dir.c_str(), 0700);
  const std::string content =
      to_decimal(memory.generation) + " " + to_decimal(memory.served_at_ms) + "\n";
  (void)write_private_file_atomic(path, content, /*durable=*/false);
}

}  // namespace ckh
