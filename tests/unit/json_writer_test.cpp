// The one JSON writer (refresher/json_writer.h), the one time format (shared/time_text.h)
// and status's health verdicts (refresher/status_report.h): issue 11, items 6, 11 and 13.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <string>
#include <vector>

#include "refresher/json_writer.h"
#include "refresher/status_report.h"
#include "shared/time_text.h"

namespace {

bool parses_as_utf8_json(const std::string& text) {
  if (!simdjson::validate_utf8(text.data(), text.size())) return false;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS;
}

}  // namespace

TEST_CASE("json writer: invalid UTF-8 becomes U+FFFD and the text stays valid JSON") {
  // \xff\xfe (never UTF-8), a lone continuation byte, a sequence cut short, an overlong '/'.
  const std::string bad =
      "a\xff\xfe"
      "b\x80"
      "c\xe2\x82"
      "d\xc0\xaf"
      "e";
  const std::string text = ckh::json_string(bad);
  CHECK(parses_as_utf8_json(text));
  CHECK(text.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
  CHECK(text.front() == '"');
  CHECK(text.back() == '"');
  // Keys too, and inside nested values.
  ckh::Json value = ckh::Json::object();
  value[bad] = ckh::Json::array({bad, 1, nullptr, true});
  CHECK(parses_as_utf8_json(ckh::json_text(value)));
}

TEST_CASE("json writer: valid UTF-8, quotes and control characters round-trip") {
  const std::string text = "caf\xc3\xa9 \"q\" back\\slash\n\t\x01\x7f \xf0\x9f\x94\x91";
  const std::string json = ckh::json_string(text);
  REQUIRE(parses_as_utf8_json(json));
  simdjson::dom::parser parser;
  std::string_view back;
  REQUIRE(parser.parse(simdjson::padded_string(json)).get_string().get(back) == simdjson::SUCCESS);
  CHECK(back == text);
}

TEST_CASE("json writer: compact, members in the order added") {
  ckh::Json body = {{"grant_type", "refresh_token"}, {"refresh_token", "r"}, {"client_id", "c"}};
  body["expires_in"] = 3600;
  CHECK(ckh::json_text(body) ==
        R"({"grant_type":"refresh_token","refresh_token":"r","client_id":"c","expires_in":3600})");
}

TEST_CASE("time text: RFC 3339 UTC and a relative form") {
  CHECK(ckh::rfc3339_utc(1796416679) == "2026-12-04T20:37:59Z");
  CHECK(ckh::rfc3339_utc(0) == "1970-01-01T00:00:00Z");
  const std::int64_t now = 1796416679;
  CHECK(ckh::relative_time(now, now) == "now");
  CHECK(ckh::relative_time(now + 240, now) == "in 4m");
  CHECK(ckh::relative_time(now - 240, now) == "4m ago");
  CHECK(ckh::relative_time(now + 5400, now) == "in 1h30m");
  CHECK(ckh::relative_time(now + 3605, now) == "in 1h");
  CHECK(ckh::relative_time(now - 2 * 86400 - 3 * 3600 - 7, now) == "2d3h ago");
  CHECK(ckh::relative_time(now + 45, now) == "in 45s");
  CHECK(ckh::time_and_relative(now + 240, now) == "2026-12-04T20:41:59Z (in 4m)");
  // The extremes of int64 neither overflow nor trap.
  CHECK(!ckh::relative_time(INT64_MAX, INT64_MIN).empty());
  CHECK(!ckh::relative_time(INT64_MIN, INT64_MAX).empty());
}

TEST_CASE("time text: a configured duration, exact, in the config's units") {
  CHECK(ckh::duration_text(240) == "4m");
  CHECK(ckh::duration_text(600) == "10m");
  CHECK(ckh::duration_text(3600) == "1h");
  CHECK(ckh::duration_text(3725) == "1h2m5s");  // nothing dropped, unlike relative_time
  CHECK(ckh::duration_text(86400 + 7200 + 180 + 4) == "1d2h3m4s");
  CHECK(ckh::duration_text(45) == "45s");
  CHECK(ckh::duration_text(0) == "0s");
  CHECK(ckh::duration_text(-90) == "-1m30s");
  CHECK(!ckh::duration_text(INT64_MIN).empty());
}

TEST_CASE("status health: the verdict per profile and the worst of them") {
  const std::int64_t now = 1796416679;
  ckh::ProfileReport fresh;
  fresh.record = ckh::CredentialRecord{};
  fresh.record->expires_at = now + 3600;
  CHECK(ckh::profile_health(fresh, now) == ckh::Health::ok);

  ckh::ProfileReport stale = fresh;
  stale.status.error_class = ckh::ErrorClass::transient;
  CHECK(ckh::profile_health(stale, now) == ckh::Health::stale);

  ckh::ProfileReport expired = stale;
  expired.record->expires_at = now - 1;
  CHECK(ckh::profile_health(expired, now) == ckh::Health::unavailable);

  ckh::ProfileReport none;
  CHECK(ckh::profile_health(none, now) == ckh::Health::unavailable);
  none.status.error_class = ckh::ErrorClass::permanent;
  CHECK(ckh::profile_health(none, now) == ckh::Health::refused);
  none.status.error_class = ckh::ErrorClass::config;
  CHECK(ckh::profile_health(none, now) == ckh::Health::config);

  // A P.cred the helper refuses as unsafe (it exits 77) is refused here too; a corrupt
  // one is replaced by the next refresh: unavailable, as the helper's "try later".
  ckh::ProfileReport unsafe_cred;
  unsafe_cred.record_problem = "P.cred is a symbolic link";
  unsafe_cred.record_problem_kind = ckh::ErrorClass::unsafe;
  CHECK(ckh::profile_health(unsafe_cred, now) == ckh::Health::refused);
  ckh::ProfileReport corrupt_cred;
  corrupt_cred.record_problem = "P.cred is malformed";
  corrupt_cred.record_problem_kind = ckh::ErrorClass::corrupt;
  CHECK(ckh::profile_health(corrupt_cred, now) == ckh::Health::unavailable);
  CHECK(ckh::health_exit_code(ckh::Health::ok) == 0);
  CHECK(ckh::health_exit_code(ckh::Health::stale) == 75);
  CHECK(ckh::health_exit_code(ckh::Health::unavailable) == 69);
  CHECK(ckh::health_exit_code(ckh::Health::refused) == 77);
  CHECK(ckh::health_exit_code(ckh::Health::config) == 78);
  CHECK(ckh::worst_health({fresh, stale}, now) == ckh::Health::stale);
  CHECK(ckh::worst_health({stale, expired, fresh}, now) == ckh::Health::unavailable);
  CHECK(ckh::worst_health({}, now) == ckh::Health::ok);

  // A stopped profile says it waits for a fix; no "backoff until" beside that.
  ckh::ProfileReport stopped = none;
  stopped.name = "s";
  stopped.status.error_class = ckh::ErrorClass::permanent;
  stopped.status.backoff_until = now + 300;
  stopped.stopped = true;
  const std::string stopped_text = ckh::format_report_text({stopped}, now);
  CHECK_THAT(stopped_text, Catch::Contains("none automatically"));
  CHECK_THAT(stopped_text, !Catch::Contains("backoff until"));
  stopped.stopped = false;  // a transient backoff does show its end
  CHECK_THAT(ckh::format_report_text({stopped}, now), Catch::Contains("backoff until"));

  // status --json carries the verdict, and stays valid JSON over any bytes.
  stale.name = "n\xff";
  stale.status.last_error = "stderr: \xff\xfe";
  const std::string json = ckh::format_report_json({fresh, stale}, now);
  CHECK(parses_as_utf8_json(json));
  CHECK(json.find(R"("health":"stale","exit_code":75)") != std::string::npos);
  CHECK(json.find(R"("expires_at_utc":"2026-12-04T21:37:59Z")") != std::string::npos);
}
