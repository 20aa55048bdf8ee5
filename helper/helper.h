// The helper's whole job, minus process plumbing: read the record, decide, ask for a refresh
// when needed (bounded), and produce either the credential line or one error line.
// Contract (../shared/DESIGN.md, "claude-key-helper"):
// - Success: stdout is the credential and one newline, nothing else.
// - Failure: one line (< 500 bytes) that says what is wrong and what to run; never any part
//   of a secret; exit status per HelperExit.
// - Hands out a credential only if it stays valid for ttl + margin; otherwise asks the
//   refresher and waits at most wait_ms; prints a still-valid credential when the refresh
//   fails (Claude Code would send a blank key otherwise). One that expires before the
//   caller's TTL ends (nothing longer-lived can be had) comes with a warning on stderr.
// - Two callers (../shared/CLAUDE_CODE.md): apiKeyHelper (no CLAUDE_HELPER_CONTEXT: a 401 is
//   guessed from an early rerun by the same process), and the organization's helper-script
//   (CLAUDE_HELPER_CONTEXT set: no guessing; mid-session-refresh says the credential was
//   refused, so a refresh is forced, the refused generation comes back only when no newer
//   one can be had, and the wait is at most kRejectedWaitMs, inside the client's 20 s cap).
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

// Why Claude Code runs the helper: CLAUDE_HELPER_CONTEXT of the helper-script contract,
// or none (apiKeyHelper).
enum class CallerContext { api_key_helper, background, interactive, mid_session_refresh };

// What a successful run prints: the bare token (both contracts), or the JSON object Claude
// Desktop/Cowork read, {"token": ..., "headers": {...}} (output_format.h).
enum class OutputFormat { token, json };

// The client kills a mid-session-refresh run after 20 s: the refresh is waited for 15 s at
// the most, whatever wait_ms says.
inline constexpr std::int64_t kRejectedWaitMs = 15000;

struct HelperOptions {
  std::string profile = "default";
  std::int64_t ttl_ms = 300000;
  // The caller said its TTL (--caller-ttl, the helper-script document's ttlSec): a
  // credential that cannot outlive it is served with a warning on stderr. Otherwise (the
  // apiKeyHelper contract, TTL assumed) success stays silent, as DESIGN.md says.
  bool caller_ttl_stated = false;
  std::int64_t margin_ms = 15000;
  std::int64_t wait_ms = 10000;
  bool from_claude_code = false;  // apiKeyHelper started by Claude Code, not by a person
  CallerContext context = CallerContext::api_key_helper;
  OutputFormat format = OutputFormat::token;
};

struct HelperOutcome {
  HelperExit exit = HelperExit::ok;
  std::string out;  // stdout (credential + '\n') on success
  std::string err;  // one line with '\n' on failure; on success, a warning or nothing
};

HelperOutcome run_helper(const HelperOptions& options);

}  // namespace ckh
