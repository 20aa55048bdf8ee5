// The clock seam: wall time (what records and expiries are in) and a monotonic time (what
// timeouts and schedules are measured in). RealClock reads the OS; tests use FakeClock.
// Callers: the refresh logic, the daemon loop, backends with time-bound state.
#pragma once

#include <chrono>
#include <cstdint>

namespace ckh {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t unix_seconds() const = 0;
  virtual std::chrono::steady_clock::time_point monotonic() const = 0;
};

class RealClock final : public Clock {
 public:
  std::int64_t unix_seconds() const override;
  std::chrono::steady_clock::time_point monotonic() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t unix_seconds) : unix_(unix_seconds) {}
  std::int64_t unix_seconds() const override { return unix_; }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(unix_));
  }
  void advance(std::chrono::seconds by) { unix_ += by.count(); }

 private:
  std::int64_t unix_;
};

}  // namespace ckh
