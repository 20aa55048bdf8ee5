#include "refresher/config_watch.h"

#include <sys/stat.h>

#include <utility>

namespace ckh {

ConfigFileStamp config_file_stamp(const std::string& path) {
  struct stat info {};
  if (path.empty() || ::stat(path.c_str(), &info) != 0) return {};
  const auto ns = [](const timespec& t) {
    return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
  };
  return ConfigFileStamp{true,
                         static_cast<unsigned long long>(info.st_dev),
                         static_cast<unsigned long long>(info.st_ino),
                         static_cast<long long>(info.st_size),
                         ns(info.st_mtim),
                         ns(info.st_ctim)};
}

ConfigWatch::ConfigWatch(std::string path)
    : path_(std::move(path)), applied_(config_file_stamp(path_)) {}

bool ConfigWatch::changed_and_settled() {
  if (path_.empty()) return false;
  const ConfigFileStamp now = config_file_stamp(path_);
  const bool settled = last_seen_ == now;
  last_seen_ = now;
  return settled && now != applied_;
}

void ConfigWatch::mark_applied() {
  applied_ = config_file_stamp(path_);
  last_seen_ = applied_;
}

}  // namespace ckh
