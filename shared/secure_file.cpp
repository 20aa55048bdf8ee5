#include "shared/secure_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {

namespace {

std::string os_reason(int error) {
  return std::string(std::strerror(error));
}

Result<void> check_private(const struct stat& st, const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorClass::unsafe, path + " is not a regular file");
  }
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorClass::unsafe, path + " is owned by uid " + to_decimal(st.st_uid) +
                                        ", not by you (uid " + to_decimal(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorClass::unsafe,
                path + " is readable or writable by group or others; run: chmod 600 " + path);
  }
  return {};
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

Result<std::string> read_bounded(int fd, const std::string& path, std::size_t size_hint,
                                 std::size_t max_bytes) {
  std::string content;
  content.resize(std::min(size_hint, max_bytes) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == content.size()) {
      if (content.size() > max_bytes) break;
      content.resize(content.size() * 2 > max_bytes + 1 ? max_bytes + 1 : content.size() * 2);
    }
    const ssize_t got = ::read(fd, content.data() + used, content.size() - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorClass::io, "cannot read " + path + ": " + os_reason(errno));
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  if (used > max_bytes) {
    return fail(ErrorClass::corrupt, path + " is larger than " + to_decimal(max_bytes) + " bytes");
  }
  content.resize(used);
  return content;
}

Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes) {
  // O_NONBLOCK: a FIFO planted in the file's place must not hang the reader.
  UniqueFd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (!file.valid()) {
    const int error = errno;
    if (error == ENOENT) return fail(ErrorClass::not_found, path + " does not exist");
    return fail(ErrorClass::io, "cannot open " + path + ": " + os_reason(error));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0)
    return fail(ErrorClass::io, "cannot stat " + path + ": " + os_reason(errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::unsafe, path + " is not a regular file");
  return read_bounded(file.get(), path, static_cast<std::size_t>(st.st_size), max_bytes);
}

Result<std::string> read_private_file(const std::string& path, std::size_t max_bytes) {
  // O_NONBLOCK: a FIFO planted in place of the file must not hang the reader.
  UniqueFd file{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (file.get() < 0) {
    const int error = errno;
    if (error == ENOENT) return fail(ErrorClass::not_found, path + " does not exist");
    if (error == ELOOP) return fail(ErrorClass::unsafe, path + " is a symbolic link");
    if (error == EACCES) return fail(ErrorClass::unsafe, path + " is not readable by you");
    return fail(ErrorClass::io, "cannot open " + path + ": " + os_reason(error));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0)
    return fail(ErrorClass::io, "cannot stat " + path + ": " + os_reason(errno));
  if (auto safe = check_private(st, path); !safe) return std::unexpected(safe.error());
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return fail(ErrorClass::corrupt, path + " is larger than " + to_decimal(max_bytes) + " bytes");
  }
  return read_bounded(file.get(), path, static_cast<std::size_t>(st.st_size), max_bytes);
}

Result<void> write_private_file_atomic(const std::string& path, std::string_view content,
                                       bool durable) {
  const std::string dir = parent_dir(path);
  // pid + a counter keeps temp names unique across processes and threads; O_EXCL makes a
  // collision (or a planted file or symlink) an error, never a write through it.
  static unsigned counter = 0;
  const std::string temp = path + ".tmp." + to_decimal(::getpid()) + "." +
                           to_decimal(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
  UniqueFd file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
  if (file.get() < 0)
    return fail(ErrorClass::io, "cannot create " + temp + ": " + os_reason(errno));
  // The mode argument is filtered by the umask; 0600 must hold whatever the umask is.
  if (::fchmod(file.get(), 0600) != 0 || !write_all(file.get(), content) ||
      (durable && ::fsync(file.get()) != 0)) {
    const int error = errno;
    ::unlink(temp.c_str());
    return fail(ErrorClass::io, "cannot write " + temp + ": " + os_reason(error));
  }
  // Closed by hand: a failing close can mean lost data, so its result counts.
  if (::close(file.release()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return fail(ErrorClass::io, "cannot write " + temp + ": " + os_reason(error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return fail(ErrorClass::io, "cannot rename " + temp + " to " + path + ": " + os_reason(error));
  }
  if (!durable) return {};
  UniqueFd directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (directory.get() < 0 || ::fsync(directory.get()) != 0) {
    return fail(ErrorClass::io, "cannot fsync " + dir + ": " + os_reason(errno));
  }
  return {};
}

Result<void> ensure_private_dir(const std::string& path) {
  if (path.empty()) return fail(ErrorClass::config, "empty directory path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return fail(ErrorClass::io, "cannot stat " + path + ": " + os_reason(errno));
    const std::string parent = parent_dir(path);
    if (parent != path && ::access(parent.c_str(), F_OK) != 0) {
      // Parents are ordinary directories (~/.local/state): 0700 is only for our own.
      std::string partial;
      for (std::size_t at = 1; at <= parent.size(); ++at) {
        if (at == parent.size() || parent[at] == '/') {
          partial = parent.substr(0, at);
          if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
            return fail(ErrorClass::io, "cannot create " + partial + ": " + os_reason(errno));
          }
        }
      }
    }
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(ErrorClass::io, "cannot create " + path + ": " + os_reason(errno));
    }
    if (::lstat(path.c_str(), &st) != 0)
      return fail(ErrorClass::io, "cannot stat " + path + ": " + os_reason(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ErrorClass::unsafe, path + " is not a directory");
  if (st.st_uid != ::geteuid()) return fail(ErrorClass::unsafe, path + " is not owned by you");
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorClass::unsafe,
                path + " is accessible by group or others; run: chmod 700 " + path);
  }
  return {};
}

std::size_t remove_stale_temp_files(const std::string& dir, std::string_view of) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return 0;
  std::size_t removed = 0;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string_view name(entry->d_name);
    const auto mark = name.rfind(".tmp.");
    if (mark == std::string_view::npos) continue;
    if (!of.empty() && name.substr(0, mark) != of) continue;
    const std::string_view rest = name.substr(mark + 5);
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos || !parse_u64(rest.substr(dot + 1))) continue;
    const auto pid = parse_u64(rest.substr(0, dot));
    if (!pid || *pid == 0 || *pid > 0x7fffffff) continue;
    if (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH) continue;  // still running
    if (::unlinkat(::dirfd(handle), entry->d_name, 0) == 0) ++removed;
  }
  ::closedir(handle);
  return removed;
}

}  // namespace ckh
