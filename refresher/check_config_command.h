// `claude-key-refresher check-config [--json] [--probe]`: validates the configuration and
// prints what it found. Guarantees:
// - every problem of the file is reported (config.h), one line each on stderr, then a
//   summary line naming the file; with --json the same as one JSON object on stdout
//   ({"config","ok","problems"} or, when valid, also "defaulted", "profiles", "warnings");
// - with --probe and a valid configuration, every profile selected is also probed
//   (config_probe.h: files, programs, endpoints with TLS), every problem of every profile
//   reported the same way; nothing secret is sent or printed;
// - returns whether no problem was found (main() makes false exit 78).
// Callers: refresher/main.cpp.
#pragma once

#include <string>

namespace ckh {

struct CheckConfigRequest {
  std::string config_path;  // as main() resolved it (--config, CLAUDE_KEY_HELPER_CONFIG, ...)
  std::string profile;      // empty: every profile
  bool json = false;
  bool probe = false;
};

bool check_config_command(const CheckConfigRequest& request);

}  // namespace ckh
