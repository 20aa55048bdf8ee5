#include "refresher/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {
namespace {

using SteadyClock = std::chrono::steady_clock;

// After the child exits, how long output may still arrive from processes it left behind
// before they are killed.
constexpr std::chrono::milliseconds kDrainAfterExit{250};
// Without a pidfd (kernels before 5.3, a seccomp filter that refuses pidfd_open): how often
// the loop looks whether the child has exited while its pipes stay open.
constexpr std::chrono::milliseconds kExitPollInterval{20};

// A descriptor that becomes readable when the child exits (pidfd_open, Linux >= 5.3), so the
// wait below sleeps until output, exit or a deadline instead of polling; none when the
// system cannot make one.
UniqueFd open_pidfd([[maybe_unused]] pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
#endif
  return UniqueFd();
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Both ends close-on-exec and above 2, so that dup2 onto 1 and 2 in the child always
// clears close-on-exec even when this process runs with 0..2 closed.
Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe(fds) != 0) {
    return fail(ErrorClass::io, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (UniqueFd* end : {&pipe.read, &pipe.write}) {
    const int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
      return fail(ErrorClass::io, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    end->reset(moved);
  }
  return pipe;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const auto& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

Error spawn_error(int error, const std::string& executable) {
  const std::string what =
      fmt::format("cannot execute {}: {}", one_line(executable, 256), std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return Error{ErrorClass::not_found, what};
    case EACCES:
    case ENOEXEC:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case EPERM:
      return Error{ErrorClass::permanent, what};
    default:
      return Error{ErrorClass::io, what};
  }
}

// Starts the child; the caller owns the returned pid (a process group leader).
Result<pid_t> spawn(const ChildSpec& spec, const Pipe& out, const Pipe& err) {
  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp = c_strings(spec.environment);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  if (posix_spawn_file_actions_init(&actions) != 0) {
    return fail(ErrorClass::io, "cannot prepare a child process");
  }
  if (posix_spawnattr_init(&attributes) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return fail(ErrorClass::io, "cannot prepare a child process");
  }
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef __APPLE__
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;  // macOS's way of closing every other descriptor
#endif
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t all_signals;
  sigfillset(&all_signals);
  sigdelset(&all_signals, SIGKILL);
  sigdelset(&all_signals, SIGSTOP);

  int rc = posix_spawnattr_setflags(&attributes, flags);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attributes, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &empty_mask);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &all_signals);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
#ifndef __APPLE__
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  pid_t pid = -1;
  if (rc == 0) {
    rc =
        posix_spawn(&pid, spec.executable.c_str(), &actions, &attributes, argv.data(), envp.data());
    if (rc != 0) {
      posix_spawn_file_actions_destroy(&actions);
      posix_spawnattr_destroy(&attributes);
      return std::unexpected(spawn_error(rc, spec.executable));
    }
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return fail(ErrorClass::io,
                fmt::format("cannot prepare a child process: {}", std::strerror(rc)));
  }
  return pid;
}

// True once the child has exited; it stays a zombie (WNOWAIT) so that its pid, which is
// also its process group id, cannot be reused while the group may still be signalled.
bool has_exited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) return true;  // ECHILD: nothing left to wait for
  }
  return info.si_pid == pid;
}

void signal_group(pid_t pid, int signal) {
  ::kill(-pid, signal);
}

// Reads what is available from fd into sink, keeping at most limit bytes. Returns false at
// end of file or on a read error.
struct ReadResult {
  bool open = true;
  bool overflowed = false;
};
ReadResult read_some(int fd, std::string& sink, std::size_t limit) {
  std::array<char, 16 * 1024> buffer;
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n < 0) return {.open = errno == EINTR || errno == EAGAIN, .overflowed = false};
  if (n == 0) return {.open = false, .overflowed = false};
  const std::size_t room = limit - std::min(limit, sink.size());
  const std::size_t taken = std::min(room, static_cast<std::size_t>(n));
  sink.append(buffer.data(), taken);
  return {.open = true, .overflowed = taken < static_cast<std::size_t>(n)};
}

}  // namespace

Result<ChildOutcome> run_child(const ChildSpec& spec) {
  if (spec.argv.empty() || spec.executable.empty()) {
    return fail(ErrorClass::permanent, "no command to run");
  }
  auto out_pipe = make_pipe();
  if (!out_pipe) return std::unexpected(out_pipe.error());
  auto err_pipe = make_pipe();
  if (!err_pipe) return std::unexpected(err_pipe.error());

  const auto start = SteadyClock::now();
  const auto spawned = spawn(spec, *out_pipe, *err_pipe);
  if (!spawned) return std::unexpected(spawned.error());
  const pid_t pid = *spawned;
  out_pipe->write.reset();
  err_pipe->write.reset();
  UniqueFd out = std::move(out_pipe->read);
  UniqueFd err = std::move(err_pipe->read);

  ChildOutcome outcome;
  const auto deadline = start + spec.timeout;
  std::optional<ChildEnd> forced_end;  // why we are ending it, when we are
  std::optional<SteadyClock::time_point> term_sent;
  bool kill_sent = false;
  std::optional<SteadyClock::time_point> exited_at;

  const auto terminate = [&](ChildEnd why) {
    if (!forced_end) forced_end = why;
    if (!term_sent) {
      signal_group(pid, SIGTERM);
      term_sent = SteadyClock::now();
    }
  };
  const auto kill_group = [&] {
    if (!kill_sent) signal_group(pid, SIGKILL);
    kill_sent = true;
  };

  // Readable once the child has exited: with it the wait needs no polling timer of its own.
  const UniqueFd exit_fd = open_pidfd(pid);
  for (;;) {
    auto now = SteadyClock::now();
    if (!exited_at && has_exited(pid)) exited_at = now;
    const bool pipes_open = out.valid() || err.valid();
    if (exited_at && !pipes_open) break;
    if (exited_at && now >= *exited_at + kDrainAfterExit) {
      kill_group();  // what it left behind still holds the pipes
      break;
    }
    if (!forced_end && now >= deadline) terminate(ChildEnd::timed_out);
    if (term_sent && now >= *term_sent + spec.kill_grace) kill_group();

    // Sleep until output arrives, the child exits, or the next thing to check is due (a
    // second at most, in case an event is lost); without a pidfd, look every 20 ms.
    auto wake =
        now + (exited_at || exit_fd.valid() ? std::chrono::milliseconds(1000) : kExitPollInterval);
    if (!forced_end) wake = std::min(wake, deadline);
    if (term_sent && !kill_sent) wake = std::min(wake, *term_sent + spec.kill_grace);
    if (exited_at) wake = std::min(wake, *exited_at + kDrainAfterExit);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    // The pidfd stays readable after the exit: watched only until then.
    std::array<pollfd, 3> fds{{{out.get(), POLLIN, 0},
                               {err.get(), POLLIN, 0},
                               {exited_at ? -1 : exit_fd.get(), POLLIN, 0}}};
    const int ready =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) {
      terminate(ChildEnd::timed_out);  // cannot watch it: end it rather than hang
      kill_group();
      break;
    }
    if (ready <= 0) continue;
    if (out.valid() && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const auto result = read_some(out.get(), outcome.out, spec.stdout_limit);
      if (result.overflowed) {
        terminate(ChildEnd::stdout_overflow);
        out.reset();  // further writes fail (SIGPIPE): it cannot block on a full pipe
      } else if (!result.open) {
        out.reset();
      }
    }
    if (err.valid() && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const auto result = read_some(err.get(), outcome.err, spec.stderr_limit);
      if (result.overflowed) outcome.err_truncated = true;
      if (!result.open) err.reset();
    }
  }

  // The child is a zombie here, so its group id is still ours to signal: whatever it left
  // running after a timeout or an overflow goes too.
  if (forced_end) kill_group();
  int status = 0;
  pid_t reaped = -1;
  do {
    reaped = ::waitpid(pid, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  outcome.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  if (forced_end) {
    outcome.end = *forced_end;
    return outcome;
  }
  if (reaped != pid) {
    return fail(ErrorClass::io, "lost the exit status of a child process (is SIGCHLD ignored?)");
  }
  if (WIFEXITED(status)) {
    outcome.end = ChildEnd::exited;
    outcome.exit_code = WEXITSTATUS(status);
  } else {
    outcome.end = ChildEnd::signaled;
    outcome.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return outcome;
}

Result<std::string> find_executable(std::string_view name, std::string_view path_variable) {
  const auto executable = [](const std::string& path) -> Result<void> {
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) {
      return std::unexpected(spawn_error(errno, path));
    }
    if (!S_ISREG(info.st_mode)) return std::unexpected(spawn_error(EACCES, path));
    if (::access(path.c_str(), X_OK) != 0) return std::unexpected(spawn_error(errno, path));
    return {};
  };
  if (name.empty()) return fail(ErrorClass::permanent, "no command to run");
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    if (auto ok = executable(path); !ok) return std::unexpected(ok.error());
    return path;
  }
  std::optional<Error> first_refusal;  // e.g. found but not executable
  std::size_t begin = 0;
  while (begin <= path_variable.size()) {
    std::size_t end = path_variable.find(':', begin);
    if (end == std::string_view::npos) end = path_variable.size();
    const std::string_view dir = path_variable.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate(dir);
    if (!candidate.ends_with('/')) candidate += '/';
    candidate += name;
    auto ok = executable(candidate);
    if (ok) return candidate;
    if (ok.error().kind != ErrorClass::not_found && !first_refusal) first_refusal = ok.error();
  }
  if (first_refusal) return std::unexpected(*first_refusal);
  return fail(ErrorClass::not_found,
              fmt::format("{} was not found in PATH ({})", one_line(name, 256),
                          one_line(path_variable, 512)));
}

}  // namespace ckh
