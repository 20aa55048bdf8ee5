#include "refresher/socket_client.h"

#include <unistd.h>

#include "shared/line_io.h"
#include "shared/paths.h"
#include "shared/text.h"

namespace ckh {

Result<std::string> exchange_with_daemon(const std::string& socket_path, std::string_view request,
                                         int timeout_ms) {
  // One deadline for the whole exchange: a stopped daemon cannot hold us in connect().
  const std::int64_t deadline_ms = monotonic_ms() + timeout_ms;
  // A daemon listens in the runtime dir, or in the state dir (shared/paths.h): try both.
  const SocketCandidates sockets = daemon_sockets(socket_path);
  Result<int> fd =
      fail(ErrorClass::not_found, "no refresher daemon is listening on " + socket_path);
  if (!sockets.runtime.empty()) fd = connect_unix(sockets.runtime, deadline_ms);
  if (!fd && fd.error().kind == ErrorClass::not_found) fd = connect_unix(socket_path, deadline_ms);
  if (!fd) return std::unexpected(fd.error());
  Result<std::string> answer =
      send_all_until(*fd, request, deadline_ms)
          ? read_line_until(*fd, deadline_ms)
          : fail(ErrorClass::transient, "the daemon closed the connection or did not read");
  ::close(*fd);
  return answer;
}

std::optional<long> daemon_pid(const std::string& socket_path) {
  auto answer = exchange_with_daemon(socket_path, "ping\n", 2000);
  if (!answer || answer->substr(0, 5) != "pong ") return std::nullopt;
  auto pid = parse_i64(std::string_view(*answer).substr(5));
  if (!pid) return std::nullopt;
  return static_cast<long>(*pid);
}

}  // namespace ckh
