// A permanent failure (invalid_grant, a 401/403 from a backend, a refused secret) waits for
// the user: retrying the same configuration with the same secret only resends what was
// refused. P.status records what the failure was for (stopped_for: a fingerprint of the
// profile's configuration, P.secret and the environment variables the backend reads its
// secrets from); automatic refreshes (the daemon's timer, the helper's requests, `once`
// without --force) are not attempted while that fingerprint still matches. An explicit
// `once --force` or `signal`, a `login` (new P.secret, cleared status), an edited config
// or a changed secret resume them.
// The fingerprint is 12 hex digits of a SHA-256 (fingerprint.h): it names, never reveals.
// Callers: refresh.cpp (gate and record), daemon.cpp and status_report.cpp (schedule).
#pragma once

#include <string>
#include <string_view>

#include "refresher/config.h"
#include "shared/paths.h"
#include "shared/status_record.h"

namespace ckh {

std::string failure_inputs_fingerprint(const ProfileConfig& profile, std::string_view secret_state);

// The same with P.secret as it is on disk now (none reads as empty).
std::string current_failure_inputs(const ProfileConfig& profile, const ProfilePaths& paths);

// A permanent failure was recorded for exactly these inputs.
bool stopped_for_inputs(const StatusRecord& status, std::string_view fingerprint);

// What a caller refused for that reason is told (one line, from P.status, no secret).
std::string stopped_message(const StatusRecord& status, const std::string& profile_name);

}  // namespace ckh
