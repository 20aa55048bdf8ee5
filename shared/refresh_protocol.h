// What the helper asks of the refresher, and the answer. The same request travels either
// as one line over the daemon's socket P.sock (stream, one request and one reply per
// connection), or as arguments of `claude-key-refresher once` when no daemon is alive.
//
//   request: "refresh reason=<due|expiring|suspected-401|rejected|forced> seen=<generation>
//            need_until=<unix s>\n"
//            "ping\n"
//   reply:   "ok <generation>\n"                  the record now holds this generation
//            "failed <error class> <message>\n"   nothing new; message is one line, no secret
//            "pong <pid>\n"
//
// Meaning of a refresh request: the caller has seen generation `seen`, and needs a
// credential valid until `need_until`. The refresher skips the backend when the record
// already satisfies that (someone else refreshed); suspected-401 (the helper guessed a 401
// from timing) and rejected (the caller said so: Claude Code's CLAUDE_HELPER_CONTEXT=
// mid-session-refresh after a 401/403) additionally require a generation newer than `seen`
// and are rate-limited per profile. Callers: helper/ask_refresher,
// refresher/daemon, refresher/main (once).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

enum class RefreshReason { due, expiring, suspected_401, rejected, forced };

// suspected-401 or rejected: the credential `seen` was (probably) refused by the API.
constexpr bool reports_refusal(RefreshReason reason) {
  return reason == RefreshReason::suspected_401 || reason == RefreshReason::rejected;
}

struct RefreshRequest {
  RefreshReason reason = RefreshReason::due;
  std::uint64_t seen_generation = 0;
  std::int64_t need_until = 0;
};

struct RefreshReply {
  bool ok = false;
  std::uint64_t generation = 0;                    // when ok
  ErrorClass error_class = ErrorClass::transient;  // when !ok
  std::string message;                             // when !ok
};

inline constexpr std::size_t kMaxProtocolLine = 1024;

const char* refresh_reason_name(RefreshReason reason);
Result<RefreshReason> parse_refresh_reason(std::string_view name);

std::string format_request(const RefreshRequest& request);
Result<RefreshRequest> parse_request(std::string_view line);  // with or without the '\n'

std::string format_reply(const RefreshReply& reply);
Result<RefreshReply> parse_reply(std::string_view line);

}  // namespace ckh
