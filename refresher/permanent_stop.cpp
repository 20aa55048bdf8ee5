#include "refresher/permanent_stop.h"

#include <cstdlib>

#include "refresher/fingerprint.h"
#include "shared/secure_file.h"

namespace ckh {

namespace {

constexpr std::size_t kMaxSecretBytes = 1024 * 1024;  // as refresh.cpp reads it

}  // namespace

std::string failure_inputs_fingerprint(const ProfileConfig& profile,
                                       std::string_view secret_state) {
  std::string inputs = "profile " + profile.name + "\nbackend " + profile.backend_name +
                       "\nconfig " + profile.config_fingerprint + "\nsecret ";
  inputs += secret_state;
  // A static key from an environment variable: setting it (and restarting) is the fix.
  if (profile.backend) {
    for (const auto& name : profile.backend->secret_env_names()) {
      const char* value = std::getenv(name.c_str());
      inputs += "\nenv " + name + "=" + (value ? value : "");
    }
  }
  return token_fingerprint(inputs);
}

std::string current_failure_inputs(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto secret = read_private_file(paths.secret, kMaxSecretBytes);
  return failure_inputs_fingerprint(profile, secret ? std::string_view(*secret) : "");
}

bool stopped_for_inputs(const StatusRecord& status, std::string_view fingerprint) {
  return status.error_class == ErrorClass::permanent && !status.stopped_for.empty() &&
         status.stopped_for == fingerprint;
}

std::string stopped_message(const StatusRecord& status, const std::string& profile_name) {
  return status.last_error + " (not retried automatically: fix it, then run: " +
         "claude-key-refresher once --force --profile " + profile_name + ")";
}

}  // namespace ckh
