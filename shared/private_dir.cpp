#include "shared/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/text.h"

namespace ckh {

Result<void> check_private_dir(const std::string& path) {
  if (path.empty()) return fail(ErrorClass::config, "empty directory path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) return fail(ErrorClass::not_found, path + " does not exist");
    return fail(ErrorClass::io, "cannot stat " + path + ": " + std::strerror(error));
  }
  if (S_ISLNK(st.st_mode)) {
    return fail(ErrorClass::unsafe, path +
                                        " is a symbolic link; use the real directory (set "
                                        "CLAUDE_KEY_HELPER_STATE_DIR to it)");
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorClass::unsafe, path + " is not a directory; remove it");
  }
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorClass::unsafe, "the directory " + path + " is owned by uid " +
                                        to_decimal(st.st_uid) + ", not by you (uid " +
                                        to_decimal(::geteuid()) + "); use a directory of your own");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorClass::unsafe,
                path + " is accessible by group or others; run: chmod 700 " + path);
  }
  return {};
}

}  // namespace ckh
