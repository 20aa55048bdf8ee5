#include "refresher/clock.h"

#include <ctime>

namespace ckh {

std::int64_t RealClock::unix_seconds() const {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::chrono::steady_clock::time_point RealClock::monotonic() const {
  return std::chrono::steady_clock::now();
}

}  // namespace ckh
