// `claude-key-refresher status`: what a person or a script needs to know about a profile,
// never a secret. Gathers the record's metadata, P.status, the schedule and whether a
// daemon answers on P.sock, and formats it as text or JSON.
// Health, for monitoring: each profile gets one verdict, and `status` exits with the worst
// (worst first: config > refused > unavailable > stale > ok), the codes of main.cpp's header:
//   ok 0           a valid credential is published and the last refresh succeeded
//   stale 75       a valid credential is published but the last refresh failed (served while
//                  the backend is failing)
//   unavailable 69 no valid credential (none yet, expired, unreadable) and the failure is
//                  transient or unknown: may clear by itself
//   refused 77     no valid credential and the backend refused (permanent, unsafe), or P.cred
//                  is refused as unsafe (the helper's 77 too): the user must act
//   config 78      no valid credential and the configuration is wrong
// Times are shown as RFC 3339 UTC with a relative form (shared/time_text.h); the JSON keeps
// its unix-second numbers and adds an "..._utc" string beside each.
// The JSON comes from json_writer.h, so it is valid UTF-8 whatever a backend's stderr held.
// Callers: status_command.cpp, tests/fuzz/fuzz_status.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "refresher/clock.h"
#include "refresher/config.h"
#include "shared/record.h"
#include "shared/status_record.h"

namespace ckh {

struct ProfileReport {
  std::string name;
  std::string backend;
  std::optional<CredentialRecord> record;         // the credential field is never printed
  std::string record_problem;                     // why P.cred could not be read, when it exists
  std::optional<ErrorClass> record_problem_kind;  // unsafe: refused, as the helper exits 77
  StatusRecord status;                            // rebased on the current wall clock (schedule.h)
  bool stopped = false;  // a permanent failure for the current config and P.secret
  std::optional<std::int64_t> next_attempt;  // none while stopped
  std::optional<long> daemon_pid;
  // Where the long-lived secret state lives ("in the keyring (…)", "in /…/P.secret"; empty:
  // none) and the profile's secret_store setting (secret_store.h).
  std::string secret_location;
  bool secret_store_keyring = false;
};

enum class Health { ok, stale, unavailable, refused, config };

Health profile_health(const ProfileReport& report, std::int64_t now);
// The worst of all profiles' health; ok for none.
Health worst_health(const std::vector<ProfileReport>& reports, std::int64_t now);
const char* health_name(Health health);
// The sysexits code of main.cpp's header for this verdict.
int health_exit_code(Health health);

ProfileReport gather_report(const ProfileConfig& profile, const std::string& state_dir,
                            const ClockReading& now);
std::string format_report_text(const std::vector<ProfileReport>& reports, std::int64_t now);
std::string format_report_json(const std::vector<ProfileReport>& reports, std::int64_t now);
// `status --json` when the configuration cannot be loaded: health "config", exit code 78,
// the problems, no profiles (a monitoring script still gets JSON to read).
std::string format_config_problems_json(const std::vector<std::string>& problems, std::int64_t now);

}  // namespace ckh
