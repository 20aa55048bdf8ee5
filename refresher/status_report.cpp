#include "refresher/status_report.h"

#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "refresher/secret_store.h"
#include "refresher/socket_client.h"
#include "shared/paths.h"

namespace ckh {

ProfileReport gather_report(const ProfileConfig& profile, const std::string& state_dir,
                            const ClockReading& now) {
  const ProfilePaths paths = profile_paths(state_dir, profile.name);
  ProfileReport report;
  report.name = profile.name;
  report.backend = profile.backend ? profile.backend->name() : profile.backend_name;
  if (auto record = read_record_file(paths.cred)) {
    report.record = std::move(*record);
  } else if (record.error().kind != ErrorClass::not_found) {
    report.record_problem = record.error().message;
    report.record_problem_kind = record.error().kind;
  }
  report.status = rebase_status(read_status_or_default(paths.status), now);
  report.stopped = stopped_for_inputs(report.status, current_failure_inputs(profile, paths));
  report.next_attempt =
      next_automatic_attempt(report.record, report.status, profile, paths, now.unix_s);
  report.daemon_pid = daemon_pid(paths.sock);
  report.secret_location = where_secret_lives(paths);
  report.secret_store_keyring = profile.secret_store == SecretStore::keyring;
  return report;
}

}  // namespace ckh
