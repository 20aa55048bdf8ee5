#include "refresher/profile_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/interprocess/sync/file_lock.hpp>
#include <cerrno>
#include <cstring>

namespace ckh {

ProfileLock::ProfileLock(std::unique_ptr<boost::interprocess::file_lock> lock)
    : lock_(std::move(lock)) {}
ProfileLock::ProfileLock(ProfileLock&&) noexcept = default;
ProfileLock& ProfileLock::operator=(ProfileLock&&) noexcept = default;

ProfileLock::~ProfileLock() {
  if (lock_) {
    try {
      lock_->unlock();
    } catch (...) {
      // Closing the descriptor (file_lock's destructor) releases it anyway.
    }
  }
}

Result<ProfileLock> ProfileLock::acquire(const std::string& lock_path) {
  // file_lock needs an existing file; create it 0600 without following a planted symlink.
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorClass::io, "cannot open " + lock_path + ": " + std::strerror(errno));
  ::close(fd);  // before file_lock opens its own descriptor: closing later would drop the lock
  try {
    auto lock = std::make_unique<boost::interprocess::file_lock>(lock_path.c_str());
    lock->lock();
    return ProfileLock(std::move(lock));
  } catch (const std::exception& error) {
    return fail(ErrorClass::io, "cannot lock " + lock_path + ": " + error.what());
  }
}

}  // namespace ckh
