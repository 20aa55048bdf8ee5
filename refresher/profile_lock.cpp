#include "refresher/profile_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/text.h"

namespace ckh {

namespace {

#if defined(F_OFD_SETLKW)
constexpr int kLockWait = F_OFD_SETLKW;
constexpr int kLockNow = F_OFD_SETLK;
#else
constexpr int kLockWait = F_SETLKW;
constexpr int kLockNow = F_SETLK;
#endif

struct flock whole_file(short type) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = 0;
  range.l_len = 0;  // to the end, however long
  range.l_pid = 0;  // required by OFD locks
  return range;
}

Result<void> check_lock_file(const struct stat& st, const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorClass::unsafe, path +
                                        " is not a regular file; remove it (the refresher "
                                        "creates it again): rm " +
                                        path);
  }
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorClass::unsafe, path + " is owned by uid " + to_decimal(st.st_uid) +
                                        ", not by you (uid " + to_decimal(::geteuid()) +
                                        "); remove it: rm " + path);
  }
  return {};
}

}  // namespace

ProfileLock::~ProfileLock() {
  if (!fd_.valid()) return;
  // Explicit: a forked child that has not exec'd yet shares the descriptor's lock.
  struct flock unlock = whole_file(F_UNLCK);
  (void)::fcntl(fd_.get(), kLockNow, &unlock);
}

Result<ProfileLock> ProfileLock::acquire(const std::string& lock_path) {
  // Refuse what is there before opening it: opening a device can do things by itself.
  struct stat st {};
  if (::lstat(lock_path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return fail(ErrorClass::unsafe,
                  lock_path + " is a symbolic link; remove it: rm " + lock_path);
    }
    if (auto checked = check_lock_file(st, lock_path); !checked) {
      return std::unexpected(checked.error());
    }
  } else if (errno != ENOENT) {
    return fail(ErrorClass::io, "cannot stat " + lock_path + ": " + std::strerror(errno));
  }
  // Whatever is swapped in meanwhile: O_NONBLOCK makes opening a FIFO return at once,
  // O_NOFOLLOW refuses a link, and fstat below judges what was opened. Read-write: an
  // exclusive fcntl lock needs it.
  UniqueFd fd{::open(lock_path.c_str(),
                     O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600)};
  if (!fd.valid()) {
    const int error = errno;
    if (error == ELOOP) {
      return fail(ErrorClass::unsafe,
                  lock_path + " is a symbolic link; remove it: rm " + lock_path);
    }
    return fail(ErrorClass::io, "cannot open " + lock_path + ": " + std::strerror(error));
  }
  if (::fstat(fd.get(), &st) != 0) {
    return fail(ErrorClass::io, "cannot stat " + lock_path + ": " + std::strerror(errno));
  }
  if (auto checked = check_lock_file(st, lock_path); !checked) {
    return std::unexpected(checked.error());
  }
  struct flock exclusive = whole_file(F_WRLCK);
  while (::fcntl(fd.get(), kLockWait, &exclusive) != 0) {
    if (errno == EINTR) continue;
    return fail(ErrorClass::io, "cannot lock " + lock_path + ": " + std::strerror(errno));
  }
  return ProfileLock(std::move(fd));
}

}  // namespace ckh
