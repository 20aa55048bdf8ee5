// The helper's whole job, minus process plumbing: read the record, decide, ask for a refresh
// when needed (bounded), and produce either the credential line or one error line.
// Contract (../shared/DESIGN.md, "claude-key-helper"):
// - Success: stdout is the credential and one newline, nothing else.
// - Failure: one line (< 500 bytes) that says what is wrong and what to run; never any part
//   of a secret; exit status per HelperExit.
// - Hands out a credential only if it stays valid for ttl + margin; otherwise asks the
//   refresher and waits at most wait_ms; prints a still-valid credential when the refresh
//   fails (Claude Code would send a blank key otherwise).
// Callers: helper/main.cpp, unit tests.
#pragma once

#include <cstdint>
#include <string>

namespace ckh {

// sysexits.h values; main() returns them.
enum class HelperExit : int {
  ok = 0,
  usage = 64,
  corrupt = 65,
  io = 74,
  expired = 75,
  unsafe = 77,
  not_configured = 78,
};

struct HelperOptions {
  std::string profile = "default";
  std::int64_t ttl_ms = 300000;
  std::int64_t margin_ms = 15000;
  std::int64_t wait_ms = 10000;
  bool from_claude_code = false;  // started by Claude Code, not by a person at a shell
};

struct HelperOutcome {
  HelperExit exit = HelperExit::ok;
  std::string out;  // stdout (credential + '\n') on success
  std::string err;  // one line with '\n' on failure
};

HelperOutcome run_helper(const HelperOptions& options);

}  // namespace ckh
