#include "refresher/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "refresher/fingerprint.h"

namespace ckh {

namespace {

// Times come from files a person can edit: shifting must not overflow.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return sum;
}

void shift(std::optional<std::int64_t>& time, std::int64_t by) {
  if (time) time = saturating_add(*time, by);
}

}  // namespace

StatusRecord rebase_status(StatusRecord status, const ClockReading& now) {
  if (status.boot_id.empty() || !status.boot_ms || now.boot_id.empty() ||
      status.boot_id != now.boot_id || now.boot_ms < *status.boot_ms) {
    return status;
  }
  const std::int64_t elapsed_s = (now.boot_ms - *status.boot_ms) / 1000;
  const std::int64_t expected_now = saturating_add(status.updated_at, elapsed_s);
  std::int64_t step = 0;
  if (__builtin_sub_overflow(now.unix_s, expected_now, &step)) return status;
  if (step >= -kClockStepToleranceS && step <= kClockStepToleranceS) return status;
  status.updated_at = saturating_add(status.updated_at, step);
  for (auto* time : {&status.last_attempt_at, &status.last_success_at, &status.backoff_until,
                     &status.last_forced_at, &status.retry_after_until}) {
    shift(*time, step);
  }
  return status;
}

void stamp_status(StatusRecord& status, const ClockReading& now) {
  status.updated_at = now.unix_s;
  status.boot_id = valid_status_token(now.boot_id) ? now.boot_id : std::string();
  status.boot_ms = status.boot_id.empty() ? std::nullopt : std::optional(now.boot_ms);
}

std::int64_t interval_start(const CredentialRecord& record, const StatusRecord& status,
                            std::int64_t now) {
  // Only an anchored status was rebased, so only then is its success time trustworthy.
  const bool describes_record = !status.boot_id.empty() && status.last_success_at &&
                                status.last_generation == record.generation;
  const std::int64_t start = describes_record ? *status.last_success_at : record.fetched_at;
  return std::min(start, now);
}

bool fetched_from_current_source(const CredentialRecord& record, const ProfileConfig& profile) {
  const std::string backend = profile.backend ? profile.backend->name() : profile.backend_name;
  return record.backend == backend && record.headers == profile.headers &&
         record.source_fingerprint == source_settings_fingerprint(profile);
}

std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile,
                      std::int64_t start) {
  // Published by another backend or from other source settings (the config changed, or a
  // record from before source fingerprints): replace it at once.
  if (!fetched_from_current_source(record, profile)) return std::min(start, record.fetched_at);
  std::int64_t due = saturating_add(start, profile.refresh_interval.count());
  if (record.expires_at) {
    const std::int64_t lifetime = std::max<std::int64_t>(0, *record.expires_at - record.fetched_at);
    const std::int64_t before =
        std::min<std::int64_t>(profile.refresh_before_expiry.count(), lifetime / 2);
    due = std::min(due, *record.expires_at - before);
  }
  return due;
}

std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile) {
  return next_due(record, profile, record.fetched_at);
}

std::optional<std::int64_t> next_attempt(const std::optional<CredentialRecord>& record,
                                         const StatusRecord& status, const ProfileConfig& profile,
                                         std::int64_t now, bool stopped) {
  if (stopped) return std::nullopt;
  std::int64_t at = record ? next_due(*record, profile, interval_start(*record, status, now)) : now;
  if (status.backoff_until) at = std::max(at, *status.backoff_until);
  if (status.retry_after_until) at = std::max(at, *status.retry_after_until);
  return at;
}

std::chrono::milliseconds wake_delay(std::optional<std::int64_t> at, std::int64_t now,
                                     std::optional<std::chrono::milliseconds> since_attempt,
                                     std::chrono::milliseconds max_sleep) {
  using std::chrono::milliseconds;
  milliseconds delay = max_sleep;
  if (at) {
    const std::int64_t max_s = max_sleep.count() / 1000 + 1;
    const std::int64_t left_s = *at <= now ? 0 : std::min(saturating_add(*at, -now), max_s);
    delay = std::min(delay, milliseconds(left_s * 1000));
  }
  constexpr milliseconds kMinGap{1000};
  if (since_attempt && *since_attempt < kMinGap) delay = std::max(delay, kMinGap - *since_attempt);
  return delay;
}

std::chrono::seconds backoff_delay(std::uint64_t failures, const ProfileConfig& profile,
                                   double uniform01) {
  const double low = static_cast<double>(profile.backoff_min.count());
  const double high = static_cast<double>(profile.backoff_max.count());
  const std::uint64_t doublings = failures == 0 ? 0 : std::min<std::uint64_t>(failures - 1, 62);
  const double cap = std::min(high, low * std::ldexp(1.0, static_cast<int>(doublings)));
  const double clamped = std::clamp(uniform01, 0.0, 1.0);
  return std::chrono::seconds(static_cast<std::int64_t>(std::llround(low + (cap - low) * clamped)));
}

std::int64_t short_lived_min_gap(const CredentialRecord& record, const ProfileConfig& profile,
                                 std::int64_t need_until, std::int64_t now) {
  if (!record.expires_at || *record.expires_at <= now) return 0;
  const std::int64_t lifetime = *record.expires_at - record.fetched_at;
  if (lifetime <= 0 || lifetime > need_until - now) return 0;
  return std::clamp<std::int64_t>(lifetime / 2, 1,
                                  std::max<std::int64_t>(1, profile.force_min_interval.count()));
}

}  // namespace ckh
