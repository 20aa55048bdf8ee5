#include "refresher/refresh_slots.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace ckh {

namespace {

void wake(int fd) {
  const std::uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

}  // namespace

void RefreshSlots::open() {
  const std::lock_guard lock(mutex_);
  open_ = true;
  hand_out_locked();
}

bool RefreshSlots::try_take(int wake_fd) {
  const std::lock_guard lock(mutex_);
  if (handed_.erase(wake_fd) > 0) return true;
  if (open_ && free_ > 0 && waiting_.empty()) {
    --free_;
    return true;
  }
  if (std::find(waiting_.begin(), waiting_.end(), wake_fd) == waiting_.end()) {
    waiting_.push_back(wake_fd);
  }
  return false;
}

void RefreshSlots::give_back() {
  const std::lock_guard lock(mutex_);
  ++free_;
  hand_out_locked();
}

void RefreshSlots::forget(int wake_fd) {
  const std::lock_guard lock(mutex_);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), wake_fd), waiting_.end());
  if (handed_.erase(wake_fd) > 0) {
    ++free_;
    hand_out_locked();
  }
}

void RefreshSlots::hand_out_locked() {
  while (open_ && free_ > 0 && !waiting_.empty()) {
    const int fd = waiting_.front();
    waiting_.pop_front();
    --free_;
    handed_.insert(fd);
    wake(fd);
  }
}

}  // namespace ckh
