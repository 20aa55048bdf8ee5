#include "refresher/env_lookup.h"

#include <cstdlib>

namespace ckh {

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> env_nonempty(EnvLookup env, const char* name) {
  if (env == nullptr) return std::nullopt;
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

}  // namespace ckh
