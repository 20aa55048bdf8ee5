#include "shared/secure_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "shared/private_dir.h"
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

// pid + a counter keeps temp names unique across processes and threads; O_EXCL makes a
// collision (or a planted file or symlink) an error, never a write through it.
std::string next_temp_name(const std::string& path) {
  static unsigned counter = 0;
  return path + ".tmp." + to_decimal(::getpid()) + "." +
         to_decimal(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
}

// 0, or the errno of the failed open or fsync.
int fsync_dir(const std::string& dir) {
  UniqueFd directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (directory.get() < 0 || ::fsync(directory.get()) != 0) return errno;
  return 0;
}

// The pid of a temp file name "<of>.tmp.<pid>.<n>", when `name` is one (of `of`, if set).
std::optional<pid_t> temp_file_pid(std::string_view name, std::string_view of,
                                   std::string_view except_suffix = {}) {
  const auto mark = name.rfind(".tmp.");
  if (mark == std::string_view::npos) return std::nullopt;
  const std::string_view target = name.substr(0, mark);
  if (!of.empty() && target != of) return std::nullopt;
  if (!except_suffix.empty() && target.ends_with(except_suffix)) return std::nullopt;
  const std::string_view rest = name.substr(mark + 5);
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || !parse_u64(rest.substr(dot + 1))) return std::nullopt;
  const auto pid = parse_u64(rest.substr(0, dot));
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

bool running(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

}  // namespace

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

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
  const std::string temp = next_temp_name(path);
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
  if (const int error = fsync_dir(dir); error != 0) {
    return fail(ErrorClass::io, "cannot fsync " + dir + ": " + os_reason(error));
  }
  return {};
}

Result<void> wipe_private_file(const std::string& path) {
  UniqueFd fd{::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC)};
  if (fd.get() < 0) {
    if (errno == ENOENT) return {};
    return fail(ErrorClass::io, "cannot open " + path + " to wipe it: " + os_reason(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorClass::unsafe, path + " is not a regular file; remove it by hand");
  }
  // Unlinked first (and the directory synced): a crash from here on leaves no file, never
  // a zeroed one a reader would take for a state. The bytes are then zeroed through the
  // descriptor, which still reaches the blocks until it is closed.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail(ErrorClass::io, "cannot remove " + path + ": " + os_reason(errno));
  }
  if (fsync_dir(parent_dir(path)) != 0) {
    return fail(ErrorClass::io, "cannot sync " + parent_dir(path) + ": " + os_reason(errno));
  }
  const std::string zeros(static_cast<std::size_t>(st.st_size), '\0');
  if (!write_all(fd.get(), zeros) || ::fsync(fd.get()) != 0) {
    return fail(ErrorClass::io,
                "removed " + path + " but could not zero its bytes: " + os_reason(errno));
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
  }
  // The helper applies the same rule before it reads anything here (shared/private_dir.h).
  return check_private_dir(path);
}

std::size_t remove_stale_temp_files(const std::string& dir, std::string_view of,
                                    std::string_view except_suffix) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return 0;
  std::size_t removed = 0;
  while (const dirent* entry = ::readdir(handle)) {
    const auto pid = temp_file_pid(entry->d_name, of, except_suffix);
    if (!pid || running(*pid)) continue;
    if (::unlinkat(::dirfd(handle), entry->d_name, 0) == 0) ++removed;
  }
  ::closedir(handle);
  return removed;
}

std::vector<TempFile> leftover_temp_files(const std::string& dir,
                                          std::span<const std::string> names, bool include_own) {
  std::vector<TempFile> found;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return found;
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(handle)) {
    const std::string_view name(entry->d_name);
    for (const std::string& target : names) {
      // Cheap first: most entries are other files, or other profiles' ones.
      if (!name.starts_with(target) || name.size() <= target.size() || name[target.size()] != '.') {
        continue;
      }
      const auto pid = temp_file_pid(name, target);
      if (!pid) continue;
      const bool own = *pid == self;
      if ((include_own && own) || (!own && !running(*pid))) {
        found.push_back(TempFile{dir + "/" + entry->d_name, target, own});
      }
      break;
    }
  }
  ::closedir(handle);
  return found;
}

Result<ReservedFile> ReservedFile::reserve(const std::string& path, std::size_t bytes,
                                           bool durable) {
  ReservedFile file;
  file.path_ = path;
  file.temp_ = next_temp_name(path);
  file.bytes_ = bytes;
  const std::string name = base_name(path);
  file.fd_ = ::open(file.temp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (file.fd_ < 0) {
    return fail(ErrorClass::io,
                "could not save: " + os_reason(errno) + " (" + name + ", creating its temp file)");
  }
  // From here on the destructor removes the temp file on every failure.
  if (::fchmod(file.fd_, 0600) != 0) {
    return fail(ErrorClass::io, "could not save: " + os_reason(errno) + " (" + name + ", chmod)");
  }
  // posix_fallocate returns the error instead of setting errno; where the filesystem cannot
  // preallocate, glibc writes the blocks itself. No room asked: a plain temp file.
  if (const int error = bytes == 0 ? 0 : ::posix_fallocate(file.fd_, 0, static_cast<off_t>(bytes));
      error != 0) {
    return fail(ErrorClass::io,
                "could not save: " + os_reason(error) + " (" + name + ", reserving room)");
  }
  if (durable) {
    if (::fsync(file.fd_) != 0) {
      return fail(ErrorClass::io,
                  "could not save: " + os_reason(errno) + " (" + name + ", reserving room)");
    }
    if (const int error = fsync_dir(parent_dir(path)); error != 0) {
      return fail(ErrorClass::io, "could not save: " + os_reason(error) + " (" + name +
                                      ", fsync of the directory)");
    }
  }
  return file;
}

ReservedFile::ReservedFile(ReservedFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_(std::move(other.temp_)),
      fd_(std::exchange(other.fd_, -1)),
      bytes_(other.bytes_),
      written_(other.written_),
      filled_(other.filled_),
      renamed_(other.renamed_),
      done_(std::exchange(other.done_, true)),
      kept_(other.kept_) {}

ReservedFile& ReservedFile::operator=(ReservedFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    temp_ = std::move(other.temp_);
    fd_ = std::exchange(other.fd_, -1);
    bytes_ = other.bytes_;
    written_ = other.written_;
    filled_ = other.filled_;
    renamed_ = other.renamed_;
    done_ = std::exchange(other.done_, true);
    kept_ = other.kept_;
  }
  return *this;
}

ReservedFile::~ReservedFile() {
  discard();
}

void ReservedFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!done_ && !renamed_ && !kept_ && !temp_.empty()) ::unlink(temp_.c_str());
  done_ = true;
}

Result<void> ReservedFile::fill(std::string_view content) {
  const std::string name = base_name(path_);
  if (fd_ < 0 || renamed_) {
    return fail(ErrorClass::io, "could not save: the reservation is used up (" + name + ")");
  }
  written_ = false;
  filled_ = false;
  // Truncate first, then write: the file never holds the content followed by the rest of
  // the reservation, which no reader would take for a whole file. Shrinking keeps the
  // blocks the content goes to.
  if (::ftruncate(fd_, static_cast<off_t>(content.size())) != 0) {
    return fail(ErrorClass::io, "could not save: " + os_reason(errno) + " (" + name + ", writing)");
  }
  std::size_t at = 0;
  while (at < content.size()) {
    const ssize_t written =
        ::pwrite(fd_, content.data() + at, content.size() - at, static_cast<off_t>(at));
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorClass::io,
                  "could not save: " + os_reason(errno) + " (" + name + ", writing)");
    }
    at += static_cast<std::size_t>(written);
  }
  written_ = true;
  if (::fsync(fd_) != 0) {
    return fail(ErrorClass::io, "could not save: " + os_reason(errno) + " (" + name + ", fsync)");
  }
  filled_ = true;
  return {};
}

Result<void> ReservedFile::commit() {
  const std::string name = base_name(path_);
  if (!renamed_) {
    if (!filled_) {
      return fail(ErrorClass::io, "could not save: nothing written yet (" + name + ")");
    }
    // The descriptor stays open until the rename worked, so that a failed rename can be
    // followed by another fill(); fill's fsync already said whether the data is on disk.
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      return fail(ErrorClass::io,
                  "could not save: " + os_reason(errno) + " (" + name + ", renaming)");
    }
    renamed_ = true;
    ::close(std::exchange(fd_, -1));
  }
  if (const int error = fsync_dir(parent_dir(path_)); error != 0) {
    return fail(ErrorClass::io,
                "could not save: " + os_reason(error) + " (" + name + ", fsync of the directory)");
  }
  done_ = true;
  return {};
}

}  // namespace ckh
