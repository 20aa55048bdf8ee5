// What mkdir locks can and cannot guarantee.
// - Can: mutual exclusion among live holders. mkdir either creates the directory or fails
//   with EEXIST, atomically, on every local file system, so two processes never both
//   believe they created it.
// - Cannot: safe stale-lock takeover. "Older than 10 s" is a guess that the holder died; a
//   holder that was merely stopped (SIGSTOP, a suspended laptop, a thread starved for 10 s)
//   comes back holding a lock someone else has taken over. And removing a stale lock is
//   check-then-act: between our lstat (stale, inode N) and our rmdir, another process may
//   remove it too and create its own fresh lock, which our rmdir then deletes. There is no
//   "remove if inode is N" system call. We narrow the window (re-lstat just before rmdir)
//   but cannot close it; proper-lockfile, which Claude Code uses, has the same gap.
// - So a holder re-checks before acting: held() compares the directory's device, inode and
//   the mtime we last set (inode numbers are reused after rmdir, the nanosecond mtime of a
//   fresh directory practically never equals ours). The touch thread does the same check
//   before each touch and, once the lock is lost, stops touching it. Release removes the
//   directory only when it still passes that check, so we do not delete a lock someone
//   else took after ours was judged stale (up to the same lstat-to-rmdir window).
#include "refresher/sinks/claude_code_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

namespace ckh {

namespace {

constexpr std::chrono::milliseconds kRetryMin{50};
constexpr std::chrono::milliseconds kRetryMax{200};

std::string os_reason(int error) {
  return std::string(std::strerror(error));
}

std::chrono::nanoseconds since_epoch(const struct timespec& time) {
  return std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec);
}

bool is_stale(const struct stat& st) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return now - since_epoch(st.st_mtim) > kClaudeCodeLockStale;
}

// Removes a lock judged stale, unless it changed since it was judged (see the top).
Result<void> remove_stale(const std::string& path, const struct stat& judged) {
  struct stat now {};
  if (::lstat(path.c_str(), &now) != 0) return {};  // gone already: just try again
  if (now.st_dev != judged.st_dev || now.st_ino != judged.st_ino || !is_stale(now)) return {};
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return fail(ErrorClass::io, "cannot remove the stale Claude Code credential lock " + path +
                                    ": " + os_reason(errno) + "; remove it by hand");
  }
  return {};
}

}  // namespace

struct ClaudeCodeLock::State {
  std::string path;
  std::mutex mutex;  // guards everything below
  std::condition_variable wake;
  dev_t device = 0;
  ino_t inode = 0;
  struct timespec mtime {};  // the mtime we last gave the directory
  bool stopping = false;
  bool lost = false;
  bool released = false;
  std::thread toucher;

  bool is_ours(const struct stat& st) const {
    return st.st_dev == device && st.st_ino == inode && st.st_mtim.tv_sec == mtime.tv_sec &&
           st.st_mtim.tv_nsec == mtime.tv_nsec;
  }

  bool still_ours() const {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && is_ours(st);
  }

  void remember(const struct stat& st) {
    device = st.st_dev;
    inode = st.st_ino;
    mtime = st.st_mtim;
  }

  void touch_until_stopped() {
    std::unique_lock guard(mutex);
    while (!wake.wait_for(guard, kClaudeCodeLockTouchInterval, [this] { return stopping; })) {
      if (!still_ours()) {
        lost = true;  // taken over or removed: touching it now would extend someone else's
        return;
      }
      // A failed touch is retried at the next interval; the lock only goes stale after
      // several misses.
      if (::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) continue;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || st.st_dev != device || st.st_ino != inode) {
        lost = true;
        return;
      }
      mtime = st.st_mtim;
    }
  }
};

ClaudeCodeLock::ClaudeCodeLock(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClaudeCodeLock::ClaudeCodeLock(ClaudeCodeLock&&) noexcept = default;

ClaudeCodeLock& ClaudeCodeLock::operator=(ClaudeCodeLock&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
  }
  return *this;
}

ClaudeCodeLock::~ClaudeCodeLock() {
  release();
}

Result<ClaudeCodeLock> ClaudeCodeLock::acquire(const std::string& lock_dir,
                                               std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::minstd_rand jitter(static_cast<unsigned>(std::random_device{}()) ^
                          static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> retry_ms(static_cast<int>(kRetryMin.count()),
                                              static_cast<int>(kRetryMax.count()));
  for (;;) {
    if (::mkdir(lock_dir.c_str(), 0700) == 0) {
      auto state = std::make_unique<State>();
      state->path = lock_dir;
      struct stat st {};
      if (::lstat(lock_dir.c_str(), &st) != 0) {
        const int error = errno;
        ::rmdir(lock_dir.c_str());
        return fail(ErrorClass::io, "cannot stat the Claude Code credential lock " + lock_dir +
                                        ": " + os_reason(error));
      }
      state->remember(st);
      State* raw = state.get();
      state->toucher = std::thread([raw] { raw->touch_until_stopped(); });
      return ClaudeCodeLock(std::move(state));
    }
    if (errno != EEXIST) {
      return fail(ErrorClass::io, "cannot create the Claude Code credential lock " + lock_dir +
                                      ": " + os_reason(errno));
    }
    struct stat st {};
    if (::lstat(lock_dir.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // released meanwhile: try again at once
      return fail(ErrorClass::io, "cannot stat the Claude Code credential lock " + lock_dir + ": " +
                                      os_reason(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
      return fail(ErrorClass::unsafe,
                  "Claude Code's credential lock " + lock_dir + " is not a directory; remove it");
    }
    if (is_stale(st)) {
      if (auto removed = remove_stale(lock_dir, st); !removed)
        return std::unexpected(removed.error());
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return fail(ErrorClass::transient, "Claude Code's credential lock " + lock_dir +
                                             " is held by another process; try again");
    }
    const auto pause = std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(retry_ms(jitter)), deadline - now);
    std::this_thread::sleep_for(pause);
  }
}

bool ClaudeCodeLock::held() const {
  if (!state_) return false;
  std::lock_guard guard(state_->mutex);
  return !state_->released && !state_->lost && state_->still_ours();
}

void ClaudeCodeLock::release() {
  if (!state_) return;
  {
    std::lock_guard guard(state_->mutex);
    if (state_->released) return;
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (state_->toucher.joinable()) state_->toucher.join();
  std::lock_guard guard(state_->mutex);
  state_->released = true;
  if (!state_->lost && state_->still_ours()) ::rmdir(state_->path.c_str());
}

const std::string& ClaudeCodeLock::path() const {
  static const std::string empty;
  return state_ ? state_->path : empty;
}

}  // namespace ckh
