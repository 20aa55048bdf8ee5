// `claude-key-refresher status`: what a person or a script needs to know about a profile,
// never a secret. Gathers the record's metadata, P.status, the schedule and whether a
// daemon answers on P.sock, and formats it as text or JSON.
// Callers: main.cpp.
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
  std::optional<CredentialRecord> record;  // the credential field is never printed
  std::string record_problem;              // why P.cred could not be read, when it exists
  StatusRecord status;                     // rebased on the current wall clock (schedule.h)
  bool stopped = false;  // a permanent failure for the current config and P.secret
  std::optional<std::int64_t> next_attempt;  // none while stopped
  std::optional<long> daemon_pid;
};

ProfileReport gather_report(const ProfileConfig& profile, const std::string& state_dir,
                            const ClockReading& now);
std::string format_report_text(const std::vector<ProfileReport>& reports, std::int64_t now);
std::string format_report_json(const std::vector<ProfileReport>& reports, std::int64_t now);

}  // namespace ckh
