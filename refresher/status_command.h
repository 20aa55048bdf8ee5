// `claude-key-refresher status [--json]` once main.cpp has selected the profiles: gathers
// each profile's report, prints it, and returns the worst profile's health as the exit
// code (status_report.h: 0 ok, 75 stale, 69 unavailable, 77 refused, 78 config), so a
// monitoring check can run `status` and read its exit code.
// Callers: main.cpp.
#pragma once

#include <string>
#include <vector>

#include "refresher/config.h"

namespace ckh {

int status_command(const std::vector<const ProfileConfig*>& profiles, const std::string& state_dir,
                   bool json);

// For `status --json` when the configuration cannot be loaded: prints the JSON verdict
// (health "config") on stdout; main.cpp still reports the problems on stderr and exits 78.
void print_status_config_problems_json(const std::vector<std::string>& problems);

}  // namespace ckh
