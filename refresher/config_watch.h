// The daemon notices an edited config file by itself: a daemon still running the old
// configuration while cron's `once` or a person runs the new one would otherwise publish
// the old source again and again, each undoing the other (schedule.h: a record fetched
// under other settings is due at once).
// Guarantees:
// - poll() says `changed` once per change, when the file has read the same for
//   kConfigSettle (an editor's half-written save is not loaded); a change that comes back
//   to the applied state is no change.
// - A file that disappears (or can no longer be stat'ed) is never loaded in its absence:
//   poll() says `vanished` once, and the running configuration stays until the file is
//   back (a change) or a SIGHUP asks for the missing file explicitly.
// - mark_applied(), called right before a reload (this one or a SIGHUP's) loads the file,
//   records it as what runs: a config refused as invalid is not retried until the file
//   changes again, and a change made while it loads is seen by the next polls.
//   apply_failed() undoes that when a valid config could not be put to work (its workers
//   did not start): the same file is tried again after kConfigRetryDelay.
// - Identity is device, inode, size, mtime and ctime (nanoseconds): a rename over the file
//   (what editors and the installer do) and an in-place write both count; so does a bare
//   touch or chmod (a reload that changes nothing).
// - Time is the caller's monotonic milliseconds: no clock of its own, no sleeping.
// Callers: refresher/main.cpp (the stamp before the first load), refresher/daemon.cpp's main
// loop (polls every kConfigPollInterval).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ckh {

inline constexpr std::chrono::milliseconds kConfigPollInterval{5'000};
inline constexpr std::chrono::milliseconds kConfigSettle{2'000};
inline constexpr std::chrono::milliseconds kConfigRetryDelay{60'000};

struct ConfigFileStamp {
  bool exists = false;
  int error = 0;  // errno of a failed stat (ENOENT: there is no file)
  unsigned long long dev = 0, ino = 0;
  long long size = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const ConfigFileStamp&) const = default;
};

// The file as it is now (follows links, as load_config does); exists = false when it is not.
ConfigFileStamp config_file_stamp(const std::string& path);

enum class ConfigWatchEvent { none, changed, vanished };

class ConfigWatch {
 public:
  // path: the config file the daemon reads ("" watches nothing); applied: its stamp taken
  // before the running configuration was loaded from it (a file that did not exist then
  // counts as a change when it appears).
  ConfigWatch(std::string path, ConfigFileStamp applied);
  ConfigWatchEvent poll(std::int64_t now_ms);
  void mark_applied();
  void apply_failed(std::int64_t now_ms);

  const ConfigFileStamp& last_seen() const { return seen_; }

 private:
  std::string path_;
  ConfigFileStamp applied_;
  ConfigFileStamp before_apply_;  // what apply_failed() goes back to
  ConfigFileStamp seen_;
  std::optional<ConfigFileStamp> candidate_;  // a change, waiting to settle
  std::int64_t candidate_since_ms_ = 0;
  std::int64_t retry_not_before_ms_ = 0;
  bool vanish_reported_ = false;
};

}  // namespace ckh
