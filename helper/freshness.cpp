#include "helper/freshness.h"

namespace ckh {

std::int64_t need_valid_until(std::int64_t now_s, std::int64_t ttl_ms, std::int64_t margin_ms) {
  const std::int64_t total_ms = ttl_ms + margin_ms;
  return now_s + (total_ms + 999) / 1000;
}

bool fresh_enough(const CredentialRecord& record, std::int64_t need_until_s) {
  return !record.expires_at || *record.expires_at >= need_until_s;
}

bool still_valid(const CredentialRecord& record, std::int64_t now_s) {
  return !record.expires_at || *record.expires_at > now_s;
}

bool suspect_401(const std::optional<CallerMemory>& memory, std::uint64_t generation,
                 std::int64_t now_ms, std::int64_t ttl_ms) {
  if (!memory || memory->generation != generation) return false;
  const std::int64_t elapsed = now_ms - memory->served_at_ms;
  if (elapsed < 0) return false;
  // "Well before its TTL": a tenth of the TTL (at least 2 s) of slack absorbs scheduling
  // jitter around the regular end-of-TTL rerun.
  const std::int64_t slack = ttl_ms / 10 > 2000 ? ttl_ms / 10 : 2000;
  return elapsed + slack < ttl_ms;
}

}  // namespace ckh
