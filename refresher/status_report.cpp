#include "refresher/status_report.h"

#include "refresher/json_text.h"

#include <fmt/format.h>

#include <ctime>

#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "refresher/socket_client.h"
#include "shared/paths.h"
#include "shared/text.h"

namespace ckh {

namespace {

std::string utc(std::int64_t unix_s) {
  return format_utc(unix_s, "%Y-%m-%d %H:%M:%S UTC");
}

std::string span(std::int64_t seconds) {
  const bool negative = seconds < 0;
  std::int64_t left = negative ? -seconds : seconds;
  std::string text;
  if (left >= 86400) text += fmt::format("{}d", left / 86400), left %= 86400;
  if (left >= 3600) text += fmt::format("{}h", left / 3600), left %= 3600;
  if (left >= 60) text += fmt::format("{}m", left / 60), left %= 60;
  if (left > 0 || text.empty()) text += fmt::format("{}s", left);
  return negative ? "-" + text : text;
}

std::string when(const std::optional<std::int64_t>& t, std::int64_t now) {
  if (!t) return "never";
  const std::int64_t delta = *t - now;
  if (delta == 0) return utc(*t) + " (now)";
  return utc(*t) + (delta >= 0 ? " (in " + span(delta) + ")" : " (" + span(-delta) + " ago)");
}

std::string json_time(const std::optional<std::int64_t>& t) {
  return t ? fmt::format("{}", *t) : "null";
}

}  // namespace

ProfileReport gather_report(const ProfileConfig& profile, const std::string& state_dir,
                            const ClockReading& now) {
  const ProfilePaths paths = profile_paths(state_dir, profile.name);
  ProfileReport report;
  report.name = profile.name;
  report.backend = profile.backend ? profile.backend->name() : profile.backend_name;
  if (auto record = read_record_file(paths.cred)) {
    report.record = std::move(*record);
  } else {
    report.record_problem = record.error().message;
  }
  report.status = rebase_status(read_status_or_default(paths.status), now);
  report.stopped = report.status.error_class == ErrorClass::permanent &&
                   stopped_for_inputs(report.status, current_failure_inputs(profile, paths));
  report.next_attempt =
      next_attempt(report.record, report.status, profile, now.unix_s, report.stopped);
  report.daemon_pid = daemon_pid(paths.sock);
  return report;
}

std::string format_report_text(const std::vector<ProfileReport>& reports, std::int64_t now) {
  std::string out;
  for (const ProfileReport& r : reports) {
    if (!out.empty()) out += '\n';
    out += fmt::format("profile {}\n", r.name);
    out += fmt::format("  backend:       {}\n", r.backend);
    if (r.record) {
      out += fmt::format("  generation:    {}\n", r.record->generation);
      out += fmt::format("  source:        {}\n", r.record->source);
      out += fmt::format("  fetched:       {}\n", when(r.record->fetched_at, now));
      if (r.record->expires_at) {
        const bool expired = *r.record->expires_at <= now;
        out += fmt::format("  expires:       {}{}\n", when(r.record->expires_at, now),
                           expired ? " EXPIRED" : "");
      } else {
        out += "  expires:       never\n";
      }
    } else if (!r.record_problem.empty()) {
      out += fmt::format("  credential:    unreadable: {}\n", r.record_problem);
    } else {
      out +=
          "  credential:    none yet (run: claude-key-refresher once --profile " + r.name + ")\n";
    }
    out += fmt::format("  last success:  {}\n", when(r.status.last_success_at, now));
    if (r.status.error_class) {
      out += fmt::format("  last error:    {} ({}; {} failure(s) in a row)\n", r.status.last_error,
                         error_class_name(*r.status.error_class), r.status.consecutive_failures);
    } else {
      out += "  last error:    none\n";
    }
    if (r.status.backoff_until && *r.status.backoff_until > now) {
      out += fmt::format("  backoff until: {}\n", when(r.status.backoff_until, now));
    }
    if (r.status.retry_after_until && *r.status.retry_after_until > now) {
      out += fmt::format(
          "  retry after:   {} (the server's Retry-After; not even a forced "
          "refresh asks before)\n",
          when(r.status.retry_after_until, now));
    }
    if (r.stopped) {
      out += fmt::format(
          "  next refresh:  none automatically (a permanent failure for this configuration and "
          "secret); fix it, then run: claude-key-refresher once --force --profile {}\n",
          r.name);
    } else {
      out += fmt::format("  next refresh:  {}\n", when(r.next_attempt, now));
    }
    out += r.daemon_pid ? fmt::format("  daemon:        running (pid {})\n", *r.daemon_pid)
                        : std::string(
                              "  daemon:        not running (refreshes happen when the helper or "
                              "`once` runs)\n");
  }
  return out;
}

std::string format_report_json(const std::vector<ProfileReport>& reports, std::int64_t now) {
  std::string out = fmt::format("{{\"now\":{},\"profiles\":[", now);
  bool first = true;
  for (const ProfileReport& r : reports) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{{\"name\":{},\"backend\":{}", json_quote(r.name), json_quote(r.backend));
    if (r.record) {
      out += fmt::format(
          ",\"credential\":{{\"generation\":{},\"source\":{},\"fetched_at\":{},\"expires_at\":{},"
          "\"seconds_left\":{},\"valid\":{}}}",
          r.record->generation, json_quote(r.record->source), r.record->fetched_at,
          json_time(r.record->expires_at),
          r.record->expires_at ? fmt::format("{}", *r.record->expires_at - now) : "null",
          !r.record->expires_at || *r.record->expires_at > now);
    } else {
      out += ",\"credential\":null";
    }
    out += fmt::format(",\"credential_problem\":{}",
                       r.record_problem.empty() ? "null" : json_quote(r.record_problem));
    out += fmt::format(
        ",\"last_attempt_at\":{},\"last_success_at\":{},\"consecutive_failures\":{},\"error_"
        "class\":{},"
        "\"last_error\":{},\"backoff_until\":{},\"last_forced_at\":{},\"next_refresh_at\":{},"
        "\"retry_after_until\":{},\"automatic_refresh_stopped\":{},"
        "\"daemon_alive\":{},\"daemon_pid\":{}}}",
        json_time(r.status.last_attempt_at), json_time(r.status.last_success_at),
        r.status.consecutive_failures,
        r.status.error_class ? json_quote(error_class_name(*r.status.error_class)) : "null",
        r.status.last_error.empty() ? "null" : json_quote(r.status.last_error),
        json_time(r.status.backoff_until), json_time(r.status.last_forced_at),
        json_time(r.next_attempt), json_time(r.status.retry_after_until), r.stopped,
        r.daemon_pid.has_value(), r.daemon_pid ? fmt::format("{}", *r.daemon_pid) : "null");
  }
  out += "]}\n";
  return out;
}

}  // namespace ckh
