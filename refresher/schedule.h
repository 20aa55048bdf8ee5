// When to refresh, and how long to back off: pure functions of the record, the status and
// the profile settings. No clock reads, no randomness of their own (callers pass a uniform
// number in [0,1)), so the daemon, `once` and the tests agree exactly.
// Callers: refresh.cpp (is a refresh due?), daemon.cpp (when to wake), status_report.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "refresher/config.h"
#include "shared/record.h"
#include "shared/status_record.h"

namespace ckh {

// The unix second at which the record should be replaced: refresh_interval after it was
// fetched, or earlier when less than refresh_before_expiry would remain. For credentials
// that live shorter than twice refresh_before_expiry, at half their life instead (a 60 s
// credential with the default 10 m would otherwise be "due" the moment it arrives).
// A record published by a different backend than the profile's is due at once.
std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile);

// When the next attempt may be made: now when there is no record, max(due, backoff end).
std::int64_t next_attempt(const std::optional<CredentialRecord>& record, const StatusRecord& status,
                          const ProfileConfig& profile, std::int64_t now);

// Full-jitter exponential backoff after `failures` consecutive failures (>= 1): a uniform
// delay between backoff_min and min(backoff_max, backoff_min * 2^(failures-1)).
std::chrono::seconds backoff_delay(std::uint64_t failures, const ProfileConfig& profile,
                                   double uniform01);

}  // namespace ckh
