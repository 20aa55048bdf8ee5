#include "refresher/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <thread>

#include "refresher/callers_gc.h"
#include "refresher/log.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "shared/line_io.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr int kRequestReadTimeoutMs = 1000;

void notify_systemd(const char* state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (!socket_path || !*socket_path) return;
  struct sockaddr_un address {};
  const std::size_t length = std::strlen(socket_path);
  if (length >= sizeof address.sun_path) return;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
  ::close(fd);
}

std::string describe(const RefreshOutcome& outcome) {
  switch (outcome.action) {
    case RefreshAction::refreshed: {
      std::string text = "refreshed: generation " + to_decimal(outcome.record->generation);
      text += outcome.record->expires_at
                  ? ", expires at " + to_decimal(*outcome.record->expires_at) + " (unix)"
                  : ", does not expire";
      return text;
    }
    case RefreshAction::skipped:
      return "up to date";
    case RefreshAction::rate_limited:
      return "not forced: " + outcome.reply.message;
    case RefreshAction::backing_off:
      return outcome.reply.message;
    case RefreshAction::failed:
      return std::string("refresh failed (") + error_class_name(outcome.reply.error_class) +
             "): " + outcome.reply.message;
  }
  return {};
}

class ProfileWorker {
 public:
  ProfileWorker(ProfileConfig profile, ProfilePaths paths)
      : profile_(std::move(profile)), paths_(std::move(paths)) {}
  ~ProfileWorker() { stop(); }

  // Claims the profile and starts listening; fails when another daemon serves it.
  Result<void> start() {
    if (auto dir = ensure_private_dir(paths_.dir); !dir) return std::unexpected(dir.error());
    const std::string claim_path = paths_.dir + "/" + profile_.name + ".daemon";
    claim_fd_ = ::open(claim_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (claim_fd_ < 0)
      return fail(ErrorClass::io, "cannot open " + claim_path + ": " + std::strerror(errno));
    // flock, not fcntl: it belongs to this descriptor only and survives other closes.
    if (::flock(claim_fd_, LOCK_EX | LOCK_NB) != 0) {
      return fail(ErrorClass::config,
                  "profile '" + profile_.name + "' is already served by another running daemon");
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return fail(ErrorClass::io, "eventfd failed");
    if (auto listening = listen_socket(); !listening) {
      // Still refresh on schedule; the helper falls back to running `once` itself.
      log_line(LogLevel::warning, profile_.name,
               listening.error().message + "; serving without a socket");
    }
    thread_ = std::thread([this] { loop(); });
    return {};
  }

  void stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      ::unlink(paths_.sock.c_str());
    }
    ::close(wake_fd_);
    ::close(claim_fd_);
  }

 private:
  Result<void> listen_socket() {
    struct sockaddr_un address {};
    if (paths_.sock.size() >= sizeof address.sun_path) {
      return fail(ErrorClass::config,
                  "socket path " + paths_.sock + " is too long for a unix socket");
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, paths_.sock.c_str(), paths_.sock.size() + 1);
    ::unlink(paths_.sock.c_str());  // we hold the claim: any socket file left is stale
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) return fail(ErrorClass::io, "socket failed");
    const mode_t old_mask = ::umask(077);
    const int bound =
        ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    ::umask(old_mask);
    if (bound != 0 || ::listen(listen_fd_, 64) != 0) {
      const std::string reason = std::strerror(errno);
      ::close(listen_fd_);
      listen_fd_ = -1;
      return fail(ErrorClass::io, "cannot listen on " + paths_.sock + ": " + reason);
    }
    return {};
  }

  RefreshOutcome refresh(const RefreshRequest& request) {
    RefreshOutcome outcome =
        refresh_profile(profile_, paths_, request, RefreshEnvironment{clock_, random_uniform01});
    if (outcome.action != RefreshAction::skipped) {
      log_line(outcome.action == RefreshAction::failed ? LogLevel::error : LogLevel::info,
               profile_.name,
               std::string(refresh_reason_name(request.reason)) + " refresh: " + describe(outcome));
    }
    return outcome;
  }

  void serve_connection(int fd) {
    struct ucred peer {};
    socklen_t peer_size = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 ||
        peer.uid != ::geteuid()) {
      ::close(fd);
      return;
    }
    auto line = read_line_until(fd, monotonic_ms() + kRequestReadTimeoutMs);
    std::string answer;
    if (line && *line == "ping") {
      answer = "pong " + to_decimal(::getpid()) + "\n";
    } else if (line) {
      auto request = parse_request(*line);
      answer =
          request
              ? format_reply(refresh(*request).reply)
              : format_reply(RefreshReply{false, 0, ErrorClass::usage, request.error().message});
    }
    if (!answer.empty()) (void)send_all(fd, answer);
    ::close(fd);
  }

  void loop() {
    std::int64_t earliest_timer_attempt = 0;
    while (!stopping_.load()) {
      const auto record = read_record_if_any(paths_);
      const auto status = read_status_or_default(paths_.status);
      const std::int64_t now = clock_.unix_seconds();
      // At least a second between timer attempts, even if P.status cannot be written.
      const std::int64_t at =
          std::max(next_attempt(record, status, profile_, now), earliest_timer_attempt);
      if (at <= now) {
        refresh(RefreshRequest{RefreshReason::due, record ? record->generation : 0, 0});
        remove_dead_caller_files(paths_.callers_dir);
        earliest_timer_attempt = clock_.unix_seconds() + 1;
        continue;
      }
      struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      const std::int64_t wait_ms = std::min<std::int64_t>((at - now) * 1000, 24 * 3600 * 1000);
      const int ready = ::poll(fds, listen_fd_ >= 0 ? 2 : 1, static_cast<int>(wait_ms));
      if (ready < 0 && errno != EINTR) {
        log_line(LogLevel::error, profile_.name,
                 std::string("poll failed: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (ready > 0 && (fds[1].revents & POLLIN)) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) serve_connection(client);
      }
    }
  }

  ProfileConfig profile_;
  ProfilePaths paths_;
  RealClock clock_;
  int claim_fd_ = -1;
  int wake_fd_ = -1;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

using Workers = std::vector<std::unique_ptr<ProfileWorker>>;

Result<Workers> start_workers(const Config& config, const DaemonOptions& options,
                              const std::string& dir) {
  Workers workers;
  for (const auto& [name, profile] : config.profiles) {
    if (!options.only_profiles.empty() &&
        std::find(options.only_profiles.begin(), options.only_profiles.end(), name) ==
            options.only_profiles.end()) {
      continue;
    }
    auto worker = std::make_unique<ProfileWorker>(profile, profile_paths(dir, name));
    if (auto started = worker->start(); !started) {
      workers.clear();
      return std::unexpected(started.error());
    }
    log_line(LogLevel::info, name,
             std::string("serving (backend ") + profile.backend->name() + ")");
    workers.push_back(std::move(worker));
  }
  return workers;
}

}  // namespace

int run_daemon(Config config, const DaemonOptions& options) {
  for (const auto& name : options.only_profiles) {
    if (!config.profiles.contains(name)) {
      log_line(LogLevel::error, name,
               "no such profile in " + config.path + "; run: claude-key-refresher check-config");
      return 78;
    }
  }
  auto dir = state_dir();
  if (!dir) {
    log_line(LogLevel::error, "", dir.error().message);
    return 78;
  }
  // Signals go to sigwaitinfo below, never to a worker thread mid-refresh.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto workers = start_workers(config, options, *dir);
  if (!workers) {
    log_line(LogLevel::error, "", workers.error().message);
    return workers.error().kind == ErrorClass::config ? 78 : 71;
  }
  if (!options.pid_file.empty()) {
    if (auto written = write_private_file_atomic(options.pid_file, to_decimal(::getpid()) + "\n");
        !written) {
      log_line(LogLevel::warning, "", written.error().message);
    }
  }
  notify_systemd("READY=1");
  log_line(LogLevel::info, "",
           "running with " + to_decimal(workers->size()) + " profile(s) from " +
               (config.path.empty() ? "the environment" : config.path));

  for (;;) {
    siginfo_t info{};
    const int signal_number = ::sigwaitinfo(&signals, &info);
    if (signal_number == SIGHUP) {
      notify_systemd("RELOADING=1");
      auto reloaded = load_config(options.config_path);
      if (!reloaded) {
        for (const auto& problem : reloaded.error())
          log_line(LogLevel::error, "", problem.to_string());
        log_line(LogLevel::error, "", "reload refused: keeping the running configuration");
      } else {
        workers->clear();  // stops every worker, releasing its claim and socket
        auto restarted = start_workers(*reloaded, options, *dir);
        if (!restarted) {
          log_line(LogLevel::error, "",
                   restarted.error().message + "; restarting the previous configuration");
          restarted = start_workers(config, options, *dir);
          if (!restarted) return 71;
        } else {
          config = std::move(*reloaded);
          log_line(LogLevel::info, "", "configuration reloaded");
        }
        *workers = std::move(*restarted);
      }
      notify_systemd("READY=1");
      continue;
    }
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
  }
  notify_systemd("STOPPING=1");
  log_line(LogLevel::info, "", "stopping");
  workers->clear();
  if (!options.pid_file.empty()) ::unlink(options.pid_file.c_str());
  return 0;
}

}  // namespace ckh
