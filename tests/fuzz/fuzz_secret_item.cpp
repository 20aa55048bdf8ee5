// libFuzzer target for the keyring item's serialized form (refresher/keyring/secret_item.h):
// what a keyring daemon, or anyone who can write to the user's keyring, hands back.
// Properties checked on every input (a violation is __builtin_trap, i.e. a crash):
// 1. parse_secret_item never crashes, leaks or trips a sanitizer, whatever the bytes.
// 2. A refusal is ErrorClass::corrupt with a one-line message (fixed texts: nothing of the
//    item, which is a secret).
// 3. What parses round-trips: serialize_secret_item(profile, parsed) is the input itself.
// 4. The writer's side: any state (binary, empty, newlines, "end" lines) serializes to an
//    item that parses back to exactly that state, and to nothing for another profile; a
//    single changed, dropped or added byte of the state is refused.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "refresher/keyring/secret_item.h"
#include "shared/error.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kProfile = "max";

void text_direction(std::string_view text) {
  auto state = ckh::parse_secret_item(text, kProfile);
  if (!state) {
    CKH_FUZZ_CHECK(state.error().kind == ckh::ErrorClass::corrupt,
                   "a refused item is not ErrorClass::corrupt");
    CKH_FUZZ_CHECK(state.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
    return;
  }
  CKH_FUZZ_CHECK(ckh::serialize_secret_item(kProfile, *state) == text,
                 "an accepted item is not what serialize_secret_item writes for its state");
}

void writer_direction(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const auto tweak_at = input.ConsumeIntegral<std::uint16_t>();
  const auto tweak = input.ConsumeIntegralInRange<int>(0, 2);
  const std::string state = input.ConsumeRemainingBytesAsString();
  const std::string item = ckh::serialize_secret_item(kProfile, state);
  auto back = ckh::parse_secret_item(item, kProfile);
  CKH_FUZZ_CHECK(back && *back == state, "serialize -> parse changed the state");
  CKH_FUZZ_CHECK(!ckh::parse_secret_item(item, "other"), "another profile's item was accepted");
  // One byte of the state part changed, dropped or added: refused.
  const std::size_t state_start = item.size() - state.size();
  std::string altered = item;
  if (tweak == 0 && !state.empty()) {
    altered[state_start + tweak_at % state.size()] ^= 0x01;
  } else if (tweak == 1 && !state.empty()) {
    altered.erase(state_start + tweak_at % state.size(), 1);
  } else {
    altered.insert(state_start + (state.empty() ? 0 : tweak_at % (state.size() + 1)), 1, 'x');
  }
  CKH_FUZZ_CHECK(!ckh::parse_secret_item(altered, kProfile), "an altered state was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  text_direction(std::string_view(reinterpret_cast<const char*>(data), size));
  writer_direction(data, size);
  return 0;
}
