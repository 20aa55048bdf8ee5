// One refresh of one profile, the heart of the refresher (../shared/DESIGN.md):
//   lock P.lock (exclusive, whole refresh) -> re-read P.cred and P.status -> decide whether
//   the backend is needed at all -> fetch -> write P.secret durably -> publish P.cred
//   atomically -> record the outcome in P.status -> unlock.
// Guarantees:
// - Never two backend calls at once for a profile across processes.
// - Skips the backend when another process already did the work the request asks for.
// - Generations strictly increase, even across a corrupt or deleted P.cred.
// - A failure never touches P.cred: the last good credential stays published until it
//   expires (stale-while-error); the failure and the backoff go to P.status, with the
//   source state it happened for: once that changes, neither holds anything back
//   (permanent_stop.h).
// - A record fetched under other source settings than the profile's (schedule.h
//   fetched_from_current_source) satisfies no request: an edited source is served at once.
// - Intervals (refresh_interval, backoff, rate limits, Retry-After) are elapsed time, immune
//   to wall-clock steps; expiry is wall time (schedule.h).
// - Rotated secrets are durable before the credential that came with them is published.
//   A backend about to send a request that rotates one first reserves the room for
//   everything written after the answer (state_writer.h); a save that still fails is
//   retried and never drops the rotated state; what a killed or failed save left in a temp
//   copy of P.secret is adopted by the next refresh (temp_recovery.h).
// Callers: `once`, `signal`-driven and timer-driven refreshes in the daemon.
#pragma once

#include <optional>
#include <string>

#include "refresher/clock.h"
#include "refresher/config.h"
#include "shared/paths.h"
#include "shared/record.h"
#include "shared/refresh_protocol.h"
#include "shared/status_record.h"

namespace ckh {

enum class RefreshAction {
  refreshed,     // the backend was called and a new generation published
  skipped,       // nothing to do: the record already satisfies the request, or is as good
                 // as a refresh would make it (a credential living no longer than the
                 // caller's TTL, asked for again within short_lived_min_gap: schedule.h)
  rate_limited,  // a suspected-401 refresh came too soon after the last forced one
  backing_off,   // the backend was not called: in backoff after failures, a Retry-After
                 // in force (even for a forced request), or a permanent failure for this
                 // source state (permanent_stop.h; a forced request or a person still
                 // tries, and a changed config, key file or secret ends both at once)
  failed,        // the backend (or publishing) failed
};

struct RefreshOutcome {
  RefreshAction action = RefreshAction::failed;
  RefreshReply reply;                      // what the helper is told
  std::optional<CredentialRecord> record;  // the record published after this, if any
  StatusRecord status;                     // P.status after this
};

struct RefreshEnvironment {
  const Clock& clock;
  double (*uniform01)();  // randomness for backoff jitter
  // A person asked (`once` with a terminal on stdin or stderr): a permanent error is tried
  // again at once instead of waiting for its cause to change (permanent_stop.h); the
  // backoff of a transient one and a Retry-After still hold. Cron, timers, the daemon and
  // the helper leave it false.
  bool person = false;
};

double random_uniform01();

RefreshOutcome refresh_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                               const RefreshRequest& request,
                               const RefreshEnvironment& environment);

// Reads P.cred without locking (status, scheduling). A missing, unsafe or corrupt file
// reads as none. P.status: read_status_or_default in shared/status_record.h.
std::optional<CredentialRecord> read_record_if_any(const ProfilePaths& paths);

}  // namespace ckh
