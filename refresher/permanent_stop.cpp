#include "refresher/permanent_stop.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "refresher/fingerprint.h"
#include "refresher/schedule.h"
#include "refresher/secret_store.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::size_t kKeyBytes = 32;

std::string stat_line(const struct stat& info) {
  return to_decimal(static_cast<std::uint64_t>(info.st_dev)) + " " +
         to_decimal(static_cast<std::uint64_t>(info.st_ino)) + " " +
         to_decimal(static_cast<std::int64_t>(info.st_size)) + " " +
         to_decimal(static_cast<std::int64_t>(info.st_mtim.tv_sec)) + "." +
         to_decimal(static_cast<std::int64_t>(info.st_mtim.tv_nsec)) + " " +
         to_decimal(static_cast<std::int64_t>(info.st_ctim.tv_sec)) + "." +
         to_decimal(static_cast<std::int64_t>(info.st_ctim.tv_nsec)) + " " +
         to_decimal(static_cast<std::uint64_t>(info.st_mode)) + " " +
         to_decimal(static_cast<std::uint64_t>(info.st_uid));
}

// Who the file is now, not what it holds: creating, replacing, editing, chmod or chown of
// it (or a chmod of its directory) changes this.
std::string file_identity(const std::string& path) {
  std::string out = "file " + to_decimal(path.size()) + ":" + path + " ";
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return out + "absent " + to_decimal(errno);
  out += stat_line(info);
  if (S_ISLNK(info.st_mode)) {
    struct stat target {};
    out += ::stat(path.c_str(), &target) == 0 ? " -> " + stat_line(target)
                                              : " -> absent " + to_decimal(errno);
  }
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  struct stat dir_info {};
  if (::stat(dir.c_str(), &dir_info) == 0) {
    out += " dir " + to_decimal(static_cast<std::uint64_t>(dir_info.st_mode)) + " " +
           to_decimal(static_cast<std::uint64_t>(dir_info.st_uid));
  }
  return out;
}

std::optional<std::string> read_key(const ProfilePaths& paths) {
  auto key = read_private_file(fingerprint_key_path(paths), 4096);
  if (!key || key->size() < kKeyBytes) return std::nullopt;
  return std::move(*key);
}

// P.secret's content, and who P.keyring is: a login that saves to the keyring replaces the
// marker, so a new secret there is seen without asking the keyring (secret_store.h).
std::string secret_on_disk(const ProfilePaths& paths) {
  auto secret = read_private_file(paths.secret, kMaxSecretBytes);
  std::string out = secret ? std::move(*secret) : std::string();
  const std::string marker = keyring_marker_path(paths);
  if (struct stat info{}; ::lstat(marker.c_str(), &info) == 0) {
    out += "\nkeyring marker " + file_identity(marker);
  }
  return out;
}

}  // namespace

std::string fingerprint_key_path(const ProfilePaths& paths) {
  // P.status -> P.fpkey: the same profile, the same directory.
  std::string path = paths.status;
  if (path.ends_with(".status")) path.resize(path.size() - 7);
  return path + ".fpkey";
}

std::string failure_inputs_fingerprint(const ProfileConfig& profile, std::string_view secret_state,
                                       std::string_view key) {
  std::string inputs = "ckh-source-state 2\nprofile " + profile.name + "\nbackend " +
                       profile.backend_name + "\nconfig " + profile.config_fingerprint + "\n";
  if (profile.backend) {
    inputs += "settings " + source_settings_fingerprint(profile) + "\n";
    // A static key from an environment variable: setting it (and restarting) is the fix.
    for (const auto& name : profile.backend->secret_env_names()) {
      const char* value = std::getenv(name.c_str());
      append_setting(inputs, "env " + name, value ? value : "");
    }
    const SourceState state = profile.backend->source_state();
    for (const auto& [name, value] : state.env) append_setting(inputs, "reads " + name, value);
    for (const auto& file : state.files) inputs += file_identity(file) + "\n";
  }
  append_setting(inputs, "secret", secret_state);
  return keyed_fingerprint(key, inputs);
}

std::string current_failure_inputs(const ProfileConfig& profile, const ProfilePaths& paths) {
  const auto key = read_key(paths);
  if (!key) return {};
  return failure_inputs_fingerprint(profile, secret_on_disk(paths), *key);
}

std::string failure_inputs_to_record(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto key = read_key(paths);
  if (!key) {
    std::string fresh(kKeyBytes, '\0');
    // The kernel's generator (no libcrypto on this path: sha256.h says why); a short read
    // or an unseeded pool at boot is no key rather than a weak one.
    if (getrandom(fresh.data(), fresh.size(), 0) != static_cast<ssize_t>(fresh.size())) return {};
    if (!write_private_file_atomic(fingerprint_key_path(paths), fresh)) return {};
    key = std::move(fresh);
  }
  return failure_inputs_fingerprint(profile, secret_on_disk(paths), *key);
}

bool stopped_for_inputs(const StatusRecord& status, std::string_view fingerprint) {
  return status.error_class == ErrorClass::permanent && !status.stopped_for.empty() &&
         status.stopped_for == fingerprint;
}

bool failed_for_other_inputs(const StatusRecord& status, std::string_view current) {
  return status.error_class && !status.stopped_for.empty() && status.stopped_for != current;
}

std::optional<std::int64_t> next_automatic_attempt(const std::optional<CredentialRecord>& record,
                                                   const StatusRecord& status,
                                                   const ProfileConfig& profile,
                                                   const ProfilePaths& paths, std::int64_t now) {
  if (!status.error_class) return next_attempt(record, status, profile, now, false);
  const std::string current = current_failure_inputs(profile, paths);
  if (failed_for_other_inputs(status, current)) {
    // The cause may be fixed: the new source state is tried now (refresh_profile agrees),
    // after a Retry-After the server asked for.
    return std::max(now, status.retry_after_until.value_or(now));
  }
  return next_attempt(record, status, profile, now, stopped_for_inputs(status, current));
}

std::string stopped_message(const StatusRecord& status, const std::string& profile_name) {
  return one_line_with_tail(status.last_error,
                            " (not retried until the config, key file or secret changes; "
                            "to retry now, run: claude-key-refresher once --force --profile " +
                                profile_name + ")",
                            kMaxStatusMessageBytes);
}

}  // namespace ckh
