// Running a short-lived child process with bounded time and output, without a shell.
// Guarantees of run_child:
// - the child gets exactly argv and environment, stdin /dev/null, its stdout and stderr
//   captured through pipes, no other descriptor of this process (all fds >= 3 are closed),
//   default signal dispositions and an empty signal mask, and its own process group;
// - at the timeout, SIGTERM goes to the whole process group, then SIGKILL after kill_grace,
//   so a command that ignores SIGTERM or leaves children behind cannot outlive the call by
//   more than kill_grace (plus a short drain);
// - stdout beyond stdout_limit ends the child the same way (ChildEnd::stdout_overflow);
//   stderr beyond stderr_limit is discarded (err_truncated) and does not end it;
// - when the child exits but something it started still holds its stdout/stderr open, the
//   output is drained briefly, then that process group is killed;
// - no exceptions; an Error only when the child could not be started: not_found (no such
//   file), permanent (not executable, bad format), io (out of processes, descriptors).
// The caller must not set SIGCHLD to SIG_IGN (children would be reaped behind its back).
// The environment is the caller's to build, always with child_env.h's child_environment (no
// child inherits this process's environment as it is).
// Callers: backends/command_backend.cpp, aws/aws_credentials.cpp (credential_process),
// oauth/login.cpp (the browser opener), sinks/keychain.cpp (security).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.h"

namespace ckh {

struct ChildSpec {
  std::string executable;                // the file to execute: a path, no PATH search
  std::vector<std::string> argv;         // argv[0] included (conventionally the name)
  std::vector<std::string> environment;  // "NAME=value" entries: the child's whole environment
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds kill_grace{2'000};  // between SIGTERM and SIGKILL
  std::size_t stdout_limit = 64 * 1024;
  std::size_t stderr_limit = 64 * 1024;
};

enum class ChildEnd {
  exited,           // exit_code is valid
  signaled,         // signal is valid
  timed_out,        // still running at the timeout: terminated
  stdout_overflow,  // printed more than stdout_limit: terminated
};

struct ChildOutcome {
  ChildEnd end = ChildEnd::exited;
  int exit_code = -1;
  int signal = 0;
  std::string out;  // at most stdout_limit bytes
  std::string err;  // at most stderr_limit bytes
  bool err_truncated = false;
  std::chrono::milliseconds elapsed{0};
};

Result<ChildOutcome> run_child(const ChildSpec& spec);

// Where `name` would be executed from: a name containing '/' as is (it must exist and be
// executable), otherwise the first executable regular file named so in a directory of
// path_variable (colon-separated; empty and relative entries are skipped, so the current
// directory is never searched). not_found or permanent (not executable) otherwise.
Result<std::string> find_executable(std::string_view name, std::string_view path_variable);

}  // namespace ckh
