// Housekeeping for the helper's per-caller files (callers/<profile>.<pid>.<start>): removes
// those whose process is gone or was replaced (pid reused: the start time differs).
// Callers: the daemon after each refresh, `once`.
#pragma once

#include <string>

namespace ckh {

// Returns how many files it removed.
int remove_dead_caller_files(const std::string& callers_dir);

}  // namespace ckh
