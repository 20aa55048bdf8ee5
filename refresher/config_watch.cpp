#include "refresher/config_watch.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>

namespace ckh {

ConfigFileStamp config_file_stamp(const std::string& path) {
  struct stat info {};
  if (path.empty()) return ConfigFileStamp{.error = ENOENT};
  if (::stat(path.c_str(), &info) != 0) return ConfigFileStamp{.error = errno};
  const auto ns = [](const timespec& t) {
    return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
  };
  return ConfigFileStamp{.exists = true,
                         .error = 0,
                         .dev = static_cast<unsigned long long>(info.st_dev),
                         .ino = static_cast<unsigned long long>(info.st_ino),
                         .size = static_cast<long long>(info.st_size),
                         .mtime_ns = ns(info.st_mtim),
                         .ctime_ns = ns(info.st_ctim)};
}

ConfigWatch::ConfigWatch(std::string path, ConfigFileStamp applied)
    : path_(std::move(path)), applied_(applied), before_apply_(applied), seen_(applied) {}

ConfigWatchEvent ConfigWatch::poll(std::int64_t now_ms) {
  if (path_.empty()) return ConfigWatchEvent::none;
  seen_ = config_file_stamp(path_);
  if (!seen_.exists) {
    candidate_.reset();
    // Nothing to load: only a file that ran before can be said to have gone.
    if (!applied_.exists || vanish_reported_) return ConfigWatchEvent::none;
    vanish_reported_ = true;
    return ConfigWatchEvent::vanished;
  }
  vanish_reported_ = false;
  if (seen_ == applied_) {
    candidate_.reset();
    return ConfigWatchEvent::none;
  }
  if (candidate_ != seen_) {
    candidate_ = seen_;
    candidate_since_ms_ = now_ms;
    return ConfigWatchEvent::none;
  }
  const bool settled = now_ms - candidate_since_ms_ >= kConfigSettle.count();
  return settled && now_ms >= retry_not_before_ms_ ? ConfigWatchEvent::changed
                                                   : ConfigWatchEvent::none;
}

void ConfigWatch::mark_applied() {
  before_apply_ = applied_;
  applied_ = config_file_stamp(path_);
  seen_ = applied_;
  candidate_.reset();
  vanish_reported_ = !applied_.exists;
}

void ConfigWatch::apply_failed(std::int64_t now_ms) {
  applied_ = before_apply_;
  retry_not_before_ms_ = now_ms + kConfigRetryDelay.count();
}

}  // namespace ckh
