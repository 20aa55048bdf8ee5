#include "refresher/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <thread>

#include "refresher/callers_gc.h"
#include "refresher/log.h"
#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "refresher/signal_deferral.h"
#include "shared/line_io.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr int kRequestReadTimeoutMs = 1000;
// The longest a worker sleeps without looking at its state dir and the clocks again; inotify
// and the clock-set timer wake it sooner when they can.
constexpr std::chrono::milliseconds kMaxSleep{30'000};
// Status of a daemon whose state dir was taken away (EX_TEMPFAIL: systemd's
// Restart=on-failure starts a fresh one, which serves the new dir).
constexpr int kLostStateExit = 75;

// Set by a worker that found its state dir, claim or socket gone or replaced; the main
// thread, woken by the SIGTERM that worker sends, then exits with kLostStateExit.
std::atomic<bool> g_state_lost{false};

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> file_id(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return std::nullopt;
  return FileId{info.st_dev, info.st_ino};
}

std::optional<FileId> fd_id(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return std::nullopt;
  return FileId{info.st_dev, info.st_ino};
}

// A CLOCK_REALTIME timer far in the future that fires ECANCELED when someone sets the wall
// clock: the worker then recomputes its schedule at once (schedule.h: rebase_status).
bool arm_clock_set_timer(int fd) {
  struct itimerspec spec {};
  spec.it_value.tv_sec = std::time(nullptr) + 10L * 365 * 24 * 3600;
  return ::timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, nullptr) == 0;
}

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
    claim_path_ = paths_.dir + "/" + profile_.name + ".daemon";
    claim_fd_ = ::open(claim_path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (claim_fd_ < 0)
      return fail(ErrorClass::io, "cannot open " + claim_path_ + ": " + std::strerror(errno));
    // flock, not fcntl: it belongs to this descriptor only and survives other closes.
    if (::flock(claim_fd_, LOCK_EX | LOCK_NB) != 0) {
      return fail(ErrorClass::config,
                  "profile '" + profile_.name + "' is already served by another running daemon");
    }
    // What this daemon owns, by identity: a dir or claim removed (rm -rf) and made again by
    // someone else has the same name but not the same inode.
    dir_id_ = file_id(paths_.dir);
    claim_id_ = fd_id(claim_fd_);
    if (!dir_id_ || !claim_id_) return fail(ErrorClass::io, "cannot stat " + paths_.dir);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return fail(ErrorClass::io, "eventfd failed");
    // Both optional: without them the worker still looks every kMaxSleep.
    dir_watch_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (dir_watch_fd_ >= 0 &&
        ::inotify_add_watch(dir_watch_fd_, paths_.dir.c_str(),
                            IN_DELETE_SELF | IN_MOVE_SELF | IN_DELETE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_ONLYDIR) < 0) {
      ::close(dir_watch_fd_);
      dir_watch_fd_ = -1;
    }
    clock_set_fd_ = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (clock_set_fd_ >= 0 && !arm_clock_set_timer(clock_set_fd_)) {
      ::close(clock_set_fd_);
      clock_set_fd_ = -1;
    }
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
      // Never another daemon's socket: after the dir was replaced, the name may be its.
      if (sock_id_ && file_id(paths_.sock) == sock_id_) ::unlink(paths_.sock.c_str());
    }
    for (int fd : {wake_fd_, dir_watch_fd_, clock_set_fd_, claim_fd_}) {
      if (fd >= 0) ::close(fd);
    }
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
    sock_id_ = file_id(paths_.sock);
    return {};
  }

  // Empty while the state dir, the claim and the socket are still the ones this worker
  // made; otherwise what happened, for the log.
  std::string lost_state() const {
    const auto dir = file_id(paths_.dir);
    if (dir != dir_id_) return dir ? "the dir was replaced" : "the dir was removed";
    const auto claim = file_id(claim_path_);
    if (claim != claim_id_) return claim_path_ + (claim ? " was replaced" : " was removed");
    if (listen_fd_ >= 0) {
      const auto sock = file_id(paths_.sock);
      if (sock != sock_id_) return paths_.sock + (sock ? " was replaced" : " was removed");
    }
    return {};
  }

  void drain(int fd) {
    char buffer[4096];
    while (::read(fd, buffer, sizeof buffer) > 0) {
    }
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
    std::optional<std::chrono::steady_clock::time_point> last_timer_attempt;
    while (!stopping_.load()) {
      if (const std::string lost = lost_state(); !lost.empty()) {
        // Serving on would orphan this daemon (nobody reaches it) and let a second one
        // serve the new dir: leave, and let a fresh start (systemd) take over.
        log_line(LogLevel::error, profile_.name,
                 "lost the state dir " + paths_.dir + " while running (" + lost +
                     "); exiting with status " + to_decimal(kLostStateExit) +
                     " so that a fresh start serves it (systemd restarts the service)");
        g_state_lost.store(true);
        ::kill(::getpid(), SIGTERM);
        return;
      }
      const ClockReading reading = read_clock(clock_);
      const auto record = read_record_if_any(paths_);
      const auto status = rebase_status(read_status_or_default(paths_.status), reading);
      const bool stopped = status.error_class == ErrorClass::permanent &&
                           stopped_for_inputs(status, current_failure_inputs(profile_, paths_));
      const auto at = next_attempt(record, status, profile_, reading.unix_s, stopped);
      std::optional<std::chrono::milliseconds> since_attempt;
      if (last_timer_attempt) {
        since_attempt = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - *last_timer_attempt);
      }
      const auto wait = wake_delay(at, reading.unix_s, since_attempt, kMaxSleep);
      if (wait.count() == 0) {
        refresh(RefreshRequest{RefreshReason::due, record ? record->generation : 0, 0});
        remove_dead_caller_files(paths_.callers_dir);
        last_timer_attempt = std::chrono::steady_clock::now();
        continue;
      }
      struct pollfd fds[4] = {{wake_fd_, POLLIN, 0},
                              {clock_set_fd_, POLLIN, 0},
                              {dir_watch_fd_, POLLIN, 0},
                              {listen_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, 4, static_cast<int>(wait.count()));
      if (ready < 0 && errno != EINTR) {
        log_line(LogLevel::error, profile_.name,
                 std::string("poll failed: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (ready <= 0) continue;
      if (fds[1].revents & POLLIN) {
        // The wall clock was set: the next round rebases the schedule on it.
        drain(clock_set_fd_);
        if (!arm_clock_set_timer(clock_set_fd_)) {
          ::close(clock_set_fd_);
          clock_set_fd_ = -1;
        }
      }
      if (fds[2].revents & POLLIN) drain(dir_watch_fd_);  // looked at next round
      if (fds[3].revents & POLLIN) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) serve_connection(client);
      }
    }
  }

  ProfileConfig profile_;
  ProfilePaths paths_;
  RealClock clock_;
  std::string claim_path_;
  int claim_fd_ = -1;
  int wake_fd_ = -1;
  int listen_fd_ = -1;
  int dir_watch_fd_ = -1;  // inotify on the state dir, -1 when unavailable
  int clock_set_fd_ = -1;  // timerfd that fires when the wall clock is set, -1 when unavailable
  std::optional<FileId> dir_id_;
  std::optional<FileId> claim_id_;
  std::optional<FileId> sock_id_;
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
  // Signals go to wait() below, never to a worker thread mid-refresh.
  const DeferredStopSignals signals;
  std::signal(SIGPIPE, SIG_IGN);

  auto workers = start_workers(config, options, *dir);
  if (!workers) {
    log_line(LogLevel::error, "", workers.error().message);
    return workers.error().kind == ErrorClass::config ? 78 : 71;
  }
  std::optional<FileId> pid_file_id;
  if (!options.pid_file.empty()) {
    if (auto written = write_private_file_atomic(options.pid_file, to_decimal(::getpid()) + "\n");
        !written) {
      log_line(LogLevel::warning, "", written.error().message);
    } else {
      pid_file_id = file_id(options.pid_file);
    }
  }
  notify_systemd("READY=1");
  log_line(LogLevel::info, "",
           "running with " + to_decimal(workers->size()) + " profile(s) from " +
               (config.path.empty() ? "the environment" : config.path));

  for (;;) {
    const int signal_number = signals.wait();
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
  const bool lost = g_state_lost.load();
  log_line(LogLevel::info, "",
           lost ? "stopping: the state dir is no longer this daemon's" : "stopping");
  workers->clear();
  // Like the sockets: a pid file replaced by a newer daemon's is left to it.
  if (pid_file_id && file_id(options.pid_file) == pid_file_id) ::unlink(options.pid_file.c_str());
  return lost ? kLostStateExit : 0;
}

}  // namespace ckh
