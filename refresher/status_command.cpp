#include "refresher/status_command.h"

#include <cstdio>

#include "refresher/clock.h"
#include "refresher/status_report.h"

namespace ckh {

int status_command(const std::vector<const ProfileConfig*>& profiles, const std::string& state_dir,
                   bool json) {
  RealClock clock;
  const ClockReading reading = read_clock(clock);
  const std::int64_t now = reading.unix_s;
  std::vector<ProfileReport> reports;
  for (const ProfileConfig* profile : profiles)
    reports.push_back(gather_report(*profile, state_dir, reading));
  const std::string text =
      json ? format_report_json(reports, now) : format_report_text(reports, now);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return health_exit_code(worst_health(reports, now));
}

void print_status_config_problems_json(const std::vector<std::string>& problems) {
  RealClock clock;
  const std::string text = format_config_problems_json(problems, clock.unix_seconds());
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace ckh
