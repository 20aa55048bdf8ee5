#include "refresher/schedule.h"

#include <algorithm>
#include <cmath>

namespace ckh {

std::int64_t next_due(const CredentialRecord& record, const ProfileConfig& profile) {
  // Published by another backend (the config changed): replace it at once.
  const std::string backend = profile.backend ? profile.backend->name() : profile.backend_name;
  if (record.backend != backend) return record.fetched_at;
  std::int64_t due = record.fetched_at + profile.refresh_interval.count();
  if (record.expires_at) {
    const std::int64_t lifetime = std::max<std::int64_t>(0, *record.expires_at - record.fetched_at);
    const std::int64_t before =
        std::min<std::int64_t>(profile.refresh_before_expiry.count(), lifetime / 2);
    due = std::min(due, *record.expires_at - before);
  }
  return due;
}

std::int64_t next_attempt(const std::optional<CredentialRecord>& record, const StatusRecord& status,
                          const ProfileConfig& profile, std::int64_t now) {
  std::int64_t at = record ? next_due(*record, profile) : now;
  if (status.backoff_until) at = std::max(at, *status.backoff_until);
  return at;
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

}  // namespace ckh
