// The single-flight lock of one profile: an exclusive fcntl record lock on the whole of
// P.lock, held for the whole refresh (re-read, backend call, secret write, publish).
// - Where the kernel has them (Linux), an open-file-description lock (F_OFD_SETLKW): it
//   belongs to our descriptor, so closing some other descriptor of P.lock cannot drop it,
//   and two threads of one process exclude each other too. Either kind conflicts with the
//   other across processes, and with the fcntl locks Boost.Interprocess's file_lock (used
//   by earlier releases) takes, so mixed versions still exclude each other.
// - P.lock is opened O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC and must be a regular file owned by
//   us (else unsafe, with what to remove): a FIFO or device planted there cannot hang or
//   trigger anything, and no child (a command backend) inherits the descriptor.
// - Blocks until the lock is free: another holder is itself bounded by its backend's
//   timeout. P.lock is never replaced or written, only locked.
// Callers: refresh.cpp, oauth/account.cpp.
#pragma once

#include <string>

#include "shared/error.h"
#include "shared/unique_fd.h"

namespace ckh {

class ProfileLock {
 public:
  static Result<ProfileLock> acquire(const std::string& lock_path);
  ProfileLock(ProfileLock&&) noexcept = default;
  ProfileLock& operator=(ProfileLock&&) noexcept = default;
  ~ProfileLock();

 private:
  explicit ProfileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ckh
