#include "helper/ask_refresher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "shared/line_io.h"
#include "shared/paths.h"
#include "shared/private_dir.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

extern char** environ;

namespace ckh {

namespace {

Result<RefreshReply> run_once(const RefresherAddress& address, const RefreshRequest& request,
                              std::int64_t deadline_ms) {
  if (!address.refresher) return std::unexpected(address.refresher.error());
  const std::string& refresher_path = *address.refresher;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail(ErrorClass::io, "pipe failed");
  UniqueFd read_end{pipe_fds[0]};
  const std::string request_line = [&] {
    std::string line = format_request(request);
    line.pop_back();  // the argument carries no newline
    return line;
  }();
  const char* argv[] = {
      refresher_path.c_str(), "once", "--profile", address.profile.c_str(), "--helper-request",
      request_line.c_str(),   nullptr};
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(pipe_fds[1]);
    return fail(ErrorClass::io, "fork failed");
  }
  if (child == 0) {
    // Its own session: Claude Code's signals to our group must not cut a refresh short.
    ::setsid();
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd < 0) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(null_fd, 2);
    if (null_fd > 2) ::close(null_fd);
    ::execve(argv[0], const_cast<char* const*>(argv), environ);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  auto line = read_line_until(read_end.get(), deadline_ms);
  if (!line) line = fail(line.error().kind, "claude-key-refresher once: " + line.error().message);
  if (line) {
    int status = 0;
    ::waitpid(child, &status, 0);  // it has answered: only its exit remains
    return parse_reply(*line);
  }
  // Closed without an answer: it is exiting (it closes stdout only then), so reap it and
  // tell a failed exec apart. Past the deadline: leave it to finish (it ignores SIGPIPE).
  int status = 0;
  const bool closed = monotonic_ms() < deadline_ms;
  if (closed && ::waitpid(child, &status, 0) == child && WIFEXITED(status) &&
      WEXITSTATUS(status) == 127) {
    return fail(ErrorClass::config, "cannot run " + refresher_path);
  }
  return std::unexpected(line.error());
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<RefreshReply> ask_refresher(const RefresherAddress& address, const RefreshRequest& request,
                                   std::int64_t deadline_ms) {
  // The runtime dir's socket first (where a daemon started with $XDG_RUNTIME_DIR listens),
  // then the state dir's (a daemon started without it, or one whose runtime dir was unsafe
  // or missing). Nothing is said to a socket in a runtime dir that breaks the state-dir rule.
  const SocketCandidates sockets = daemon_sockets(address.socket_path);
  Result<int> connected = fail(ErrorClass::not_found, "no refresher daemon is listening");
  if (!sockets.runtime.empty() &&
      check_private_dir(sockets.runtime.substr(0, sockets.runtime.rfind('/')))) {
    connected = connect_unix(sockets.runtime, deadline_ms);
  }
  if (!connected && connected.error().kind == ErrorClass::not_found) {
    connected = connect_unix(sockets.state, deadline_ms);
  }
  if (connected) {
    UniqueFd socket_fd{*connected};
    if (!send_all_until(socket_fd.get(), format_request(request), deadline_ms)) {
      return fail(ErrorClass::transient, "the refresher daemon did not take the request");
    }
    auto line = read_line_until(socket_fd.get(), deadline_ms);
    if (!line) return fail(line.error().kind, "the refresher daemon: " + line.error().message);
    return parse_reply(*line);
  }
  // A daemon that is there but does not accept (transient), or is not ours (unsafe): no
  // `once` behind its back; the caller serves what is still valid.
  if (connected.error().kind == ErrorClass::transient ||
      connected.error().kind == ErrorClass::unsafe) {
    return std::unexpected(connected.error());
  }
  return run_once(address, request, deadline_ms);
}

Result<std::string> locate_refresher(const RefresherSearch& search) {
  constexpr std::string_view kName = "claude-key-refresher";
  if (!search.configured.empty()) {
    if (search.configured.front() == '/') return std::string(search.configured);
    return fail(ErrorClass::config, "CLAUDE_KEY_REFRESHER must be an absolute path, not '" +
                                        one_line(search.configured, 80) +
                                        "'; set it to the full path of claude-key-refresher");
  }
  if (!search.self_exe.empty() && search.self_exe.front() == '/') {
    const auto slash = search.self_exe.rfind('/');
    std::string beside(search.self_exe.substr(0, slash + 1));
    beside += kName;
    if (is_executable_file(beside)) return beside;
  }
  std::string_view rest = search.path;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string_view entry = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (entry.empty() || entry.front() != '/') continue;  // "" and "." are the project dir
    std::string candidate(entry);
    candidate += '/';
    candidate += kName;
    if (is_executable_file(candidate)) return candidate;
  }
  return fail(ErrorClass::config,
              "claude-key-refresher was found neither beside the helper nor in an absolute PATH "
              "entry; set CLAUDE_KEY_REFRESHER to its full path");
}

Result<std::string> find_refresher() {
  const char* configured = std::getenv("CLAUDE_KEY_REFRESHER");
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  const char* path = std::getenv("PATH");
  return locate_refresher(RefresherSearch{
      .configured = configured ? configured : "",
      .self_exe = length > 0 ? std::string_view(self, static_cast<std::size_t>(length))
                             : std::string_view(),
      .path = path ? path : "/usr/local/bin:/usr/bin:/bin",
  });
}

}  // namespace ckh
