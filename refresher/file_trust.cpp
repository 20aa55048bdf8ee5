#include "refresher/file_trust.h"

#include <pwd.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdlib>

#include <fmt/format.h>

#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

// "alice", or "1000" when the uid has no name: what chown accepts.
std::string user_name(uid_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && found->pw_name[0] != '\0') {
    return found->pw_name;
  }
  return to_decimal(static_cast<std::uint64_t>(uid));
}

std::string owner_text(uid_t uid) {
  const std::string name = user_name(uid);
  const std::string number = to_decimal(static_cast<std::uint64_t>(uid));
  return name == number ? "uid " + number : fmt::format("uid {} ({})", number, name);
}

std::string shown(std::string_view path) {
  return one_line(path, 512);
}

// `subject` opens the message: "config /x/config.toml" or "config /x/config.toml is in /x,
// which"; `target` is what the command must be run on.
Result<void> check_entry(const struct stat& st, bool directory, const std::string& subject,
                         const std::string& target) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    const std::string whose =
        me == 0 ? "not by you (root)" : fmt::format("not by you ({}) or root", user_name(me));
    return fail(
        ErrorClass::unsafe,
        fmt::format("{} is owned by {}, {}; run: {}chown {} {}", subject, owner_text(st.st_uid),
                    whose, me == 0 ? "" : "sudo ", user_name(me), shown(target)));
  }
  const bool sticky = directory && (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky) {
    return fail(ErrorClass::unsafe,
                fmt::format("{} is writable by others (mode {:04o}); run: chmod go-w {}", subject,
                            st.st_mode & 07777, shown(target)));
  }
  return {};
}

Result<void> check_dir(const std::string& dir, const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
  return check_entry(st, true, fmt::format("{} {} is in {}, which", what, shown(path), shown(dir)),
                     dir);
}

}  // namespace

Result<void> check_not_writable_by_others(const std::string& path, const struct stat& file,
                                          std::string_view what) {
  if (auto ok = check_entry(file, false, fmt::format("{} {}", what, shown(path)), path); !ok) {
    return ok;
  }
  const std::string named_dir = parent_dir(path);
  if (auto ok = check_dir(named_dir, path, what); !ok) return ok;
  // Behind a link, whoever can write the target's directory can replace the target.
  char resolved[PATH_MAX];
  char resolved_dir[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr &&
      ::realpath(named_dir.c_str(), resolved_dir) != nullptr) {
    const std::string target_dir = parent_dir(resolved);
    if (target_dir != resolved_dir) return check_dir(target_dir, path, what);
  }
  return {};
}

Result<void> check_not_writable_by_others(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};  // missing: the reader says so
  return check_not_writable_by_others(path, st, what);
}

}  // namespace ckh
