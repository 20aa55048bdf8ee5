// status_report.h's health verdicts and its text and JSON formats: pure functions of the
// reports (no I/O), so that fuzz_status can feed them arbitrary bytes.
#include "refresher/status_report.h"

#include <fmt/format.h>

#include "refresher/json_writer.h"
#include "shared/time_text.h"

namespace ckh {

namespace {

std::string when(const std::optional<std::int64_t>& t, std::int64_t now) {
  return t ? time_and_relative(*t, now) : "never";
}

Json json_time(const std::optional<std::int64_t>& t) {
  return t ? Json(*t) : Json(nullptr);
}

Json json_utc(const std::optional<std::int64_t>& t) {
  return t ? Json(rfc3339_utc(*t)) : Json(nullptr);
}

// A unix-second field and its RFC 3339 form beside it ("expires_at", "expires_at_utc").
void put_time(Json& object, const char* name, const std::optional<std::int64_t>& t) {
  object[name] = json_time(t);
  object[std::string(name) + "_utc"] = json_utc(t);
}

bool has_valid_credential(const ProfileReport& r, std::int64_t now) {
  return r.record && (!r.record->expires_at || *r.record->expires_at > now);
}

int severity(Health health) {
  switch (health) {
    case Health::ok:
      return 0;
    case Health::stale:
      return 1;
    case Health::unavailable:
      return 2;
    case Health::refused:
      return 3;
    case Health::config:
      return 4;
  }
  return 4;
}

// Why the verdict is what it is, for the text output.
std::string health_reason(const ProfileReport& r, Health health, std::int64_t now) {
  switch (health) {
    case Health::ok:
      return "a valid credential is published";
    case Health::stale:
      return "the last refresh failed; the published credential is still valid" +
             (r.record->expires_at ? " until " + time_and_relative(*r.record->expires_at, now)
                                   : std::string());
    default:
      break;
  }
  std::string why = r.record                   ? "the credential expired"
                    : r.record_problem.empty() ? "no credential yet"
                                               : "the credential is unreadable";
  if (r.status.error_class) {
    why += std::string(" and the last refresh failed (") + error_class_name(*r.status.error_class) +
           ")";
  }
  return why;
}

}  // namespace

Health profile_health(const ProfileReport& r, std::int64_t now) {
  if (has_valid_credential(r, now)) return r.status.error_class ? Health::stale : Health::ok;
  // A P.cred the helper refuses (link, owner, mode) stays refused until the user acts; a
  // corrupt one is replaced by the next refresh.
  if (r.record_problem_kind == ErrorClass::unsafe) return Health::refused;
  if (!r.status.error_class) return Health::unavailable;
  switch (*r.status.error_class) {
    case ErrorClass::config:
      return Health::config;
    case ErrorClass::permanent:
    case ErrorClass::unsafe:
      return Health::refused;
    default:
      return Health::unavailable;
  }
}

Health worst_health(const std::vector<ProfileReport>& reports, std::int64_t now) {
  Health worst = Health::ok;
  for (const ProfileReport& r : reports) {
    const Health health = profile_health(r, now);
    if (severity(health) > severity(worst)) worst = health;
  }
  return worst;
}

const char* health_name(Health health) {
  switch (health) {
    case Health::ok:
      return "ok";
    case Health::stale:
      return "stale";
    case Health::unavailable:
      return "unavailable";
    case Health::refused:
      return "refused";
    case Health::config:
      return "config";
  }
  return "config";
}

int health_exit_code(Health health) {
  switch (health) {
    case Health::ok:
      return 0;
    case Health::stale:
      return 75;
    case Health::unavailable:
      return 69;
    case Health::refused:
      return 77;
    case Health::config:
      return 78;
  }
  return 78;
}

std::string format_report_text(const std::vector<ProfileReport>& reports, std::int64_t now) {
  std::string out;
  for (const ProfileReport& r : reports) {
    if (!out.empty()) out += '\n';
    out += fmt::format("profile {}\n", r.name);
    out += fmt::format("  backend:       {}\n", r.backend);
    const Health health = profile_health(r, now);
    out += fmt::format("  health:        {} (exit {}): {}\n", health_name(health),
                       health_exit_code(health), health_reason(r, health, now));
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
    if (r.status.last_rejected_at) {
      out += fmt::format(
          "  last rejected: {} (Claude Code said the credential was refused and "
          "asked for a new one)\n",
          when(r.status.last_rejected_at, now));
    }
    if (!r.status.caller_shortfall.empty()) {
      out += fmt::format("  warning:       {}\n", r.status.caller_shortfall);
    }
    if (!r.secret_location.empty()) {
      out += fmt::format("  secret:        {}{}\n", r.secret_location,
                         r.secret_store_keyring ? " (secret_store = \"keyring\")" : "");
    }
    if (!r.status.secret_store_problem.empty()) {
      out += fmt::format("  warning:       {}\n", r.status.secret_store_problem);
    }
    // A stopped profile waits for a fix, not for its backoff to end: "backoff until" beside
    // "none automatically" would contradict it.
    if (!r.stopped && r.status.backoff_until && *r.status.backoff_until > now) {
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
          "secret); fixing the cause clears it, or run: claude-key-refresher once --force "
          "--profile {}\n",
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

std::string format_config_problems_json(const std::vector<std::string>& problems,
                                        std::int64_t now) {
  Json out = Json::object();
  out["now"] = now;
  out["now_utc"] = rfc3339_utc(now);
  out["health"] = health_name(Health::config);
  out["exit_code"] = health_exit_code(Health::config);
  out["problems"] = problems;
  out["profiles"] = Json::array();
  return json_text(out) + "\n";
}

std::string format_report_json(const std::vector<ProfileReport>& reports, std::int64_t now) {
  Json out = Json::object();
  out["now"] = now;
  out["now_utc"] = rfc3339_utc(now);
  const Health worst = worst_health(reports, now);
  out["health"] = health_name(worst);
  out["exit_code"] = health_exit_code(worst);
  out["profiles"] = Json::array();
  for (const ProfileReport& r : reports) {
    Json p = Json::object();
    p["name"] = r.name;
    p["backend"] = r.backend;
    const Health health = profile_health(r, now);
    p["health"] = health_name(health);
    p["exit_code"] = health_exit_code(health);
    if (r.record) {
      Json credential = Json::object();
      credential["generation"] = r.record->generation;
      credential["source"] = r.record->source;
      put_time(credential, "fetched_at", r.record->fetched_at);
      put_time(credential, "expires_at", r.record->expires_at);
      std::int64_t left = 0;  // null when the file's time is too far out to subtract
      credential["seconds_left"] =
          r.record->expires_at && !__builtin_sub_overflow(*r.record->expires_at, now, &left)
              ? Json(left)
              : Json(nullptr);
      credential["valid"] = has_valid_credential(r, now);
      p["credential"] = std::move(credential);
    } else {
      p["credential"] = nullptr;
    }
    p["credential_problem"] = r.record_problem.empty() ? Json(nullptr) : Json(r.record_problem);
    put_time(p, "last_attempt_at", r.status.last_attempt_at);
    put_time(p, "last_success_at", r.status.last_success_at);
    p["consecutive_failures"] = r.status.consecutive_failures;
    p["error_class"] =
        r.status.error_class ? Json(error_class_name(*r.status.error_class)) : Json(nullptr);
    p["last_error"] = r.status.last_error.empty() ? Json(nullptr) : Json(r.status.last_error);
    put_time(p, "backoff_until", r.status.backoff_until);
    put_time(p, "last_forced_at", r.status.last_forced_at);
    put_time(p, "last_rejected_at", r.status.last_rejected_at);
    p["caller_shortfall"] =
        r.status.caller_shortfall.empty() ? Json(nullptr) : Json(r.status.caller_shortfall);
    p["secret_store"] = r.secret_store_keyring ? "keyring" : "file";
    p["secret_location"] = r.secret_location.empty() ? Json(nullptr) : Json(r.secret_location);
    p["secret_store_problem"] =
        r.status.secret_store_problem.empty() ? Json(nullptr) : Json(r.status.secret_store_problem);
    put_time(p, "next_refresh_at", r.next_attempt);
    put_time(p, "retry_after_until", r.status.retry_after_until);
    p["automatic_refresh_stopped"] = r.stopped;
    p["daemon_alive"] = r.daemon_pid.has_value();
    p["daemon_pid"] = r.daemon_pid ? Json(*r.daemon_pid) : Json(nullptr);
    out["profiles"].push_back(std::move(p));
  }
  return json_text(out) + "\n";
}

}  // namespace ckh
