// Claude Code's own credential lock, taken the way Claude Code takes it (the proper-lockfile
// npm package): the lock is a DIRECTORY `<realpath(config dir)>.lock` created with mkdir;
// it is held while it exists; its holder touches its mtime regularly; one whose mtime is
// more than 10 s old is stale and may be removed by anyone.
// Guarantees of ClaudeCodeLock:
// - acquire() returns only once this process created the directory itself (mkdir is atomic:
//   of several concurrent creators exactly one succeeds). It removes a stale lock (rmdir)
//   and retries, sleeping 50-200 ms (jittered) between tries, until `wait` has passed; then
//   ErrorClass::transient ("held by another process; try again"). A lock path that exists
//   but is not a directory is ErrorClass::unsafe.
// - While held, a background thread touches the directory's mtime every 2 s (well inside
//   Claude Code's 10 s staleness, with room for a stalled thread), and stops on release.
// - Release (destructor or release()) removes the directory only if it is still ours: same
//   device, inode and the mtime we last gave it. See claude_code_lock.cpp for what mkdir
//   locks can and cannot guarantee.
// - Movable, not copyable. No exceptions.
// Callers: the claude-code sink (refresher/oauth/), around read .. write of the store.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "shared/error.h"

namespace ckh {

inline constexpr std::chrono::seconds kClaudeCodeLockStale{10};
inline constexpr std::chrono::seconds kClaudeCodeLockTouchInterval{2};

class ClaudeCodeLock {
 public:
  static Result<ClaudeCodeLock> acquire(const std::string& lock_dir,
                                        std::chrono::milliseconds wait);

  ClaudeCodeLock(ClaudeCodeLock&&) noexcept;
  ClaudeCodeLock& operator=(ClaudeCodeLock&&) noexcept;
  ClaudeCodeLock(const ClaudeCodeLock&) = delete;
  ClaudeCodeLock& operator=(const ClaudeCodeLock&) = delete;
  ~ClaudeCodeLock();

  // Whether the directory is (still) the one we created. False once another process judged
  // it stale and replaced or removed it: a caller checks this just before writing the store.
  bool held() const;

  // Stops the touching and removes the directory if it is still ours. Idempotent.
  void release();

  const std::string& path() const;

 private:
  struct State;
  explicit ClaudeCodeLock(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ckh
