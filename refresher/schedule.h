// When to refresh, and how long to back off: pure functions of the record, the status and
// the profile settings. No clock reads, no randomness of their own (callers pass the clock
// reading and a uniform number in [0,1)), so the daemon, `once` and the tests agree exactly.
//
// Two kinds of time (clock.h): expiry instants are wall time and are compared with the
// wall clock; intervals (refresh_interval, backoff, rate limits, Retry-After) must not
// stretch or shrink when someone steps the wall clock. P.status therefore carries an
// anchor (boot_id, boot_ms at updated_at), and rebase_status moves every time in it by the
// wall-clock step since it was written, measured against CLOCK_BOOTTIME. After that, the
// plain comparisons with `now` below measure elapsed time, whatever the wall clock did.
// Callers: refresh.cpp (is a refresh due?), daemon.cpp (when to wake), status_report.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "refresher/clock.h"
#include "refresher/config.h"
#include "shared/record.h"
#include "shared/status_record.h"

namespace ckh {

// A step of the wall clock this small is rounding (wall seconds vs boot milliseconds).
inline constexpr std::int64_t kClockStepToleranceS = 2;

// The status with every time in it (updated_at, attempts, success, backoff, forced,
// Retry-After) moved into the current wall-clock frame: by the wall-clock step since it was
// written. Unchanged when it has no anchor or was written in another boot.
StatusRecord rebase_status(StatusRecord status, const ClockReading& now);

// Marks the status as written now: updated_at and its anchor.
void stamp_status(StatusRecord& status, const ClockReading& now);

// Where the record's refresh_interval counts from, in the current wall-clock frame: the
// (rebased) success that published it when P.status describes it, else its fetched_at, but
// never later than now (a clock stepped back behind the fetch would otherwise postpone the
// refresh by the size of the step).
std::int64_t interval_start(const CredentialRecord& record, const StatusRecord& status,
                            std::int64_t now);

// The unix second at which the record should be replaced: refresh_interval after
// `start` (interval_start; the one-argument form uses fetched_at), or earlier when less than
// refresh_before_expiry would remain. For credentials that live shorter than twice
// refresh_before_expiry, at half their life instead (a 60 s credential with the default
// 10 m would otherwise be "due" the moment it arrives).
// A record published by a different backend than the profile's, or under other source
// settings (fetched_from_current_source), is due at once.
std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile,
                      std::int64_t start);
std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile);

// Whether the record was fetched by the profile's backend under its current source settings
// (its source_fingerprint, fingerprint.h): editing a profile's source (another key file,
// env -> file, a new Vault path or AWS secret id, another command) makes it false; so does
// a change of the profile's headers (published with the credential).
bool fetched_from_current_source(const CredentialRecord& record, const ProfileConfig& profile);

// When the next automatic attempt may be made: now when there is no record, else
// max(due, backoff end, Retry-After end); none while `stopped` (a permanent failure waits
// for the user: permanent_stop.h). `status` must be rebased.
std::optional<std::int64_t> next_attempt(const std::optional<CredentialRecord>& record,
                                         const StatusRecord& status, const ProfileConfig& profile,
                                         std::int64_t now, bool stopped = false);

// How long the daemon sleeps before the attempt due at `at` (none: no attempt until the user
// acts): never longer than max_sleep, so that it looks at its state dir and at the clocks
// again every so often; and never less than what keeps its timer attempts a second apart
// (since_attempt: how long ago its last one was, by the steady clock), even when P.status
// cannot be written. 0: attempt now.
std::chrono::milliseconds wake_delay(std::optional<std::int64_t> at, std::int64_t now,
                                     std::optional<std::chrono::milliseconds> since_attempt,
                                     std::chrono::milliseconds max_sleep);

// Full-jitter exponential backoff after `failures` consecutive failures (>= 1): a uniform
// delay between backoff_min and min(backoff_max, backoff_min * 2^(failures-1)).
std::chrono::seconds backoff_delay(std::uint64_t failures, const ProfileConfig& profile,
                                   double uniform01);

// The 'expiring' rate limit: a credential living no longer than the caller needs
// (need_until - now) can never satisfy its request, so each helper call would run the
// backend. Such requests reach the backend at most once per this many seconds (half the
// credential's life, at most force_min_interval, at least 1 s); 0 when the record is not
// such a credential.
std::int64_t short_lived_min_gap(const CredentialRecord& record, const ProfileConfig& profile,
                                 std::int64_t need_until, std::int64_t now);

}  // namespace ckh
