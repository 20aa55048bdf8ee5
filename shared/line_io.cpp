#include "shared/line_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/refresh_protocol.h"

namespace ckh {

std::int64_t monotonic_ms() {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

Result<std::string> read_line_until(int fd, std::int64_t deadline_ms) {
  std::string line;
  char buffer[512];
  for (;;) {
    const std::int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return fail(ErrorClass::transient, "no answer in time");
    struct pollfd pfd {
      fd, POLLIN, 0
    };
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR)
      return fail(ErrorClass::io, std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(ErrorClass::transient, std::string("read: ") + std::strerror(errno));
    }
    if (got == 0) return fail(ErrorClass::transient, "closed without an answer");
    line.append(buffer, static_cast<std::size_t>(got));
    if (const auto newline = line.find('\n'); newline != std::string::npos) {
      line.resize(newline);
      return line;
    }
    if (line.size() > kMaxProtocolLine)
      return fail(ErrorClass::corrupt, "sent a line that is too long");
  }
}

Result<int> connect_unix(const std::string& socket_path) {
  struct sockaddr_un address {};
  if (socket_path.size() >= sizeof address.sun_path) {
    return fail(ErrorClass::not_found, "socket path too long: " + socket_path);
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorClass::io, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return fail(ErrorClass::not_found, "no refresher daemon is listening on " + socket_path);
  }
  return fd;
}

}  // namespace ckh
