#include "refresher/refresh.h"

#include <algorithm>
#include <random>

#include "refresher/fingerprint.h"
#include "refresher/log.h"
#include "refresher/permanent_stop.h"
#include "refresher/profile_lock.h"
#include "refresher/schedule.h"
#include "refresher/secret_store.h"
#include "refresher/state_writer.h"
#include "refresher/temp_recovery.h"
#include "shared/secure_file.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {

namespace {

RefreshReply ok_reply(std::uint64_t generation) {
  return RefreshReply{true, generation, ErrorClass::transient, {}};
}

RefreshReply failed_reply(ErrorClass kind, std::string message) {
  return RefreshReply{false, 0, kind, std::move(message)};
}

bool nothing_valid_at(const std::optional<CredentialRecord>& record, std::int64_t now) {
  return !record || (record->expires_at && *record->expires_at <= now);
}

// Does the record already give the caller what it asked for?
bool satisfied(const std::optional<CredentialRecord>& record, const RefreshRequest& request,
               const ProfileConfig& profile, const StatusRecord& status, std::int64_t now) {
  if (!record) return false;
  if (!fetched_from_current_source(*record, profile)) return false;
  switch (request.reason) {
    case RefreshReason::forced:
      return false;
    case RefreshReason::suspected_401:
    case RefreshReason::rejected:
      // Someone already replaced the rejected credential.
      return record->generation > request.seen_generation &&
             (!record->expires_at || *record->expires_at >= request.need_until);
    case RefreshReason::expiring:
      return !record->expires_at || *record->expires_at >= request.need_until;
    case RefreshReason::due:
      return now < next_due(*record, profile, interval_start(*record, status, now)) &&
             (!record->expires_at || *record->expires_at >= request.need_until);
  }
  return false;
}

// A caller (the helper, for its caller's TTL) needed the credential valid until need_until:
// one that expires before then is handed out all the same (nothing longer can be had), and
// status says why the caller will come back early. Empty: nothing to say.
std::string caller_shortfall(const CredentialRecord& fresh, const RefreshRequest& request,
                             std::int64_t now) {
  if (!fresh.expires_at || *fresh.expires_at >= request.need_until) {
    return {};
  }
  // Whole minutes (at least one): the same shortfall reads the same from call to call.
  const auto minutes = [](std::int64_t seconds) {
    return duration_text(std::max<std::int64_t>(60, (seconds + 30) / 60 * 60));
  };
  return "a caller needs credentials that stay valid about " + minutes(request.need_until - now) +
         " (its TTL and margin) but this backend's last about " +
         minutes(*fresh.expires_at - fresh.fetched_at) +
         ": the caller re-runs the helper early; lower its TTL (ttlSec, "
         "CLAUDE_CODE_API_KEY_HELPER_TTL_MS, --caller-ttl) or lengthen the credentials' lifetime";
}

std::string retry_after_message(const StatusRecord& status, std::int64_t now) {
  std::string message = "the server asked to wait until " +
                        time_and_relative(*status.retry_after_until, now) +
                        " (Retry-After); not retried before then";
  if (!status.last_error.empty()) message += ": " + status.last_error;
  return message;
}

// The error first (what to fix), then until when nothing is tried and how to try now.
std::string backoff_message(const StatusRecord& status, const std::string& profile,
                            std::int64_t now) {
  return one_line_with_tail(
      status.last_error.empty() ? std::string_view("the last refresh failed")
                                : std::string_view(status.last_error),
      " (backing off after " + to_decimal(status.consecutive_failures) + " failure(s) until " +
          time_and_relative(*status.backoff_until, now) +
          "; to retry now, run: claude-key-refresher once --force --profile " + profile + ")",
      kMaxStatusMessageBytes);
}

SecretLocation configured_location(const ProfileConfig& profile) {
  return profile.secret_store == SecretStore::keyring ? SecretLocation::keyring
                                                      : SecretLocation::file;
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

  // Before P.secret is read: a rotated secret an unfinished save left in a temp file is
  // adopted (temp_recovery.h), other leftovers removed.
  const Recovery recovery = recover_leftovers(profile, paths);
  if (recovery.removed > 0) {
    log_line(LogLevel::info, profile.name,
             "removed " + to_decimal(static_cast<std::uint64_t>(recovery.removed)) +
                 " temp file(s) left by a killed refresher");
  }
  // Re-read under the lock: another process may have refreshed while we waited.
  auto read = read_record_file(paths.cred);
  if (!read) log_line(LogLevel::warning, profile.name, read.error().message + "; replacing it");
  std::optional<CredentialRecord> record = read ? std::move(*read) : std::nullopt;
  // Every interval below is measured in the current wall-clock frame (schedule.h).
  const ClockReading started = read_clock(environment.clock);
  const std::int64_t now = started.unix_s;
  StatusRecord status = rebase_status(read_status_or_default(paths.status), started);
  outcome.record = record;
  outcome.status = status;

  // The last attempt failed for another source state than today's: the user changed the
  // configuration, a key file or a secret, maybe to fix it. Try the new state now rather than
  // serve "up to date" (and a stale status) until the next scheduled refresh (permanent_stop.h).
  // Only after a failure: the fast path of a healthy profile reads no extra file.
  const std::string inputs =
      status.error_class ? current_failure_inputs(profile, paths) : std::string();
  const bool inputs_changed = failed_for_other_inputs(status, inputs);
  if (!(inputs_changed && request.reason == RefreshReason::due) &&
      satisfied(record, request, profile, status, now)) {
    outcome.action = RefreshAction::skipped;
    outcome.reply = ok_reply(record->generation);
    return outcome;
  }
  // The peer said when to come back: nobody asks before that, not even an explicit
  // `once --force` or `signal` (each would only earn another 429). Refused, not waited for:
  // the lock is not held for the length of a Retry-After; the daemon's timer comes back.
  if (status.retry_after_until && now < *status.retry_after_until) {
    outcome.action = RefreshAction::backing_off;
    outcome.reply = failed_reply(ErrorClass::transient, retry_after_message(status, now));
    return outcome;
  }
  if (reports_refusal(request.reason) && status.last_forced_at &&
      now - *status.last_forced_at < profile.force_min_interval.count()) {
    outcome.action = RefreshAction::rate_limited;
    outcome.reply =
        failed_reply(ErrorClass::transient, "a forced refresh ran less than " +
                                                to_decimal(profile.force_min_interval.count()) +
                                                " s ago (rate limit)");
    return outcome;
  }
  const bool explicit_force = request.reason == RefreshReason::forced;
  // A person retries an error that is not transient at once: they may have fixed what no
  // fingerprint sees (a Vault policy, an IAM grant, the script a command runs).
  const bool person_retry =
      environment.person && status.error_class && *status.error_class != ErrorClass::transient;
  // A failure for another source state than today's holds nothing back: the user changed
  // the configuration, a key file or a secret (permanent_stop.h).
  if (inputs_changed) {
    status.backoff_until.reset();  // Retry-After stays: the server asked for it
  } else if (!explicit_force && !person_retry && stopped_for_inputs(status, inputs)) {
    // A permanent failure for this very source state: only the user moves on.
    outcome.action = RefreshAction::backing_off;
    outcome.reply = failed_reply(ErrorClass::permanent, stopped_message(status, profile.name));
    return outcome;
  }
  // Backoff protects the backend, but with nothing valid left a caller would get no key at
  // all: then one attempt per backoff_min is allowed through (the lock serialises them).
  const bool nothing_valid = nothing_valid_at(record, now);
  const bool retry_allowed =
      nothing_valid &&
      (!status.last_attempt_at || now - *status.last_attempt_at >= profile.backoff_min.count());
  if (!explicit_force && !person_retry && !retry_allowed && status.backoff_until &&
      now < *status.backoff_until) {
    outcome.action = RefreshAction::backing_off;
    outcome.reply = failed_reply(status.error_class.value_or(ErrorClass::transient),
                                 backoff_message(status, profile.name, now));
    return outcome;
  }
  // A credential that lives no longer than the caller's TTL never satisfies an 'expiring'
  // request: without this, every helper call would run the backend. While the record is
  // valid and the backend ran less than a gap ago, the caller gets what there is.
  if (request.reason == RefreshReason::expiring && !nothing_valid &&
      fetched_from_current_source(*record, profile)) {
    const std::int64_t gap = short_lived_min_gap(*record, profile, request.need_until, now);
    if (gap > 0 && status.last_attempt_at && now - *status.last_attempt_at < gap) {
      // The caller is short-changed for as long as this lasts: status says so (written
      // once, not on every such call).
      if (status.caller_shortfall.empty()) {
        status.caller_shortfall = caller_shortfall(*record, request, now);
        if (!status.caller_shortfall.empty()) {
          if (auto written = write_private_file_atomic(paths.status, serialize_status(status));
              !written) {
            log_line(LogLevel::warning, profile.name, written.error().message);
          }
        }
      }
      outcome.action = RefreshAction::skipped;
      outcome.reply = ok_reply(record->generation);
      return outcome;
    }
  }

  // The secret state: P.secret, else the keyring item (secret_store.h).
  std::string secret_on_disk;
  bool secret_file_exists = true;
  if (auto secret = read_private_file(paths.secret, kMaxSecretBytes)) {
    secret_on_disk = std::move(*secret);
  } else if (secret.error().kind != ErrorClass::not_found) {
    log_line(LogLevel::warning, profile.name, secret.error().message);
  } else {
    secret_file_exists = false;
  }
  std::string stored_state = secret_on_disk;
  SecretLocation stored_in = secret_file_exists ? SecretLocation::file : SecretLocation::none;
  std::optional<Error> secret_unavailable;  // the keyring holds it and cannot be read now
  if (!secret_file_exists) {
    if (auto loaded = load_secret_state(profile, paths)) {
      stored_state = std::move(loaded->state);
      stored_in = loaded->location;
    } else {
      secret_unavailable = loaded.error();
    }
  }
  // A rotated state that could not be saved yet is the one to use (state_writer.h).
  const std::string secret_state = recovery.unsaved_secret.value_or(stored_state);
  StateWriter writer(paths, environment.clock, secret_on_disk);
  // Every save of the state goes to the configured store (P.secret when that fails).
  bool state_saved = false;
  std::string store_problem;
  auto save_state = [&](const std::string& state) -> Result<void> {
    auto saved = save_secret_state(profile, paths, state, [&writer](const std::string& content) {
      return writer.write_secret(content);
    });
    if (!saved) return std::unexpected(saved.error());
    state_saved = true;
    store_problem = saved->store_problem;
    if (!store_problem.empty()) log_line(LogLevel::warning, profile.name, store_problem);
    return {};
  };

  status.last_attempt_at = now;
  if (reports_refusal(request.reason) || explicit_force) status.last_forced_at = now;
  if (request.reason == RefreshReason::rejected) status.last_rejected_at = now;
  status.last_generation = std::max(status.last_generation, record ? record->generation : 0);

  FetchContext context{environment.clock, secret_state};
  context.forced = reports_refusal(request.reason) || explicit_force;
  context.refresh_before_expiry = profile.refresh_before_expiry;
  context.refresh_interval = profile.refresh_interval;
  context.sink_claude_code = profile.has_sink("claude-code");
  context.persist_secret = save_state;
  context.reserve_secret = [&writer](std::size_t secret_bytes) {
    return writer.reserve(secret_bytes);
  };
  context.reload_secret = [&profile, &paths]() -> Result<std::string> {
    auto loaded = load_secret_state(profile, paths);
    if (!loaded) return std::unexpected(loaded.error());
    return std::move(loaded->state);
  };
  Result<FetchResult> fetched = secret_unavailable
                                    ? Result<FetchResult>(std::unexpected(*secret_unavailable))
                                    : profile.backend->fetch(context);
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
      published = save_state(*fetched->new_secret_state);
    } else if (!state_saved && !secret_state.empty() && stored_in != configured_location(profile)) {
      // secret_store changed: the state moves now, even when the backend rotated nothing.
      // A move that fails leaves it where it was; the credential is published all the same.
      if (auto moved = save_state(secret_state); !moved) {
        log_line(LogLevel::warning, profile.name,
                 "could not move the secret state: " + moved.error().message);
      }
    }
    if (published) {
      next.generation = status.last_generation + 1;
      next.backend = profile.backend->name();
      next.source = one_line(fetched->source, 200);
      next.source_fingerprint = source_settings_fingerprint(profile);
      next.fetched_at = now;
      next.expires_at = fetched->expires_at;
      next.credential = fetched->credential;
      next.headers = profile.headers;
      published = writer.write(paths.cred, serialize_record(next));
    }
  }

  const ClockReading finished_reading = read_clock(environment.clock);
  const std::int64_t finished = finished_reading.unix_s;
  stamp_status(status, finished_reading);
  if (fetched && published) {
    status.last_success_at = finished;
    status.consecutive_failures = 0;
    status.error_class.reset();
    status.last_error.clear();
    status.backoff_until.reset();
    status.retry_after_until.reset();
    status.stopped_for.clear();
    status.last_generation = next.generation;
    if (state_saved) {
      status.secret_store_problem = store_problem;
    } else if (stored_in != SecretLocation::file || profile.secret_store == SecretStore::file) {
      // Nothing saved, and the state is where the setting says (or there is none): an old
      // warning about the keyring no longer holds.
      status.secret_store_problem.clear();
    }
    // Only a caller's request says what it needs; the daemon's own keep the last word.
    if (request.need_until > 0) status.caller_shortfall = caller_shortfall(next, request, finished);
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
    status.retry_after_until.reset();
    if (error.retry_after_s && *error.retry_after_s > 0) {
      status.retry_after_until = finished + *error.retry_after_s;
    }
    // What this failure was for, so that a change of it ends the backoff and the stop at
    // once; after the call: the backend may have rewritten P.secret (permanent_stop.h).
    status.stopped_for = failure_inputs_to_record(profile, paths);
    outcome.action = RefreshAction::failed;
    outcome.reply = failed_reply(error.kind, status.last_error);
  }
  if (auto written = writer.write(paths.status, serialize_status(status)); !written) {
    log_line(LogLevel::warning, profile.name, written.error().message);
  }
  outcome.status = status;
  return outcome;
}

}  // namespace ckh
