#include "refresher/login_publish.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "refresher/clock.h"
#include "refresher/profile_lock.h"
#include "refresher/refresh.h"
#include "refresher/secret_store.h"
#include "shared/secure_file.h"
#include "shared/status_record.h"

namespace ckh {

Result<bool> remove_existing(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(ErrorClass::io, "cannot remove " + path + ": " + std::strerror(errno));
}

std::string logout_text(const std::string& profile, const std::vector<std::string>& removed,
                        std::string_view nothing, std::string_view tail) {
  const std::string who = "profile '" + profile + "': ";
  if (removed.empty())
    return who + "nothing to remove: " + std::string(nothing) + std::string(tail);
  std::string list;
  for (std::size_t i = 0; i < removed.size(); ++i) {
    if (i > 0) list += i + 1 == removed.size() ? " and " : ", ";
    list += removed[i];
  }
  return who + "logged out; removed " + list + std::string(tail);
}

Result<std::vector<std::string>> remove_saved_login(const ProfileConfig& profile,
                                                    const ProfilePaths& paths,
                                                    const std::function<void()>& first) {
  std::vector<std::string> removed;
  if (::access(paths.dir.c_str(), F_OK) != 0 && errno == ENOENT) return removed;
  auto lock = ProfileLock::acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  if (first) first();
  auto secret = remove_secret_state(profile, paths);
  if (!secret) return std::unexpected(secret.error());
  auto cred = remove_existing(paths.cred);
  if (!cred) return std::unexpected(cred.error());
  removed.insert(removed.end(), secret->begin(), secret->end());
  if (*cred) removed.push_back("the published credential (" + paths.cred + ")");
  return removed;
}

Result<SavedLogin> save_login_and_publish(const ProfileConfig& profile, const ProfilePaths& paths,
                                          const std::string& secret_state) {
  if (auto dir = ensure_private_dir(paths.dir); !dir) return std::unexpected(dir.error());
  SavedLogin out;
  {
    auto lock = ProfileLock::acquire(paths.lock);
    if (!lock) return std::unexpected(lock.error());
    // Into the configured store (secret_store.h): the keyring, or P.secret.
    auto saved =
        save_secret_state(profile, paths, secret_state, [&paths](const std::string& content) {
          return write_private_file_atomic(paths.secret, content);
        });
    if (!saved) return std::unexpected(saved.error());
    out.store_warning = saved->store_problem;
    // The previous account's token must not stay published: the refresh below publishes
    // the new one as the next generation.
    if (auto removed = remove_existing(paths.cred); !removed) {
      return std::unexpected(removed.error());
    }
    // The user acted: earlier failures (say, the invalid_grant that asked for this login)
    // and their backoff no longer apply.
    StatusRecord status = read_status_or_default(paths.status);
    status.consecutive_failures = 0;
    status.backoff_until.reset();
    status.retry_after_until.reset();  // the login's own requests were answered
    status.error_class.reset();
    status.last_error.clear();
    status.secret_store_problem = out.store_warning;
    if (auto written = write_private_file_atomic(paths.status, serialize_status(status));
        !written) {
      return std::unexpected(written.error());
    }
  }
  RealClock clock;
  const RefreshOutcome outcome =
      refresh_profile(profile, paths, RefreshRequest{RefreshReason::due, 0, 0},
                      RefreshEnvironment{clock, random_uniform01});
  if (!outcome.reply.ok) {
    return fail(outcome.reply.error_class,
                "the tokens were saved but publishing failed: " + outcome.reply.message);
  }
  return out;
}

std::string where_login_went(const ProfilePaths& paths, const SavedLogin& saved) {
  std::string text;
  const std::string where = where_secret_lives(paths);
  if (!where.empty()) text += "; the tokens are " + where;
  if (!saved.store_warning.empty()) text += " (warning: " + saved.store_warning + ")";
  return text;
}

}  // namespace ckh
