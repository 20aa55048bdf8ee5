// The helper's pure decisions: freshness against the caller's TTL, and 401 suspicion.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "helper/freshness.h"
#include "shared/proc_stat.h"

using namespace ckh;

TEST_CASE("freshness: a credential must outlive the caller's TTL plus margin") {
  CredentialRecord r;
  r.expires_at = 1000 + 300 + 15;
  const auto need = need_valid_until(1000, 300000, 15000);
  CHECK(need == 1315);
  CHECK(fresh_enough(r, need));
  r.expires_at = 1314;
  CHECK_FALSE(fresh_enough(r, need));
  CHECK(still_valid(r, 1313));
  CHECK_FALSE(still_valid(r, 1314));
  r.expires_at.reset();
  CHECK(fresh_enough(r, need));
  CHECK(still_valid(r, 1LL << 40));
  CHECK(need_valid_until(1000, 1, 0) == 1001);  // rounds up to whole seconds
}

TEST_CASE("401 suspicion: same caller, same generation, well before the TTL") {
  const CallerMemory served{5, 1'000'000};
  const std::int64_t ttl = 300000;
  CHECK(suspect_401(served, 5, 1'000'000 + 1'000, ttl));          // a second later: a 401 retry
  CHECK(suspect_401(served, 5, 1'000'000 + 200'000, ttl));        // 200 s into a 300 s TTL
  CHECK_FALSE(suspect_401(served, 5, 1'000'000 + 290'000, ttl));  // regular end-of-TTL rerun
  CHECK_FALSE(suspect_401(served, 5, 1'000'000 + 400'000, ttl));
  CHECK_FALSE(suspect_401(served, 6, 1'000'000 + 1'000, ttl));  // it would get a new one anyway
  CHECK_FALSE(suspect_401(std::nullopt, 5, 1'000'000, ttl));    // first call of this process
  CHECK_FALSE(suspect_401(served, 5, 999'000, ttl));            // clock went backwards
  CHECK(suspect_401(CallerMemory{1, 0}, 1, 1000, 15000));       // short TTLs: 2 s slack
  CHECK_FALSE(suspect_401(CallerMemory{1, 0}, 1, 13500, 15000));
}

TEST_CASE("proc stat: command names with spaces and parentheses parse") {
  const std::string line =
      "1234 (my (odd) name) S 99 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 555666 1000 10";
  auto stat = parse_proc_stat(line);
  REQUIRE(stat);
  CHECK(stat->comm == "my (odd) name");
  CHECK(stat->ppid == 99);
  CHECK(stat->start_time == 555666);
  CHECK_FALSE(parse_proc_stat("1234 (x) S"));
  CHECK_FALSE(parse_proc_stat("garbage"));
  auto self = read_proc_stat(static_cast<long>(::getpid()));
  REQUIRE(self);
  CHECK(self->ppid == static_cast<long>(::getppid()));
}
