// refresher/refresh_slots.h: no scheduled refresh before READY, at most N at once, slots
// handed on first come first served, and a stopping worker passes its slot on.
#include "refresher/refresh_slots.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

namespace {

struct WakeFd {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ~WakeFd() { ::close(fd); }
  // Whether it was written since the last look.
  bool woken() const {
    std::uint64_t count = 0;
    return ::read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count) && count > 0;
  }
};

}  // namespace

TEST_CASE("refresh slots: none before open(), then at most the count", "[daemon]") {
  ckh::RefreshSlots slots(2);
  WakeFd a, b, c;
  CHECK_FALSE(slots.try_take(a.fd));  // before READY: queued
  CHECK_FALSE(a.woken());
  slots.open();
  CHECK(a.woken());             // handed the first slot at open()
  CHECK(slots.try_take(a.fd));  // and takes it
  CHECK(slots.try_take(b.fd));  // the second slot
  CHECK_FALSE(slots.try_take(c.fd));
  CHECK_FALSE(slots.try_take(c.fd));  // asking again does not queue twice
  slots.give_back();                  // a's refresh ended: c is next
  CHECK(c.woken());
  CHECK_FALSE(slots.try_take(a.fd));  // c's, not a's: a queues behind
  CHECK(slots.try_take(c.fd));
  slots.give_back();
  CHECK(a.woken());
  CHECK(slots.try_take(a.fd));
}

TEST_CASE("refresh slots: first come first served, and a stopping worker passes its slot on",
          "[daemon]") {
  ckh::RefreshSlots slots(1);
  slots.open();
  WakeFd holder, first, second;
  REQUIRE(slots.try_take(holder.fd));
  CHECK_FALSE(slots.try_take(first.fd));
  CHECK_FALSE(slots.try_take(second.fd));
  slots.give_back();
  CHECK(first.woken());
  CHECK_FALSE(second.woken());
  slots.forget(first.fd);  // stopped (or no longer due) before taking it
  CHECK(second.woken());
  CHECK(slots.try_take(second.fd));
  slots.forget(second.fd);  // forgetting a worker that holds nothing handed changes nothing
  WakeFd late;
  CHECK_FALSE(slots.try_take(late.fd));  // second still refreshes
  slots.give_back();
  CHECK(late.woken());
}
