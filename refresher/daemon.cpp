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

#include <dirent.h>

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
#include "refresher/config_watch.h"
#include "refresher/log.h"
#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/refresh_slots.h"
#include "refresher/reload_progress.h"
#include "refresher/schedule.h"
#include "refresher/signal_deferral.h"
#include "shared/line_io.h"
#include "shared/paths.h"
#include "shared/secure_file.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {

namespace {

constexpr int kRequestReadTimeoutMs = 1000;
// The longest a worker sleeps without looking at its state dir and the clocks again; inotify
// and the clock-set timer wake it sooner when they can.
constexpr std::chrono::milliseconds kMaxSleep{30'000};
// Status of a daemon whose state dir was taken away (EX_TEMPFAIL: systemd's
// Restart=on-failure starts a fresh one, which serves the new dir).
constexpr int kLostStateExit = 75;
// How long one refresh may keep a worker from looping before the watchdog stops being fed:
// above the longest bound a backend puts on one refresh (the command backend's 10m timeout
// and its kill grace).
constexpr std::int64_t kRefreshBoundMs = 15 * 60 * 1000;
// How many profiles refresh together on their schedule (refresh_slots.h): enough that one
// slow backend does not hold up the others, few enough that a start with hundreds of due
// profiles does not fork hundreds of commands or open hundreds of connections at once.
constexpr std::size_t kConcurrentRefreshes = 4;

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

// systemd's watchdog period for this process (WATCHDOG_USEC, when WATCHDOG_PID is unset or
// names us), in ms; 0 when there is none.
std::int64_t watchdog_period_ms() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec || !*usec) return 0;
  const auto period = parse_i64(usec);
  if (!period || *period <= 0) return 0;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
    const auto owner = parse_i64(pid);
    if (!owner || *owner != ::getpid()) return 0;
  }
  return std::max<std::int64_t>(*period / 1000, 1);
}

// The runtime dir when it can hold our sockets: $XDG_RUNTIME_DIR exists (it is the
// session's: never created here) and our subdir follows the state-dir rule (made 0700).
// "" otherwise: the state dir is used.
std::string usable_runtime_dir() {
  const std::string dir = runtime_dir();
  if (dir.empty()) return {};
  struct stat base {};
  if (::stat(dir.substr(0, dir.rfind('/')).c_str(), &base) != 0 || !S_ISDIR(base.st_mode)) {
    return {};
  }
  if (auto made = ensure_private_dir(dir); !made) {
    log_line(LogLevel::warning, "",
             made.error().message + "; using the state dir for the sockets instead");
    return {};
  }
  return dir;
}

// A stop signal (SIGTERM, SIGINT, SIGHUP: all blocked since DeferredStopSignals), waiting at
// most timeout_ms (< 0: without bound); 0 when none came.
int wait_signal(std::int64_t timeout_ms) {
  sigset_t set;
  sigemptyset(&set);
  for (const int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, signal_number);
  siginfo_t info{};
  if (timeout_ms < 0) {
    const int got = ::sigwaitinfo(&set, &info);
    return got > 0 ? got : 0;
  }
  const timespec bound{static_cast<time_t>(timeout_ms / 1000),
                       static_cast<long>((timeout_ms % 1000) * 1'000'000)};
  const int got = ::sigtimedwait(&set, &info, &bound);
  return got > 0 ? got : 0;
}

std::string describe(const RefreshOutcome& outcome) {
  switch (outcome.action) {
    case RefreshAction::refreshed: {
      std::string text = "refreshed: generation " + to_decimal(outcome.record->generation);
      text += outcome.record->expires_at
                  ? ", expires at " + rfc3339_utc(*outcome.record->expires_at)
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
  ProfileWorker(ProfileConfig profile, ProfilePaths paths, std::chrono::milliseconds max_sleep,
                RefreshSlots& slots)
      : profile_(std::move(profile)),
        paths_(std::move(paths)),
        max_sleep_(max_sleep),
        slots_(slots) {}
  ~ProfileWorker() { stop(); }

  const std::string& name() const { return profile_.name; }

  // For the watchdog: the loop went round within `period`, or is inside one refresh that has
  // not yet run past every backend's own bound, or has ended.
  bool alive(std::int64_t now_ms, std::int64_t period_ms) const {
    if (finished_.load()) return true;
    if (const std::int64_t busy = busy_since_ms_.load(); busy != 0) {
      return now_ms - busy < kRefreshBoundMs;
    }
    return now_ms - beat_ms_.load() < period_ms;
  }

  // Asks the loop to end after the refresh in flight; finished() says when it has.
  void request_stop() {
    stopping_.store(true);
    const std::uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }
  bool finished() const { return !thread_.joinable() || finished_.load(); }

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
    beat_ms_.store(monotonic_ms());
    thread_ = std::thread([this] {
      loop();
      slots_.forget(wake_fd_);
      finished_.store(true);
    });
    return {};
  }

  void stop() {
    if (!thread_.joinable()) return;
    request_stop();
    thread_.join();
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      // Never another daemon's socket: after the dir was replaced, the name may be its.
      if (sock_id_ && file_id(listen_path_) == sock_id_) ::unlink(listen_path_.c_str());
    }
    for (int fd : {wake_fd_, dir_watch_fd_, clock_set_fd_, claim_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

 private:
  // P.sock in the runtime dir when there is a usable one, else in the state dir.
  Result<void> listen_socket() {
    const SocketCandidates sockets = daemon_sockets(paths_.sock);
    std::string path = paths_.sock;
    if (!sockets.runtime.empty() && !usable_runtime_dir().empty()) path = sockets.runtime;
    if (path.size() >= sizeof(sockaddr_un::sun_path) && path != paths_.sock) {
      path = paths_.sock;  // a deep runtime dir: the state dir may still fit
    }
    if (path != paths_.sock) {
      // Our claim covers the state dir, not the runtime dir: a live listener there is the
      // daemon of another state dir (another XDG_STATE_HOME in this session). Taking its
      // name would make the two take it from each other at every round.
      if (auto probe = connect_unix(path, monotonic_ms() + 1000);
          probe || probe.error().kind != ErrorClass::not_found) {
        if (probe) ::close(*probe);
        log_line(LogLevel::warning, profile_.name,
                 "another daemon listens on " + path + "; listening on " + paths_.sock);
        path = paths_.sock;
      }
    }
    struct sockaddr_un address {};
    if (path.size() >= sizeof address.sun_path) {
      return fail(ErrorClass::config, "socket path " + path + " is too long for a unix socket");
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // We hold the claim: a socket file left at either place is stale (clients try both).
    ::unlink(path.c_str());
    if (path != paths_.sock) ::unlink(paths_.sock.c_str());
    listen_path_ = path;
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
      return fail(ErrorClass::io, "cannot listen on " + path + ": " + reason);
    }
    sock_id_ = file_id(path);
    return {};
  }

  // The runtime dir is the session's: logind removes it when the user's last session ends
  // (no linger), under a daemon started with nohup. The claim in the state dir still makes
  // this the profile's only daemon, so it listens again (in the state dir, if the runtime
  // dir is gone) instead of exiting like it does when the state dir is taken away.
  void relisten_if_runtime_socket_lost() {
    if (listen_fd_ < 0 || listen_path_ == paths_.sock) return;
    if (file_id(listen_path_) == sock_id_) return;
    ::close(listen_fd_);
    listen_fd_ = -1;
    const std::string lost = listen_path_;
    if (auto listening = listen_socket(); !listening) {
      log_line(LogLevel::warning, profile_.name,
               lost + " was removed; " + listening.error().message + "; serving without a socket");
      return;
    }
    log_line(LogLevel::warning, profile_.name,
             lost + " was removed (the session's runtime dir ended?); listening on " +
                 listen_path_ + " now");
  }

  // Empty while the state dir, the claim and the socket are still the ones this worker
  // made; otherwise what happened, for the log.
  std::string lost_state() const {
    const auto dir = file_id(paths_.dir);
    if (dir != dir_id_) return dir ? "the dir was replaced" : "the dir was removed";
    const auto claim = file_id(claim_path_);
    if (claim != claim_id_) return claim_path_ + (claim ? " was replaced" : " was removed");
    if (listen_fd_ >= 0 && listen_path_ == paths_.sock) {
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
    busy_since_ms_.store(monotonic_ms());
    RefreshOutcome outcome =
        refresh_profile(profile_, paths_, request, RefreshEnvironment{clock_, random_uniform01});
    busy_since_ms_.store(0);
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
      beat_ms_.store(monotonic_ms());  // the watchdog's proof that this loop goes round
      relisten_if_runtime_socket_lost();
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
      // A fixed cause (edited source, key file, secret) ends a stop or backoff here too.
      const auto at = next_automatic_attempt(record, status, profile_, paths_, reading.unix_s);
      std::optional<std::chrono::milliseconds> since_attempt;
      if (last_timer_attempt) {
        since_attempt = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - *last_timer_attempt);
      }
      auto wait = wake_delay(at, reading.unix_s, since_attempt, max_sleep_);
      if (wait.count() == 0) {
        if (slots_.try_take(wake_fd_)) {
          refresh(RefreshRequest{RefreshReason::due, record ? record->generation : 0, 0});
          slots_.give_back();
          remove_dead_caller_files(paths_.callers_dir);
          last_timer_attempt = std::chrono::steady_clock::now();
          continue;
        }
        // Queued for a slot: its hand-out writes wake_fd_; requests are served meanwhile.
        wait = max_sleep_;
      } else {
        slots_.forget(wake_fd_);  // no longer due (refreshed elsewhere): pass a slot on
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
      if ((fds[0].revents & POLLIN) && !stopping_.load()) drain(wake_fd_);  // a slot
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
  std::chrono::milliseconds max_sleep_;
  RefreshSlots& slots_;
  std::string listen_path_;                     // P.sock in the runtime dir or the state dir
  std::atomic<std::int64_t> beat_ms_{0};        // monotonic ms of the loop's last round
  std::atomic<std::int64_t> busy_since_ms_{0};  // monotonic ms a refresh began, 0 when none
  std::atomic<bool> finished_{false};
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
                              const std::string& dir, std::chrono::milliseconds max_sleep,
                              RefreshSlots& slots) {
  Workers workers;
  for (const auto& [name, profile] : config.profiles) {
    if (!options.only_profiles.empty() &&
        std::find(options.only_profiles.begin(), options.only_profiles.end(), name) ==
            options.only_profiles.end()) {
      continue;
    }
    auto worker =
        std::make_unique<ProfileWorker>(profile, profile_paths(dir, name), max_sleep, slots);
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

// The main thread's part in systemd's watchdog: WATCHDOG=1 every half period, and only while
// every worker's loop shows it goes round (ProfileWorker::alive). A worker stuck anywhere
// (or the whole process stopped) therefore stops the feeding, and systemd restarts us.
class Watchdog {
 public:
  Watchdog() : period_ms_(watchdog_period_ms()) {}

  // Workers sleep at most this long, so that a healthy one always looks alive.
  std::chrono::milliseconds worker_max_sleep() const {
    if (period_ms_ == 0) return kMaxSleep;
    return std::clamp(std::chrono::milliseconds(period_ms_ / 4), std::chrono::milliseconds(100),
                      kMaxSleep);
  }

  // How long the main thread may wait before feed_if_due has work (-1: no watchdog).
  std::int64_t ms_until_due() const {
    if (period_ms_ == 0) return -1;
    return std::max<std::int64_t>(next_feed_ms_ - monotonic_ms(), 1);
  }

  void feed_if_due(const Workers& workers) {
    if (period_ms_ == 0) return;
    const std::int64_t now = monotonic_ms();
    if (now < next_feed_ms_) return;
    next_feed_ms_ = now + period_ms_ / 2;
    for (const auto& worker : workers) {
      if (worker->alive(now, period_ms_)) continue;
      if (!stalled_) {
        log_line(LogLevel::error, worker->name(),
                 "its refresh loop has not gone round for " + to_decimal(period_ms_ / 1000) +
                     "s: no longer feeding the systemd watchdog (systemd restarts the service)");
      }
      stalled_ = true;
      return;
    }
    stalled_ = false;
    notify_systemd("WATCHDOG=1");
  }

 private:
  std::int64_t period_ms_;
  std::int64_t next_feed_ms_ = 0;
  bool stalled_ = false;
};

// Stops every worker (each finishes the refresh in flight first), feeding the watchdog while
// they finish: a reload may wait that long for a refresh, and must not be killed for it.
void stop_workers(Workers& workers, Watchdog& watchdog) {
  for (auto& worker : workers) worker->request_stop();
  for (;;) {
    const bool done = std::all_of(workers.begin(), workers.end(),
                                  [](const auto& worker) { return worker->finished(); });
    if (done) break;
    watchdog.feed_if_due(workers);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  workers.clear();
}

void notify_ready(std::size_t profiles, const std::string& note) {
  std::string state = "READY=1\nSTATUS=serving " + to_decimal(profiles) + " profile(s)";
  if (!note.empty()) state += "; " + note;
  notify_systemd(state.c_str());
}

// What a refused reload says: every problem, on one line.
std::string problems_text(const std::vector<ConfigProblem>& problems) {
  std::string text;
  for (const auto& problem : problems) {
    if (!text.empty()) text += "; ";
    text += problem.to_string();
  }
  return one_line(text, 900);
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
  // Signals go to wait_signal() below, never to a worker thread mid-refresh.
  const DeferredStopSignals signals;
  std::signal(SIGPIPE, SIG_IGN);
  Watchdog watchdog;
  // Temp files of a writer killed mid-write, of any file but P.secret (each profile's
  // refresh judges its own, temp_recovery.h): once here, for files of profiles no longer
  // configured; a refresh looks only at its own profile's names.
  (void)remove_stale_temp_files(*dir, {}, ".secret");
  // Declared before the workers, which hold it: scheduled refreshes start after READY.
  RefreshSlots slots(kConcurrentRefreshes);

  auto workers = start_workers(config, options, *dir, watchdog.worker_max_sleep(), slots);
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
  // Where `claude-key-refresher reload` (systemd's ExecReload) learns how a reload went.
  std::string run_dir = usable_runtime_dir();
  if (run_dir.empty()) {
    run_dir = *dir;
    (void)ensure_private_dir(run_dir);  // no profile may have made it yet
  }
  const std::string progress_path = reload_progress_path(run_dir, ::getpid());
  ReloadProgress progress;
  std::optional<FileId> progress_id;
  if (auto written = write_reload_progress(progress_path, progress); !written) {
    log_line(LogLevel::warning, "",
             written.error().message + "; `claude-key-refresher reload` cannot wait for a reload");
  } else {
    progress_id = file_id(progress_path);
  }
  const auto record_progress = [&] {
    if (progress_id && write_reload_progress(progress_path, progress)) {
      progress_id = file_id(progress_path);
    }
  };
  notify_ready(workers->size(), {});
  slots.open();
  log_line(LogLevel::info, "",
           "running with " + to_decimal(workers->size()) + " profile(s) from " +
               (config.path.empty() ? "the environment" : config.path) +
               (watchdog.ms_until_due() >= 0 ? "; feeding the systemd watchdog" : ""));

  ConfigWatch config_watch(options.config_path, options.config_stamp);
  for (;;) {
    watchdog.feed_if_due(*workers);
    const std::int64_t watchdog_ms = watchdog.ms_until_due();
    const std::int64_t poll_ms = kConfigPollInterval.count();
    const int signal_number =
        wait_signal(watchdog_ms < 0 ? poll_ms : std::min(watchdog_ms, poll_ms));
    const ConfigWatchEvent file_event =
        signal_number == 0 ? config_watch.poll(monotonic_ms()) : ConfigWatchEvent::none;
    const bool file_changed = file_event == ConfigWatchEvent::changed;
    if (file_changed) {
      log_line(LogLevel::info, "", options.config_path + " changed: reloading it");
    } else if (file_event == ConfigWatchEvent::vanished) {
      const int error = config_watch.last_seen().error;
      log_line(LogLevel::warning, "",
               options.config_path + " is gone (" + std::strerror(error) +
                   "): keeping the running configuration; it is reloaded when the file is "
                   "back (or run: claude-key-refresher reload)");
    }
    if (signal_number == SIGHUP || file_changed) {
      ++progress.started;
      record_progress();
      notify_systemd("RELOADING=1");
      config_watch.mark_applied();
      auto reloaded = load_config(options.config_path);
      std::string note;
      if (!reloaded) {
        for (const auto& problem : reloaded.error())
          log_line(LogLevel::error, "", problem.to_string());
        log_line(LogLevel::error, "", "reload refused: keeping the running configuration");
        progress.ok = false;
        progress.message = problems_text(reloaded.error());
        note = "reload refused, running the previous configuration";
      } else {
        stop_workers(*workers, watchdog);  // each releases its claim and socket
        auto restarted =
            start_workers(*reloaded, options, *dir, watchdog.worker_max_sleep(), slots);
        if (!restarted) {
          log_line(LogLevel::error, "",
                   restarted.error().message + "; restarting the previous configuration");
          progress.ok = false;
          progress.message = one_line(restarted.error().message, 900);
          note = "reload failed, running the previous configuration";
          config_watch.apply_failed(monotonic_ms());  // the new file is tried again later
          restarted = start_workers(config, options, *dir, watchdog.worker_max_sleep(), slots);
          if (!restarted) return 71;
        } else {
          config = std::move(*reloaded);
          log_line(LogLevel::info, "", "configuration reloaded");
          progress.ok = true;
          progress.message = "reloaded " + to_decimal(restarted->size()) + " profile(s) from " +
                             (config.path.empty() ? "the environment" : config.path);
        }
        *workers = std::move(*restarted);
      }
      progress.finished = progress.started;
      // READY=1 before the answer: systemd reads it before the exit of the ExecReload
      // process that is waiting for that answer.
      notify_ready(workers->size(), note);
      record_progress();
      continue;
    }
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
  }
  notify_systemd("STOPPING=1");
  const bool lost = g_state_lost.load();
  log_line(LogLevel::info, "",
           lost ? "stopping: the state dir is no longer this daemon's" : "stopping");
  stop_workers(*workers, watchdog);
  // Like the sockets: a pid file replaced by a newer daemon's is left to it.
  if (pid_file_id && file_id(options.pid_file) == pid_file_id) ::unlink(options.pid_file.c_str());
  if (progress_id && file_id(progress_path) == progress_id) ::unlink(progress_path.c_str());
  return lost ? kLostStateExit : 0;
}

}  // namespace ckh
