#include "refresher/clock.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <thread>

namespace ckh {

namespace {

std::string read_boot_id() {
#ifdef __linux__
  const int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[64];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (n <= 0) return {};
  std::string id;
  for (ssize_t i = 0; i < n; ++i) {
    const char c = buffer[i];
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
    if (!hex) break;
    id += c;
  }
  return id;
#else
  return {};  // no boot identity: since_boot_ms() readings are not compared across processes
#endif
}

}  // namespace

std::int64_t RealClock::unix_seconds() const {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::chrono::steady_clock::time_point RealClock::monotonic() const {
  return std::chrono::steady_clock::now();
}

std::int64_t RealClock::since_boot_ms() const {
  struct timespec now {};
#ifdef CLOCK_BOOTTIME
  ::clock_gettime(CLOCK_BOOTTIME, &now);
#else
  ::clock_gettime(CLOCK_MONOTONIC, &now);
#endif
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

std::string RealClock::boot_id() const {
  static const std::string id = read_boot_id();
  return id;
}

void RealClock::sleep_for(std::chrono::milliseconds duration) const {
  std::this_thread::sleep_for(duration);
}

ClockReading read_clock(const Clock& clock) {
  return ClockReading{clock.unix_seconds(), clock.since_boot_ms(), clock.boot_id()};
}

}  // namespace ckh
