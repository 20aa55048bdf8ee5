#include "refresher/refresh.h"

#include <algorithm>
#include <random>

#include "refresher/log.h"
#include "refresher/profile_lock.h"
#include "refresher/schedule.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::size_t kMaxSecretBytes = 1024 * 1024;

RefreshReply ok_reply(std::uint64_t generation) {
  return RefreshReply{true, generation, ErrorClass::transient, {}};
}

RefreshReply failed_reply(ErrorClass kind, std::string message) {
  return RefreshReply{false, 0, kind, std::move(message)};
}

// Does the record already give the caller what it asked for?
bool satisfied(const std::optional<CredentialRecord>& record, const RefreshRequest& request,
               const ProfileConfig& profile, std::int64_t now) {
  if (!record) return false;
  if (record->backend != (profile.backend ? profile.backend->name() : profile.backend_name))
    return false;
  switch (request.reason) {
    case RefreshReason::forced:
      return false;
    case RefreshReason::suspected_401:
      // Someone already replaced the rejected credential.
      return record->generation > request.seen_generation &&
             (!record->expires_at || *record->expires_at >= request.need_until);
    case RefreshReason::expiring:
      return !record->expires_at || *record->expires_at >= request.need_until;
    case RefreshReason::due:
      return now < next_due(*record, profile) &&
             (!record->expires_at || *record->expires_at >= request.need_until);
  }
  return false;
}

std::string backoff_message(const StatusRecord& status) {
  std::string message = "backing off after " + to_decimal(status.consecutive_failures) +
                        " failure(s) until " + to_decimal(*status.backoff_until) + " (unix)";
  if (!status.last_error.empty()) message += ": " + status.last_error;
  return message;
}

}  // namespace

double random_uniform01() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::optional<CredentialRecord> read_record_if_any(const ProfilePaths& paths) {
  auto record = read_record_file(paths.cred);
  return record ? std::move(*record) : std::nullopt;
}

RefreshOutcome refresh_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                               const RefreshRequest& request,
                               const RefreshEnvironment& environment) {
  RefreshOutcome outcome;
  if (auto dir = ensure_private_dir(paths.dir); !dir) {
    outcome.reply = failed_reply(dir.error().kind, dir.error().message);
    return outcome;
  }
  auto lock = ProfileLock::acquire(paths.lock);
  if (!lock) {
    outcome.reply = failed_reply(lock.error().kind, lock.error().message);
    return outcome;
  }

  if (const std::size_t removed = remove_stale_temp_files(paths.dir); removed > 0) {
    log_line(LogLevel::info, profile.name,
             "removed " + to_decimal(static_cast<std::uint64_t>(removed)) +
                 " temp file(s) left by a killed refresher");
  }
  // Re-read under the lock: another process may have refreshed while we waited.
  auto read = read_record_file(paths.cred);
  if (!read) log_line(LogLevel::warning, profile.name, read.error().message + "; replacing it");
  std::optional<CredentialRecord> record = read ? std::move(*read) : std::nullopt;
  StatusRecord status = read_status_or_default(paths.status);
  outcome.record = record;
  outcome.status = status;
  const std::int64_t now = environment.clock.unix_seconds();

  if (satisfied(record, request, profile, now)) {
    outcome.action = RefreshAction::skipped;
    outcome.reply = ok_reply(record->generation);
    return outcome;
  }
  if (request.reason == RefreshReason::suspected_401 && status.last_forced_at &&
      now - *status.last_forced_at < profile.force_min_interval.count()) {
    outcome.action = RefreshAction::rate_limited;
    outcome.reply =
        failed_reply(ErrorClass::transient, "a forced refresh ran less than " +
                                                to_decimal(profile.force_min_interval.count()) +
                                                " s ago (rate limit)");
    return outcome;
  }
  const bool explicit_force = request.reason == RefreshReason::forced;
  // Backoff protects the backend, but with nothing valid left a caller would get no key at
  // all: then one attempt per backoff_min is allowed through (the lock serialises them).
  const bool nothing_valid = !record || (record->expires_at && *record->expires_at <= now);
  const bool retry_allowed =
      nothing_valid &&
      (!status.last_attempt_at || now - *status.last_attempt_at >= profile.backoff_min.count());
  if (!explicit_force && !retry_allowed && status.backoff_until && now < *status.backoff_until) {
    outcome.action = RefreshAction::backing_off;
    outcome.reply =
        failed_reply(status.error_class.value_or(ErrorClass::transient), backoff_message(status));
    return outcome;
  }

  std::string secret_state;
  if (auto secret = read_private_file(paths.secret, kMaxSecretBytes)) {
    secret_state = std::move(*secret);
  } else if (secret.error().kind != ErrorClass::not_found) {
    log_line(LogLevel::warning, profile.name, secret.error().message);
  }

  status.last_attempt_at = now;
  if (request.reason == RefreshReason::suspected_401 || explicit_force) status.last_forced_at = now;
  status.last_generation = std::max(status.last_generation, record ? record->generation : 0);

  FetchContext context{environment.clock, secret_state};
  context.forced = request.reason == RefreshReason::suspected_401 || explicit_force;
  context.refresh_before_expiry = profile.refresh_before_expiry;
  context.refresh_interval = profile.refresh_interval;
  context.sink_claude_code = profile.has_sink("claude-code");
  context.persist_secret = [&paths](const std::string& state) {
    return write_private_file_atomic(paths.secret, state);
  };
  Result<FetchResult> fetched = profile.backend->fetch(context);
  if (fetched) {
    if (auto valid = validate_credential(fetched->credential); !valid) {
      fetched =
          std::unexpected(Error{ErrorClass::permanent, std::string(profile.backend->name()) +
                                                           " backend: " + valid.error().message});
    }
  }
  Result<void> published{};
  CredentialRecord next;
  if (fetched && status.last_generation == UINT64_MAX) {
    // Only a hand-edited P.status gets here; wrapping to 0 would break monotonicity.
    published = fail(ErrorClass::permanent,
                     "generation counter exhausted; remove " + paths.status + " and " + paths.cred);
  } else if (fetched) {
    if (fetched->new_secret_state) {
      published = write_private_file_atomic(paths.secret, *fetched->new_secret_state);
    }
    if (published) {
      next.generation = status.last_generation + 1;
      next.backend = profile.backend->name();
      next.source = one_line(fetched->source, 200);
      next.fetched_at = now;
      next.expires_at = fetched->expires_at;
      next.credential = fetched->credential;
      published = write_private_file_atomic(paths.cred, serialize_record(next));
    }
  }

  const std::int64_t finished = environment.clock.unix_seconds();
  status.updated_at = finished;
  if (fetched && published) {
    status.last_success_at = finished;
    status.consecutive_failures = 0;
    status.error_class.reset();
    status.last_error.clear();
    status.backoff_until.reset();
    status.last_generation = next.generation;
    outcome.action = RefreshAction::refreshed;
    outcome.reply = ok_reply(next.generation);
    outcome.record = next;
  } else {
    const Error error = fetched ? published.error() : fetched.error();
    // Backends redact their own messages; the credential we hold is removed once more.
    std::string message = record ? redact(error.message, record->credential) : error.message;
    if (fetched) message = redact(message, fetched->credential);
    status.consecutive_failures += 1;
    status.error_class = error.kind;
    status.last_error = one_line(message, kMaxStatusMessageBytes);
    const auto delay =
        error.kind == ErrorClass::transient
            ? backoff_delay(status.consecutive_failures, profile, environment.uniform01())
            : profile.backoff_max;
    // A peer that said when to come back (429 Retry-After) is not asked again before that.
    status.backoff_until =
        finished + std::max<std::int64_t>(delay.count(), error.retry_after_s.value_or(0));
    outcome.action = RefreshAction::failed;
    outcome.reply = failed_reply(error.kind, status.last_error);
  }
  if (auto written = write_private_file_atomic(paths.status, serialize_status(status)); !written) {
    log_line(LogLevel::warning, profile.name, written.error().message);
  }
  outcome.status = status;
  return outcome;
}

}  // namespace ckh
