// The single-flight lock of one profile: an exclusive Boost.Interprocess file_lock on
// P.lock, held for the whole refresh (re-read, backend call, secret write, publish).
// P.lock is never replaced or written, only locked: fcntl locks drop when ANY descriptor
// of the file closes in the process, so nothing else may open it (P.cred, by contrast, is
// replaced by rename and never locked). Blocks until the lock is free: another holder is
// itself bounded by its backend's timeout. Callers: refresh.cpp.
#pragma once

#include <memory>
#include <string>

#include "shared/error.h"

namespace boost::interprocess {
class file_lock;
}

namespace ckh {

class ProfileLock {
 public:
  static Result<ProfileLock> acquire(const std::string& lock_path);
  ProfileLock(ProfileLock&&) noexcept;
  ProfileLock& operator=(ProfileLock&&) noexcept;
  ~ProfileLock();

 private:
  explicit ProfileLock(std::unique_ptr<boost::interprocess::file_lock> lock);
  std::unique_ptr<boost::interprocess::file_lock> lock_;
};

}  // namespace ckh
