// The daemon notices an edited config file by itself: a daemon still running the old
// configuration while cron's `once` or a person runs the new one would otherwise publish
// the old source again and again, each undoing the other (schedule.h: a record fetched
// under other settings is due at once).
// Guarantees:
// - changed_and_settled() is true once per change, when the file (or its absence) reads the
//   same on two polls in a row, so an editor's half-written save is not loaded; a change
//   that comes back to the applied state is no change.
// - mark_applied(), called right before a reload (this one or a SIGHUP's) loads the file,
//   records it as what runs: a config refused as invalid is not retried until the file
//   changes again, and a change made while it loads is seen on the next polls.
// - Identity is device, inode, size, mtime and ctime (nanoseconds): a rename over the file
//   (what editors and the installer do) and an in-place write both count.
// Caller: refresher/daemon.cpp's main loop (polls every kConfigPollInterval).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ckh {

inline constexpr std::chrono::milliseconds kConfigPollInterval{5'000};

struct ConfigFileStamp {
  bool exists = false;
  unsigned long long dev = 0, ino = 0;
  long long size = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const ConfigFileStamp&) const = default;
};

// The file as it is now (follows links, as load_config does); exists = false when it is not.
ConfigFileStamp config_file_stamp(const std::string& path);

class ConfigWatch {
 public:
  // path: the config file the daemon reads (one that does not exist yet counts: its
  // appearance is a change); "" watches nothing.
  explicit ConfigWatch(std::string path);
  bool changed_and_settled();
  void mark_applied();

 private:
  std::string path_;
  ConfigFileStamp applied_;
  std::optional<ConfigFileStamp> last_seen_;
};

}  // namespace ckh
