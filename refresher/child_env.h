// The environment of every child process the refresher starts: the command backend's
// command, an AWS profile's credential_process, the browser opener of `login` (xdg-open,
// open) and the macOS Keychain tool (security). One rule for all of them:
// - the child gets an explicit environment (never `environ` as it is): this process's
//   variables minus every variable that holds a credential some backend reads
//   (kCredentialEnvNames), minus every name a configured profile declared secret (a static
//   backend's env = "..."; register_secret_env_names), minus the names a caller adds;
// - the AWS credentials (kAwsSecretEnvNames) are dropped too, except for a child that is the
//   AWS credential source itself (ChildRole::aws_credential_source: credential_process),
//   which may need them to do its job;
// - everything else passes (PATH, HOME, DISPLAY, a command's own session variables such as
//   OP_SESSION_*), so that the commands users configure keep working.
// Thread-safe: daemon workers build environments while a reload registers names.
// Callers: backends/command_backend.cpp, aws/aws_credentials.cpp, oauth/login.cpp,
// sinks/keychain.cpp, config.cpp (registration).
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ckh {

// Credentials that any backend (or Claude Code, whose variables users export next to ours)
// reads from the environment: never passed to a child, whatever the configuration.
inline constexpr std::array<std::string_view, 5> kCredentialEnvNames{
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_MESSAGING_TOKEN", "VAULT_TOKEN"};

// The AWS credential chain's secrets (aws/aws_credentials.h): passed only to the AWS
// credential source itself.
inline constexpr std::array<std::string_view, 5> kAwsSecretEnvNames{
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN"};

enum class ChildRole {
  ordinary,               // a command, the browser opener, the Keychain tool
  aws_credential_source,  // credential_process: keeps kAwsSecretEnvNames
};

// Adds names that hold a secret for some configured profile to the process-wide list every
// child loses. The list only grows: after a reload, a name the old configuration read may
// still be set in this process's environment.
void register_secret_env_names(std::span<const std::string> names);

// This process's environment as "NAME=value" entries, by the rule above; also_drop: more
// names the caller knows to be secret.
std::vector<std::string> child_environment(ChildRole role,
                                           std::span<const std::string> also_drop = {});

}  // namespace ckh
