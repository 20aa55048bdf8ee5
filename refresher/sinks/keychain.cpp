#include "refresher/sinks/keychain.h"

#include <openssl/evp.h>

#include <cstdint>

#include "refresher/child_env.h"

#ifdef __APPLE__
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include "refresher/child_process.h"
#include "refresher/sinks/claude_code_store.h"
#include "shared/secure_file.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "shared/text.h"
#include "shared/unique_fd.h"
#endif

namespace ckh {

namespace {

constexpr std::string_view kServiceBase = "Claude Code-credentials";
constexpr char kHexDigits[] = "0123456789abcdef";

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHexDigits[bytes[i] >> 4];
    out += kHexDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string to_hex(std::string_view text) {
  return to_hex(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

// One argument for security's split_line, always double-quoted (as Claude Code writes it):
// inside quotes a backslash takes the next byte literally, so only `"` and `\` need
// escaping, and white space (the service name has a space) stays inside the argument.
std::string security_argument(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string keychain_service_name(EnvLookup env) {
  const auto config_dir = env("CLAUDE_CONFIG_DIR");
  if (!config_dir || config_dir->empty()) return std::string(kServiceBase);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(config_dir->data(), config_dir->size(), digest, &length, EVP_sha256(), nullptr) !=
          1 ||
      length < 4) {
    // Cannot happen with a working libcrypto; without the suffix Claude Code would not find
    // the item either, but the base name is the better guess than none.
    return std::string(kServiceBase);
  }
  return std::string(kServiceBase) + "-" + to_hex(digest, 4);
}

std::vector<std::string> keychain_child_environment() {
  return child_environment(ChildRole::ordinary);
}

std::string keychain_add_command(std::string_view user, std::string_view service,
                                 std::string_view json) {
  return "add-generic-password -U -a " + security_argument(user) + " -s " +
         security_argument(service) + " -X " + to_hex(json) + "\n";
}

std::vector<std::string> keychain_delete_argv(std::string_view user, std::string_view service) {
  return {"security", "delete-generic-password", "-a", std::string(user),
          "-s",       std::string(service)};
}

#ifdef __APPLE__

namespace {

constexpr std::chrono::seconds kSecurityTimeout{20};

bool has_control_byte(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Result<void> keychain_write(std::string_view user, std::string_view service,
                            std::string_view json) {
  if (has_control_byte(user) || has_control_byte(service)) {
    return fail(ErrorClass::config,
                "the Keychain account or service name contains a control character");
  }
  const std::string line = keychain_add_command(user, service, json);
  if (line.size() - 1 >= kSecurityMaxLineBytes) {
    return fail(ErrorClass::permanent,
                "Claude Code's credentials are too large for `security -i` (" +
                    to_decimal(line.size() - 1) + " bytes of command, at most " +
                    to_decimal(kSecurityMaxLineBytes - 1) + "); the Keychain item was not updated");
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0)
    return fail(ErrorClass::io, std::string("cannot create a pipe: ") + std::strerror(errno));
  UniqueFd read_end{pipe_fds[0]};
  UniqueFd write_end{pipe_fds[1]};
  ::fcntl(write_end.get(), F_SETFD, FD_CLOEXEC);
#ifdef F_SETNOSIGPIPE
  // security exiting early must be an error here, not a SIGPIPE that ends the refresher.
  ::fcntl(write_end.get(), F_SETNOSIGPIPE, 1);
#endif

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, read_end.get(), STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, write_end.get());
  char executable[] = "/usr/bin/security";
  char interactive[] = "-i";
  char* argv[] = {executable, interactive, nullptr};
  const std::vector<std::string> environment = keychain_child_environment();
  std::vector<char*> envp;
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  pid_t child = -1;
  const int spawned = ::posix_spawn(&child, executable, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return fail(ErrorClass::io,
                std::string("cannot run /usr/bin/security: ") + std::strerror(spawned));
  }
  read_end.reset();
  const bool sent = write_all(write_end.get(), line);
  write_end.reset();  // EOF: security -i ends after our one command

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + kSecurityTimeout;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) {
      return fail(ErrorClass::io,
                  std::string("cannot wait for /usr/bin/security: ") + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return fail(ErrorClass::transient,
                  "/usr/bin/security did not finish updating the Keychain within 20 s; "
                  "unlock the login keychain and try again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!sent || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorClass::transient, "/usr/bin/security could not update the Keychain item " +
                                           std::string(service) +
                                           "; unlock the login keychain and try again");
  }
  return {};
}

Result<std::optional<std::string>> keychain_read(std::string_view user, std::string_view service) {
  ChildSpec spec;
  spec.executable = "/usr/bin/security";
  spec.argv = {"security", "find-generic-password", "-a", std::string(user),
               "-s",       std::string(service),    "-w"};
  spec.environment = keychain_child_environment();
  spec.timeout = std::chrono::milliseconds(20'000);
  spec.stdout_limit = kMaxClaudeCodeStoreBytes;
  auto outcome = run_child(spec);
  if (!outcome) return std::unexpected(outcome.error());
  // security exits 44 when the item does not exist.
  if (outcome->end == ChildEnd::exited && outcome->exit_code == 44) return std::nullopt;
  if (outcome->end != ChildEnd::exited || outcome->exit_code != 0) {
    return fail(ErrorClass::transient, "/usr/bin/security could not read the Keychain item " +
                                           std::string(service) +
                                           "; unlock the login keychain and try again");
  }
  std::string json = outcome->out;
  while (!json.empty() && (json.back() == '\n' || json.back() == '\r')) json.pop_back();
  return json;
}

Result<bool> keychain_delete(std::string_view user, std::string_view service) {
  ChildSpec spec;
  spec.executable = "/usr/bin/security";
  spec.argv = keychain_delete_argv(user, service);
  spec.environment = keychain_child_environment();
  spec.timeout = std::chrono::milliseconds(20'000);
  auto outcome = run_child(spec);
  if (!outcome) return std::unexpected(outcome.error());
  if (outcome->end == ChildEnd::exited && outcome->exit_code == 44) return false;  // no item
  if (outcome->end != ChildEnd::exited || outcome->exit_code != 0) {
    return fail(ErrorClass::transient, "/usr/bin/security could not delete the Keychain item " +
                                           std::string(service) +
                                           "; unlock the login keychain and try again");
  }
  return true;
}

#else

Result<bool> keychain_delete(std::string_view, std::string_view) {
  return fail(ErrorClass::config, "the Keychain exists only on macOS");
}

Result<std::optional<std::string>> keychain_read(std::string_view, std::string_view) {
  return fail(ErrorClass::config, "the Keychain exists only on macOS");
}

Result<void> keychain_write(std::string_view, std::string_view, std::string_view) {
  return fail(ErrorClass::config,
              "the macOS Keychain exists only on macOS; Claude Code on this system reads "
              ".credentials.json");
}

#endif

}  // namespace ckh
