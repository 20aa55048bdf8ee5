#include "helper/helper.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "helper/ask_refresher.h"
#include "helper/caller.h"
#include "helper/freshness.h"
#include "helper/output_format.h"
#include "shared/line_io.h"
#include "shared/paths.h"
#include "shared/private_dir.h"
#include "shared/record.h"
#include "shared/status_record.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {

namespace {

constexpr std::size_t kMaxMessage = 480;  // Claude Code shows the first 500 bytes of stderr

HelperOutcome failure(HelperExit exit, const std::string& message, std::string_view secret = {}) {
  // Defence in depth: whatever the message quotes, the credential we hold never leaves.
  // The inner message may already say what to run: one hint, not two.
  std::string line = "claude-key-helper: " + redact(without_repeated_hint(message), secret);
  line = one_line(line, kMaxMessage);
  line += '\n';
  return HelperOutcome{exit, {}, std::move(line)};
}

HelperExit exit_for(ErrorClass kind) {
  switch (kind) {
    case ErrorClass::unsafe:
      return HelperExit::unsafe;
    case ErrorClass::corrupt:
      return HelperExit::corrupt;
    case ErrorClass::config:
    case ErrorClass::not_found:
      return HelperExit::not_configured;
    case ErrorClass::usage:
      return HelperExit::usage;
    case ErrorClass::io:
      return HelperExit::io;
    case ErrorClass::transient:
    case ErrorClass::permanent:
      return HelperExit::expired;
  }
  return HelperExit::io;
}

struct Loaded {
  std::optional<CredentialRecord> record;  // none: no record yet
  std::optional<Error> refused;            // unsafe, corrupt or unreadable
};

Loaded load_record(const std::string& path) {
  auto record = read_record_file(path);
  if (!record) return Loaded{std::nullopt, record.error()};
  return Loaded{std::move(*record), std::nullopt};
}

// Why the last refresh failed, for the message: the reply if there was one, else what the
// refresher recorded in P.status.
std::string refresh_failure_reason(const Result<RefreshReply>& reply,
                                   const std::string& status_path) {
  if (reply && !reply->ok && !reply->message.empty()) return reply->message;
  if (!reply && reply.error().kind != ErrorClass::transient) return reply.error().message;
  if (auto status = read_status_or_default(status_path); !status.last_error.empty()) {
    return status.last_error;
  }
  return reply ? std::string("the refresher could not refresh it") : reply.error().message;
}

HelperOutcome serve(const CredentialRecord& record, const std::optional<std::string>& memory_path,
                    const std::string& callers_dir, OutputFormat format, std::string warning = {}) {
  if (memory_path) {
    write_caller_memory(callers_dir, *memory_path, CallerMemory{record.generation, monotonic_ms()});
  }
  if (!warning.empty()) {
    warning =
        one_line("claude-key-helper: warning: " + redact(warning, record.credential), kMaxMessage) +
        "\n";
  }
  return HelperOutcome{HelperExit::ok, credential_output(record, format), std::move(warning)};
}

// Why what is served is not what the caller asked for (empty: it is): the caller said the
// generation was refused and no newer one could be had, or it expires before the caller's
// TTL ends.
std::string served_short_warning(const CredentialRecord& served, bool rejected,
                                 std::uint64_t refused_generation, std::int64_t need_until,
                                 std::int64_t now_s, const std::string& reason) {
  if (rejected && served.generation == refused_generation) {
    return "the credential the caller reported refused is the newest there is (" + reason + ")";
  }
  if (served.expires_at && *served.expires_at < need_until) {
    return "the credential expires at " + time_and_relative(*served.expires_at, now_s) +
           ", before the caller's TTL ends (" + rfc3339_utc(need_until) +
           "): the backend gives none longer-lived; lower the TTL (the document's ttlSec and "
           "--caller-ttl)";
  }
  return {};
}

}  // namespace

HelperOutcome run_helper(const HelperOptions& options) {
  auto dir = state_dir();
  if (!dir) return failure(HelperExit::not_configured, dir.error().message);
  const ProfilePaths paths = profile_paths(*dir, options.profile);
  const std::string& profile = options.profile;
  const std::string status_hint = "; run: claude-key-refresher status --profile " + profile;

  // The refresher's rule for its state dir, before anything in it is read or talked to (a
  // dir others can write lets them plant P.cred or P.sock). A missing one is no credential
  // yet: the refresher creates it.
  if (auto safe = check_private_dir(paths.dir);
      !safe && safe.error().kind != ErrorClass::not_found) {
    return failure(exit_for(safe.error().kind),
                   "refusing the state directory: " + safe.error().message +
                       "; then run: claude-key-refresher status --profile " + profile);
  }

  Loaded loaded = load_record(paths.cred);
  if (loaded.refused) {
    const Error& error = *loaded.refused;
    std::string advice =
        error.kind == ErrorClass::corrupt
            ? "; run: claude-key-refresher once --force --profile " + profile
            : "; fix or remove it, then run: claude-key-refresher once --force --profile " +
                  profile;
    return failure(exit_for(error.kind),
                   "refusing the credential cache: " + error.message + advice);
  }

  const std::int64_t now_s = static_cast<std::int64_t>(std::time(nullptr));
  const std::int64_t need_until = need_valid_until(now_s, options.ttl_ms, options.margin_ms);

  std::optional<std::string> memory_path;
  std::optional<CallerMemory> memory;
  // The helper-script contract says why it runs: no guessing from timing there.
  if (options.from_claude_code && options.context == CallerContext::api_key_helper) {
    if (auto caller = identify_claude_code_caller()) {
      memory_path = caller_memory_path(paths.callers_dir, profile, *caller);
      memory = read_caller_memory(*memory_path);
    }
  }

  const bool suspected_401 = loaded.record && suspect_401(memory, loaded.record->generation,
                                                          monotonic_ms(), options.ttl_ms);
  const bool rejected = loaded.record && options.context == CallerContext::mid_session_refresh;
  if (loaded.record && !suspected_401 && !rejected && fresh_enough(*loaded.record, need_until)) {
    return serve(*loaded.record, memory_path, paths.callers_dir, options.format);
  }

  RefreshRequest request;
  request.reason = rejected        ? RefreshReason::rejected
                   : suspected_401 ? RefreshReason::suspected_401
                   : loaded.record ? RefreshReason::expiring
                                   : RefreshReason::due;
  request.seen_generation = loaded.record ? loaded.record->generation : 0;
  request.need_until = need_until;
  const RefresherAddress address{paths.sock, find_refresher(), profile};
  // One deadline for the whole wait (connect, send, reply, or a `once` run); whatever
  // happens in it, a record still valid at its end is served below.
  const std::int64_t wait_ms =
      rejected ? std::min(options.wait_ms, kRejectedWaitMs) : options.wait_ms;
  const auto reply = ask_refresher(address, request, monotonic_ms() + wait_ms);

  // Whatever the reply said, the record on disk is the truth now: the newest generation
  // there is, so the refused one only when nothing newer came within the wait.
  Loaded after = load_record(paths.cred);
  const std::optional<CredentialRecord>& best = after.record ? after.record : loaded.record;
  const std::int64_t after_s = static_cast<std::int64_t>(std::time(nullptr));
  if (best && still_valid(*best, after_s)) {
    // Said only where it tells the caller something: its refused credential came back, or
    // the refresher answered and still has nothing that outlives the TTL the caller stated (a
    // failed refresh serving the last good credential stays silent: status says why).
    const bool refresher_answered = reply && reply->ok;
    const bool short_for_caller = (rejected && best->generation == request.seen_generation) ||
                                  (options.caller_ttl_stated && refresher_answered &&
                                   best->expires_at && *best->expires_at < need_until);
    return serve(*best, memory_path, paths.callers_dir, options.format,
                 short_for_caller
                     ? served_short_warning(*best, rejected, request.seen_generation, need_until,
                                            after_s, refresh_failure_reason(reply, paths.status))
                     : std::string());
  }

  const std::string_view secret = best ? std::string_view(best->credential) : std::string_view();
  if (after.refused) {
    return failure(exit_for(after.refused->kind),
                   "refusing the credential cache: " + after.refused->message, secret);
  }
  const std::string reason = refresh_failure_reason(reply, paths.status);
  const bool refused = (reply && !reply->ok && reply->error_class == ErrorClass::unsafe) ||
                       (!reply && reply.error().kind == ErrorClass::unsafe);
  if (!best && refused) {
    // Something in the state dir (P.lock, P.sock) is not what it must be: say what to fix.
    return failure(HelperExit::unsafe,
                   "cannot get a credential for profile '" + profile + "': " + reason +
                       "; then run: claude-key-refresher once --profile " + profile);
  }
  if (!best) {
    const bool not_set_up = (reply && !reply->ok && reply->error_class == ErrorClass::config) ||
                            (!reply && reply.error().kind == ErrorClass::config);
    if (not_set_up) {
      return failure(HelperExit::not_configured, "profile '" + profile +
                                                     "' is not set up: " + reason +
                                                     "; see: claude-key-refresher check-config");
    }
    return failure(HelperExit::not_configured,
                   "no credential yet for profile '" + profile + "': " + reason +
                       "; run: claude-key-refresher once --profile " + profile);
  }
  return failure(HelperExit::expired,
                 "the credential for profile '" + profile + "' expired at " +
                     rfc3339_utc(*best->expires_at) + " and no fresh one could be had: " + reason +
                     status_hint,
                 secret);
}

}  // namespace ckh
