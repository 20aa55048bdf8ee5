// The content of a profile's keyring item (secret_store = "keyring"): the profile's secret
// state (what P.secret holds with secret_store = "file") behind a short header that lets a
// read tell a complete, unaltered item of this profile from anything else.
//
//   claude-key-helper-secret v1
//   profile: <profile name>
//   bytes: <length of the state>
//   sha256: <64 hex digits of the state's SHA-256>
//   end
//   <the state, exactly that many bytes, any content>
//
// Guarantees: parse_secret_item accepts exactly what serialize_secret_item produces for the
// same profile, and returns the state byte for byte; anything else (another profile's item,
// a truncated or padded state, a changed byte, a header it does not know) is an
// ErrorClass::corrupt error whose message holds no part of the item. The SHA-256 stays
// inside the encrypted item: it is never written anywhere else.
// Callers: refresher/secret_store.cpp; tests/fuzz/fuzz_secret_item.cpp checks the round trip.
#pragma once

#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

inline constexpr std::string_view kSecretItemMagic = "claude-key-helper-secret";

std::string serialize_secret_item(std::string_view profile, std::string_view state);

Result<std::string> parse_secret_item(std::string_view item, std::string_view profile);

}  // namespace ckh
