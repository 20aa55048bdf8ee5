#include "shared/line_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/refresh_protocol.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {

std::int64_t monotonic_ms() {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

bool send_all_until(int fd, std::string_view data, std::int64_t deadline_ms) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const std::int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return false;
    struct pollfd pfd {
      fd, POLLOUT, 0
    };
    if (::poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
  }
  return true;
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

Result<int> connect_unix(const std::string& socket_path, std::int64_t deadline_ms) {
  struct sockaddr_un address {};
  if (socket_path.size() >= sizeof address.sun_path) {
    return fail(ErrorClass::not_found, "socket path too long: " + socket_path);
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!fd.valid()) return fail(ErrorClass::io, std::string("socket: ") + std::strerror(errno));
  for (;;) {
    // A unix connect waits for room in the listener's backlog (65 pending connections), and
    // a stopped daemon never makes any. A non-blocking connect cannot be polled for that
    // (Linux answers EAGAIN at once, not EINPROGRESS), so the blocking connect is bounded by
    // SO_SNDTIMEO instead: the kernel ends the wait at the deadline, or as soon as the
    // listener accepts. At least 1 ms, so that a caller with no time left still delivers
    // its request to a daemon that has room for it.
    const std::int64_t left = std::max<std::int64_t>(deadline_ms - monotonic_ms(), 1);
    struct timeval bound {};
    bound.tv_sec = static_cast<time_t>(left / 1000);
    bound.tv_usec = static_cast<suseconds_t>((left % 1000) * 1000);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound) != 0) {
      return fail(ErrorClass::io, std::string("setsockopt: ") + std::strerror(errno));
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
      break;
    }
    const int error = errno;
    if (error == EINTR && monotonic_ms() < deadline_ms) continue;
    if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR) {
      return fail(ErrorClass::not_found, "no refresher daemon is listening on " + socket_path);
    }
    if (error == EAGAIN || error == EWOULDBLOCK || error == ETIMEDOUT || error == EINTR ||
        error == EINPROGRESS) {
      return fail(ErrorClass::transient, "the refresher daemon did not accept a connection on " +
                                             socket_path + " in time (stopped or wedged?)");
    }
    return fail(ErrorClass::io, "cannot connect to " + socket_path + ": " + std::strerror(error));
  }
  // Tell the listener nothing until we know it is ours: the uid it had when it called
  // listen(), as the kernel recorded it.
#if defined(SO_PEERCRED)
  struct ucred peer {};
  socklen_t peer_size = sizeof peer;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) {
    return fail(ErrorClass::io,
                "cannot identify the listener on " + socket_path + ": " + std::strerror(errno));
  }
  const uid_t peer_uid = peer.uid;
#else
  uid_t peer_uid = 0;
  gid_t peer_gid = 0;
  if (::getpeereid(fd.get(), &peer_uid, &peer_gid) != 0) {
    return fail(ErrorClass::io,
                "cannot identify the listener on " + socket_path + ": " + std::strerror(errno));
  }
#endif
  if (peer_uid != ::geteuid()) {
    return fail(ErrorClass::unsafe, socket_path + " is served by uid " +
                                        to_decimal(static_cast<std::uint64_t>(peer_uid)) +
                                        ", not by you (uid " +
                                        to_decimal(static_cast<std::uint64_t>(::geteuid())) +
                                        "); stop that process and remove " + socket_path);
  }
  // From here every wait is a poll against the deadline.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail(ErrorClass::io, std::string("fcntl: ") + std::strerror(errno));
  }
  return fd.release();
}

}  // namespace ckh
