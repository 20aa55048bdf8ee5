// libFuzzer target for the credential record (shared/record.h), the helper's only input.
// Properties checked on every input (a violation is __builtin_trap, i.e. a crash):
// 1. parse_record never crashes, leaks or trips a sanitizer, whatever the bytes.
// 2. A refusal is ErrorClass::corrupt with a one-line message (the helper maps corrupt to
//    exit 65 and prints the message on one line).
// 3. What parses satisfies the record's contract: generation >= 1, a valid credential,
//    one-line backend and source.
// 4. Round trip: serialize_record(parsed) parses again to an identical record, and
//    serializing that gives the same bytes (the writer's output is a fixed point).
// 5. The writer's side: a record built from the same bytes the way the refresher builds
//    one (a validated credential, source through one_line, any generation >= 1, any
//    times) serializes to text that parse_record accepts and returns unchanged: the
//    refresher can never publish a record the helper refuses.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"
#include "shared/record.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool same(const ckh::CredentialRecord& a, const ckh::CredentialRecord& b) {
  return a.generation == b.generation && a.backend == b.backend && a.source == b.source &&
         a.source_fingerprint == b.source_fingerprint && a.fetched_at == b.fetched_at &&
         a.expires_at == b.expires_at && a.credential == b.credential;
}

void check_round_trip(const ckh::CredentialRecord& record) {
  const std::string text = ckh::serialize_record(record);
  auto again = ckh::parse_record(text);
  CKH_FUZZ_CHECK_SHOW(again, "parse_record refuses what serialize_record wrote", "serialized",
                      text);
  CKH_FUZZ_CHECK_SHOW(same(record, *again), "a field changed in serialize_record -> parse_record",
                      "serialized", text);
  CKH_FUZZ_CHECK(ckh::serialize_record(*again) == text,
                 "serialize_record output is not a fixed point");
}

void text_direction(std::string_view text) {
  auto record = ckh::parse_record(text);
  if (!record) {
    CKH_FUZZ_CHECK(record.error().kind == ckh::ErrorClass::corrupt,
                   "a refused record is not ErrorClass::corrupt");
    CKH_FUZZ_CHECK(record.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
    return;
  }
  CKH_FUZZ_CHECK(record->generation != 0, "parse_record accepted generation 0");
  CKH_FUZZ_CHECK(ckh::validate_credential(record->credential).has_value(),
                 "parse_record accepted an invalid credential");
  for (const std::string* line : {&record->backend, &record->source}) {
    if (line->find('\n') != std::string::npos || line->find('\r') != std::string::npos ||
        line->find('\0') != std::string::npos) {
      CKH_FUZZ_CHECK(false, "parse_record accepted a backend or source with NUL, CR or LF");
    }
  }
  check_round_trip(*record);
}

void writer_direction(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  ckh::CredentialRecord record;
  record.generation = input.ConsumeIntegral<std::uint64_t>();
  if (record.generation == 0) record.generation = 1;
  record.fetched_at = input.ConsumeIntegral<std::int64_t>();
  if (input.ConsumeBool()) record.expires_at = input.ConsumeIntegral<std::int64_t>();
  record.backend = ckh::one_line(input.ConsumeRandomLengthString(64), 64);
  record.source = ckh::one_line(input.ConsumeRandomLengthString(256), 200);
  // The source fingerprint: none, or 16 hex digits as source_fingerprint() makes them.
  if (input.ConsumeBool()) {
    auto bits = input.ConsumeIntegral<std::uint64_t>();
    for (int digit = 0; digit < 16; ++digit, bits >>= 4)
      record.source_fingerprint += "0123456789abcdef"[bits & 0xf];
  }
  // The credential: any printable token, as validate_credential demands before publishing.
  std::string credential = input.ConsumeRemainingBytesAsString();
  if (credential.size() > ckh::kMaxCredentialBytes) credential.resize(ckh::kMaxCredentialBytes);
  for (char& c : credential) c = static_cast<char>(0x21 + static_cast<unsigned char>(c) % 94);
  if (credential.empty()) credential = "k";
  record.credential = std::move(credential);
  check_round_trip(record);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  text_direction(std::string_view(reinterpret_cast<const char*>(data), size));
  writer_direction(data, size);
  return 0;
}
