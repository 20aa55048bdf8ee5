#include "refresher/keyring/secret_item.h"

#include <openssl/evp.h>

#include <array>

#include "shared/kv_lines.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr unsigned kSecretItemVersion = 1;
constexpr std::array<std::string_view, 3> kKeys = {"profile", "bytes", "sha256"};
constexpr std::string_view kHeaderEnd = "\nend\n";

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), size));
}

Error corrupt(std::string_view what) {
  return Error{ErrorClass::corrupt, "the keyring item is not a secret state of this profile (" +
                                        std::string(what) + ")"};
}

}  // namespace

std::string serialize_secret_item(std::string_view profile, std::string_view state) {
  const std::string bytes = to_decimal(static_cast<std::uint64_t>(state.size()));
  const std::string digest = sha256_hex(state);
  const std::array<KvLine, 3> lines = {KvLine{kKeys[0], profile}, KvLine{kKeys[1], bytes},
                                       KvLine{kKeys[2], digest}};
  std::string out = write_kv_lines(kSecretItemMagic, kSecretItemVersion, lines);
  out.append(state);
  return out;
}

Result<std::string> parse_secret_item(std::string_view item, std::string_view profile) {
  const auto end = item.find(kHeaderEnd);
  if (end == std::string_view::npos) return std::unexpected(corrupt("no header"));
  const std::string_view header = item.substr(0, end + kHeaderEnd.size());
  const std::string_view state = item.substr(end + kHeaderEnd.size());
  auto lines = parse_kv_lines(header, kSecretItemMagic, kSecretItemVersion, kKeys);
  if (!lines) return std::unexpected(corrupt("unreadable header"));
  if ((*lines)[0].value != profile) return std::unexpected(corrupt("another profile's item"));
  // The writer's own spelling of the length: one text per state.
  if ((*lines)[1].value != to_decimal(static_cast<std::uint64_t>(state.size()))) {
    return std::unexpected(corrupt("wrong length"));
  }
  if ((*lines)[2].value != sha256_hex(state)) return std::unexpected(corrupt("checksum mismatch"));
  return std::string(state);
}

}  // namespace ckh
