// How many scheduled refreshes the daemon runs at once, and not before it said READY.
// Guarantees:
// - try_take() grants a slot only after open() (the daemon has told systemd READY=1, so a
//   start costs the same with 1 or 1000 profiles) and while fewer than `count` are taken;
// - a worker refused is queued (once) and its wake fd (an eventfd) is written when a slot
//   is handed to it, first come first served; its next try_take() then succeeds. A worker
//   keeps serving its socket while it waits (requests from the helper take no slot: they
//   are rate-limited per profile already, and the user is waiting for them);
// - forget() takes a stopping worker out of the queue and passes on a slot handed to it.
// Each profile stays single-flight by its own worker thread (daemon.cpp); this only bounds
// how many profiles refresh together. Thread-safe. Callers: daemon.cpp.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <set>

namespace ckh {

class RefreshSlots {
 public:
  explicit RefreshSlots(std::size_t count) : free_(count) {}

  void open();
  bool try_take(int wake_fd);
  void give_back();
  void forget(int wake_fd);

 private:
  void hand_out_locked();  // free slots to the first waiters

  std::mutex mutex_;
  bool open_ = false;
  std::size_t free_;
  std::deque<int> waiting_;  // wake fds, oldest first
  std::set<int> handed_;     // wake fds granted a slot they have not yet taken
};

}  // namespace ckh
