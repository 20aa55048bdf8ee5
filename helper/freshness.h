// Pure decisions of the helper: is a record good enough to hand out, and does an early
// rerun by the same Claude Code process mean its last key was rejected (HTTP 401)?
// No I/O, no clock reads: callers pass the times. Callers: helper.cpp, unit tests.
#pragma once

#include <cstdint>
#include <optional>

#include "shared/record.h"

namespace ckh {

inline constexpr std::int64_t kDefaultTtlMs = 300000;  // Claude Code's default helper TTL
inline constexpr std::int64_t kDefaultMarginMs =
    15000;  // beyond the TTL, for the stale-while-revalidate request
inline constexpr std::int64_t kDefaultWaitMs = 10000;  // bounded wait for a refresh

// The unix second until which a credential must stay valid to be handed to a caller that
// caches it for ttl_ms (Claude Code uses the old key for one more request after the TTL).
std::int64_t need_valid_until(std::int64_t now_s, std::int64_t ttl_ms, std::int64_t margin_ms);

// Valid for the caller's whole TTL plus margin.
bool fresh_enough(const CredentialRecord& record, std::int64_t need_until_s);

// Not expired yet: still better than nothing (Claude Code sends a blank key on failure).
bool still_valid(const CredentialRecord& record, std::int64_t now_s);

// What the helper last handed one Claude Code process.
struct CallerMemory {
  std::uint64_t generation = 0;
  std::int64_t served_at_ms =
      0;  // CLOCK_MONOTONIC milliseconds (system-wide, immune to clock steps)
};

// Claude Code reruns the helper at the end of its TTL, or about a second after an HTTP 401.
// An earlier rerun that would receive the same generation again can only be a 401.
bool suspect_401(const std::optional<CallerMemory>& memory, std::uint64_t generation,
                 std::int64_t now_ms, std::int64_t ttl_ms);

}  // namespace ckh
