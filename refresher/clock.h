// The clock seam. Three readings, because they answer different questions:
// - unix_seconds(): wall time. Only for what is defined in wall time: expiry instants
//   (expires_at), and the times written to P.cred/P.status for people and other processes.
// - since_boot_ms(): elapsed time since boot, including suspend (CLOCK_BOOTTIME), the same
//   in every process of one boot and never stepped by settimeofday/NTP. Intervals
//   (refresh_interval, backoff, rate limits, Retry-After) are measured on it, so that a
//   wall-clock step in either direction neither delays nor hastens them
//   (schedule.h: rebase_status).
// - boot_id(): which boot since_boot_ms() counts from ("" when unknown): its readings from
//   another boot mean nothing.
// monotonic() is the process-local steady clock for timeouts; sleep_for() pauses (a fake
// clock just advances, so tests of retry pauses take no time).
// RealClock reads the OS; tests use FakeClock, which can step its wall time alone.
// Callers: the refresh logic, the daemon loop, status, backends with time-bound state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ckh {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t unix_seconds() const = 0;
  virtual std::chrono::steady_clock::time_point monotonic() const = 0;
  virtual std::int64_t since_boot_ms() const = 0;
  virtual std::string boot_id() const = 0;
  virtual void sleep_for(std::chrono::milliseconds duration) const = 0;
};

class RealClock final : public Clock {
 public:
  std::int64_t unix_seconds() const override;
  std::chrono::steady_clock::time_point monotonic() const override;
  std::int64_t since_boot_ms() const override;
  std::string boot_id() const override;  // /proc/sys/kernel/random/boot_id, read once
  void sleep_for(std::chrono::milliseconds duration) const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t unix_seconds) : unix_(unix_seconds) {}
  std::int64_t unix_seconds() const override { return unix_; }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(boot_ms_));
  }
  std::int64_t since_boot_ms() const override { return boot_ms_; }
  std::string boot_id() const override { return boot_id_; }
  void sleep_for(std::chrono::milliseconds duration) const override {
    boot_ms_ += duration.count();
    unix_ = unix_at_boot_ms0_ + boot_ms_ / 1000;
  }
  // Time passes: every reading moves.
  void advance(std::chrono::seconds by) { sleep_for(by); }
  // Someone sets the wall clock (NTP step, a user, a VM restore): only wall time moves.
  void step_wall(std::chrono::seconds by) {
    unix_ += by.count();
    unix_at_boot_ms0_ += by.count();
  }
  // A reboot: a new boot id, elapsed time starts again.
  void reboot() {
    boot_id_ += "+";
    boot_ms_ = 1000;
    unix_at_boot_ms0_ = unix_ - 1;
  }

 private:
  // Mutable: sleeping is a const operation of the seam (callers hold a const Clock&).
  mutable std::int64_t unix_;
  mutable std::int64_t boot_ms_ = 3'600'000;
  std::int64_t unix_at_boot_ms0_ = unix_ - 3'600;  // wall = this + boot_ms / 1000
  std::string boot_id_ = "fake-boot";
};

// The three readings taken together (one call each), for code that compares them.
struct ClockReading {
  std::int64_t unix_s = 0;
  std::int64_t boot_ms = 0;
  std::string boot_id;
};
ClockReading read_clock(const Clock& clock);

}  // namespace ckh
