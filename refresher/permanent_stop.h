// A failure waits for its cause to go away, and notices at once when the user removed it.
// P.status records what the last failure was for (stopped_for: a fingerprint of the
// profile's "source state", below). Then:
// - A permanent failure (invalid_grant, a 401/403, a missing key file, a refused secret):
//   automatic refreshes (the daemon's timer, the helper's requests, `once` from cron or a
//   timer) are not attempted while the source state is the one it was recorded for:
//   retrying would only resend what was refused.
// - Any failure recorded for another source state than the current one holds nothing back:
//   its backoff no longer applies (a Retry-After does: the server asked for it). So a
//   changed config, key file or secret is tried at once, by the daemon at its next look
//   (at most 30 s) and by the next `once` or helper request.
// - `once --force`, `signal`, and `once` run by a person (refresh.h: RefreshEnvironment::
//   person) try at once whatever was recorded; a `login` writes a new P.secret.
//
// The source state: the profile's configuration (config_fingerprint: [profile.P] with its
// backend section, as parsed), the backend's source settings, P.secret, the identity of
// every file the backend reads its credential or secrets from (device, inode, size, mtime,
// ctime, mode, owner, and its directory's mode and owner: never the content), and the
// values of the environment variables it reads them from.
// The fingerprint is "k1-" + 24 hex digits of HMAC-SHA256 keyed with P.fpkey: 32 random
// bytes, created 0600 in the 0700 state dir the first time a failure is recorded. Keyed
// because the inputs hold secrets (an API key in an environment variable, P.secret's refresh
// token): an unkeyed hash in P.status, a file that "never holds a secret" and gets pasted
// into bug reports, would let a guessable one be tried offline. Whoever can read P.fpkey
// can read P.cred anyway. Without P.fpkey, or with a fingerprint from before "k1-" (12
// unkeyed hex digits), nothing matches: nothing is held back (one attempt after upgrading).
// Callers: refresh.cpp (gates and record), daemon.cpp and status_report.cpp (schedule).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/config.h"
#include "shared/paths.h"
#include "shared/record.h"
#include "shared/status_record.h"

namespace ckh {

// P.fpkey of the profile whose files are `paths`.
std::string fingerprint_key_path(const ProfilePaths& paths);

// The fingerprint of the profile's source state with this P.secret content, keyed with `key`.
std::string failure_inputs_fingerprint(const ProfileConfig& profile, std::string_view secret_state,
                                       std::string_view key);

// The same with P.secret and P.fpkey as they are on disk now; "" when there is no P.fpkey
// (then no recorded failure matches). Never creates anything: for status and scheduling.
std::string current_failure_inputs(const ProfileConfig& profile, const ProfilePaths& paths);

// The same for recording a failure (under P.lock): creates P.fpkey when missing; "" when it
// cannot (then the failure holds nothing back beyond its backoff).
std::string failure_inputs_to_record(const ProfileConfig& profile, const ProfilePaths& paths);

// A permanent failure was recorded for exactly these inputs.
bool stopped_for_inputs(const StatusRecord& status, std::string_view fingerprint);

// Whether the failure in `status` was recorded for another source state than `current`
// (status.stopped_for set and different): then its backoff no longer applies.
bool failed_for_other_inputs(const StatusRecord& status, std::string_view current);

// When the daemon's timer next tries (schedule.h next_attempt) with the above applied: none
// while stopped. `status` must be rebased. Reads P.secret, P.fpkey and the source's files.
std::optional<std::int64_t> next_automatic_attempt(const std::optional<CredentialRecord>& record,
                                                   const StatusRecord& status,
                                                   const ProfileConfig& profile,
                                                   const ProfilePaths& paths, std::int64_t now);

// What a caller refused for that reason is told (one line, from P.status, no secret).
std::string stopped_message(const StatusRecord& status, const std::string& profile_name);

}  // namespace ckh
