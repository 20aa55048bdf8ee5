// Who is calling the helper, and what it was last given. Linux only (/proc); elsewhere no
// caller is identified and 401 detection is off.
// Contract:
// - identify_claude_code_caller() names the Claude Code process that ran us: our parent,
//   or our grandparent when the parent is the `/bin/sh -c` Claude Code wraps us in. The
//   identity is pid plus kernel start time, so a reused pid is a different caller.
// - The memory is one small file per caller in callers/ (0700): written without fsync
//   (losing it only skips one 401 detection); the refresher removes files of dead callers.
// Callers: helper.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "helper/freshness.h"

namespace ckh {

struct CallerId {
  long pid = 0;
  std::uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat, clock ticks since boot
};

std::optional<CallerId> identify_claude_code_caller();

// callers_dir/<profile>.<pid>.<start_time>
std::string caller_memory_path(const std::string& callers_dir, const std::string& profile,
                               const CallerId& caller);
std::optional<CallerMemory> read_caller_memory(const std::string& path);
void write_caller_memory(const std::string& callers_dir, const std::string& path,
                         const CallerMemory& memory);

}  // namespace ckh
