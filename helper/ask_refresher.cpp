#include "helper/ask_refresher.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "shared/line_io.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

extern char** environ;

namespace ckh {

namespace {

Result<RefreshReply> run_once(const RefresherAddress& address, const RefreshRequest& request,
                              std::int64_t deadline_ms) {
  if (address.refresher_path.empty()) {
    return fail(ErrorClass::config,
                "claude-key-refresher was not found beside the helper or on PATH");
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail(ErrorClass::io, "pipe failed");
  UniqueFd read_end{pipe_fds[0]};
  const std::string request_line = [&] {
    std::string line = format_request(request);
    line.pop_back();  // the argument carries no newline
    return line;
  }();
  const char* argv[] = {address.refresher_path.c_str(),
                        "once",
                        "--profile",
                        address.profile.c_str(),
                        "--helper-request",
                        request_line.c_str(),
                        nullptr};
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
    return fail(ErrorClass::config, "cannot run " + address.refresher_path);
  }
  return std::unexpected(line.error());
}

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<RefreshReply> ask_refresher(const RefresherAddress& address, const RefreshRequest& request,
                                   std::int64_t deadline_ms) {
  if (auto connected = connect_unix(address.socket_path)) {
    UniqueFd socket_fd{*connected};
    if (!send_all(socket_fd.get(), format_request(request))) {
      return fail(ErrorClass::transient, "the refresher daemon closed the connection");
    }
    auto line = read_line_until(socket_fd.get(), deadline_ms);
    if (!line) return fail(line.error().kind, "the refresher daemon: " + line.error().message);
    return parse_reply(*line);
  }
  return run_once(address, request, deadline_ms);
}

std::string find_refresher() {
  if (const char* configured = std::getenv("CLAUDE_KEY_REFRESHER"); configured && *configured) {
    return configured;
  }
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length > 0) {
    std::string path(self, static_cast<std::size_t>(length));
    const auto slash = path.rfind('/');
    if (slash != std::string::npos) {
      path = path.substr(0, slash + 1) + "claude-key-refresher";
      if (is_executable(path)) return path;
    }
  }
  const char* search = std::getenv("PATH");
  std::string_view rest = search ? search : "/usr/local/bin:/usr/bin:/bin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string_view entry = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (entry.empty()) continue;
    std::string candidate(entry);
    candidate += "/claude-key-refresher";
    if (is_executable(candidate)) return candidate;
  }
  return {};
}

}  // namespace ckh
