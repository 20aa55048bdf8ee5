// The credential record, the status record, the shared line format and the helper<->refresher
// protocol: round trips and every refusal.
#include <catch2/catch.hpp>

#include "shared/record.h"
#include "shared/refresh_protocol.h"
#include "shared/status_record.h"
#include "shared/text.h"

using namespace ckh;

namespace {
CredentialRecord sample() {
  CredentialRecord r;
  r.generation = 7;
  r.backend = "static";
  r.source = "env ANTHROPIC_API_KEY";
  r.fetched_at = 1763790000;
  r.expires_at = 1763793600;
  r.credential = "sk-ant-api03-abcdefghijklmnop";
  return r;
}
}  // namespace

TEST_CASE("record: serialize then parse gives the same record") {
  const auto r = sample();
  const std::string text = serialize_record(r);
  CHECK(text ==
        "claude-key-helper-cred v2\ngeneration: 7\nbackend: static\nsource: env ANTHROPIC_API_KEY\n"
        "source_fingerprint: none\nfetched_at: 1763790000\nexpires_at: 1763793600\ncredential: "
        "sk-ant-api03-abcdefghijklmnop\nend\n");
  auto parsed = parse_record(text);
  REQUIRE(parsed);
  CHECK(parsed->generation == 7);
  CHECK(parsed->backend == "static");
  CHECK(parsed->source == "env ANTHROPIC_API_KEY");
  CHECK(parsed->fetched_at == 1763790000);
  CHECK(parsed->expires_at == 1763793600);
  CHECK(parsed->credential == r.credential);
}

TEST_CASE("record: headers make a version 3 record; names, order and odd values survive") {
  auto r = sample();
  r.headers = {{"X-Org", "acme corp 100%"}, {"x-team", "a:b=c;d\"e"}, {"X-Empty", ""}};
  const std::string text = serialize_record(r);
  CHECK(text.starts_with("claude-key-helper-cred v3\n"));
  CHECK(text.find("\nheaders: X-Org:acme%20corp%20100%25 x-team:a:b=c;d\"e X-Empty:\n") !=
        std::string::npos);
  auto parsed = parse_record(text);
  REQUIRE(parsed);
  CHECK(parsed->headers == r.headers);
  CHECK(parsed->credential == r.credential);
  CHECK(parsed->expires_at == r.expires_at);
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK_FALSE(parse_record(std::string_view(text).substr(0, cut)));
  }
  const auto with_headers = [&](std::string_view line) {
    std::string variant = text;
    const auto start = variant.find("headers: ") + 9;
    variant.replace(start, variant.find('\n', start) - start, line);
    return parse_record(variant);
  };
  CHECK(with_headers("none"));
  CHECK(with_headers("none")->headers.empty());
  for (const char* bad : {"", "X-Org", "X Org:v", "X-Org:%2", "X-Org:%zz", "X-Org:%20v",
                          "X-Org:%0A", "X-Org:a ", "(bad):v", "X-Org:v  Y:w"}) {
    INFO(bad);
    auto refused = with_headers(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorClass::corrupt);
  }
}

TEST_CASE("record: header names and values a profile may hold") {
  CHECK(valid_header_name("X-Org_Id.1"));
  CHECK_FALSE(valid_header_name(""));
  CHECK_FALSE(valid_header_name("X Org"));
  CHECK_FALSE(valid_header_name("X:Org"));
  CHECK_FALSE(valid_header_name(std::string(65, 'a')));
  CHECK(valid_header_value("a b"));
  CHECK(valid_header_value(""));
  CHECK_FALSE(valid_header_value(" a"));
  CHECK_FALSE(valid_header_value("a\tb"));
  CHECK_FALSE(valid_header_value("caf\xc3\xa9"));
  CHECK_FALSE(valid_header_value(std::string(1025, 'a')));
}

TEST_CASE("record: expires_at none round-trips as no expiry") {
  auto r = sample();
  r.expires_at.reset();
  auto parsed = parse_record(serialize_record(r));
  REQUIRE(parsed);
  CHECK_FALSE(parsed->expires_at.has_value());
}

TEST_CASE("record: every truncation of a valid record is refused as corrupt") {
  const std::string text = serialize_record(sample());
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    auto parsed = parse_record(std::string_view(text).substr(0, cut));
    INFO("cut at " << cut);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::corrupt);
  }
}

TEST_CASE("record: malformed variants are refused as corrupt") {
  const std::string good = serialize_record(sample());
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  const std::vector<std::string> bad = {
      replace("v2", "v3"),  // unknown version
      replace("claude-key-helper-cred", "claude-key-helper-crud"),
      replace("generation: 7", "generation: -7"),
      replace("generation: 7", "generation: 0"),
      replace("generation: 7", "generation: 99999999999999999999999"),
      replace("generation: 7", "generation 7"),
      replace("fetched_at: 1763790000", "fetched_at: soon"),
      replace("expires_at: 1763793600", "expires_at: "),
      replace("credential: sk", "credential: s k"),
      replace("credential: sk-ant-api03-abcdefghijklmnop", "credential: "),
      replace("backend: static\n", ""),                                    // missing key
      replace("backend: static\n", "backend: static\nbackend: static\n"),  // extra key
      good + "x",                                                          // bytes after end
      replace("\n", "\r\n"),
      replace("static", std::string("sta\0tic", 7)),
  };
  for (const auto& text : bad) {
    INFO(text);
    auto parsed = parse_record(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::corrupt);
  }
}

TEST_CASE("record: the corrupt message never quotes the credential") {
  std::string text = serialize_record(sample());
  text.replace(text.find("abcdef"), 1, " ");
  auto parsed = parse_record(text);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message.find("ghijklmnop") == std::string::npos);
}

TEST_CASE("validate_credential: empty, too long, white space, control and non-ASCII are refused") {
  CHECK(validate_credential("sk-ant-api03-x"));
  CHECK(validate_credential(std::string(16384, 'a')));
  CHECK_FALSE(validate_credential(""));
  CHECK_FALSE(validate_credential(std::string(16385, 'a')));
  for (std::string bad : {"a b", "a\tb", "a\nb", "a\x7f", "a\x01", "caf\xc3\xa9"}) {
    INFO(bad);
    auto result = validate_credential(bad);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(result.error().message.find(bad) == std::string::npos);
  }
}

TEST_CASE("status record: round trip with and without errors") {
  StatusRecord s;
  s.updated_at = 100;
  s.last_attempt_at = 90;
  s.consecutive_failures = 3;
  s.error_class = ErrorClass::transient;
  s.last_error = "command exited 2: boom";
  s.backoff_until = 130;
  s.last_generation = 12;
  auto parsed = parse_status(serialize_status(s));
  REQUIRE(parsed);
  CHECK(parsed->last_attempt_at == 90);
  CHECK_FALSE(parsed->last_success_at.has_value());
  CHECK(parsed->consecutive_failures == 3);
  CHECK(parsed->error_class == ErrorClass::transient);
  CHECK(parsed->last_error == "command exited 2: boom");
  CHECK(parsed->backoff_until == 130);
  CHECK(parsed->last_generation == 12);
  StatusRecord clean;
  auto parsed_clean = parse_status(serialize_status(clean));
  REQUIRE(parsed_clean);
  CHECK_FALSE(parsed_clean->error_class.has_value());
  CHECK(parsed_clean->last_error.empty());
}

TEST_CASE("status record: a multi-line error is folded to one line") {
  StatusRecord s;
  s.last_error = "line one\nline two\n\tline three";
  auto parsed = parse_status(serialize_status(s));
  REQUIRE(parsed);
  CHECK(parsed->last_error == "line one line two line three");
}

TEST_CASE("protocol: requests and replies round-trip; garbage is refused") {
  RefreshRequest request{RefreshReason::suspected_401, 41, 1763793600};
  const std::string line = format_request(request);
  CHECK(line == "refresh reason=suspected-401 seen=41 need_until=1763793600\n");
  auto parsed = parse_request(line);
  REQUIRE(parsed);
  CHECK(parsed->reason == RefreshReason::suspected_401);
  CHECK(parsed->seen_generation == 41);
  CHECK(parsed->need_until == 1763793600);

  auto ok = parse_reply(format_reply(RefreshReply{true, 42, ErrorClass::transient, {}}));
  REQUIRE(ok);
  CHECK(ok->ok);
  CHECK(ok->generation == 42);
  auto failed =
      parse_reply(format_reply(RefreshReply{false, 0, ErrorClass::permanent, "denied\nby server"}));
  REQUIRE(failed);
  CHECK_FALSE(failed->ok);
  CHECK(failed->error_class == ErrorClass::permanent);
  CHECK(failed->message == "denied by server");

  for (std::string bad :
       std::vector<std::string>{"", "refresh", "refresh reason=soon seen=1 need_until=2",
                                "refresh reason=due seen=x need_until=2",
                                "refresh reason=due seen=1 need_until=2 extra=3",
                                "refresh seen=1 reason=due need_until=2", std::string(2000, 'r')}) {
    CHECK_FALSE(parse_request(bad));
  }
  for (std::string bad : {"", "ok", "ok x", "failed", "failed nonsense msg", "okay 1"})
    CHECK_FALSE(parse_reply(bad));
}

TEST_CASE("text: redact removes the secret and any 12-byte piece of it") {
  const std::string secret = "sk-ant-api03-SECRETSECRETSECRET";
  CHECK(redact("error: " + secret + " rejected", secret) == "error: [redacted] rejected");
  const std::string partial = "token prefix sk-ant-api03-SECR... was bad";
  CHECK(redact(partial, secret).find("sk-ant-api03-SECR") == std::string::npos);
  CHECK(redact("nothing here", secret) == "nothing here");
  CHECK(redact("x", "") == "x");
}

TEST_CASE("text: one_line folds white space and cuts long text") {
  CHECK(one_line("  a \n\n b\tc  ", 100) == "a b c");
  CHECK(one_line(std::string(50, 'x'), 10) == "xxxxxxx...");
  // The tail (a hint) survives whole; the text before it is what is cut.
  CHECK(one_line_with_tail(std::string(50, 'x'), "; run: y", 20) == "xxxxxxxxx...; run: y");
  CHECK(one_line_with_tail("short", "; run: y", 20) == "short; run: y");
  CHECK(one_line_with_tail("abc", "0123456789", 8) == "abc01...");
  CHECK(parse_u64("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(parse_u64("18446744073709551616"));
  CHECK_FALSE(parse_u64("+1"));
  CHECK(parse_i64("-5") == -5);
  CHECK(to_decimal(INT64_MIN) == "-9223372036854775808");
}
