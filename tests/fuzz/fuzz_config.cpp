// libFuzzer target: parse_config on arbitrary bytes must return a Config or problems, never
// crash, hang, throw or leak. The environment is empty, so nothing falls back to a default
// and no backend reads anything real (factories do not touch the file system).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/config.h"

namespace {

std::optional<std::string> no_environment(const char*) {
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ckh::parse_config(text, "fuzz.toml", no_environment);
  if (!config) {
    // Every problem must render as one line.
    for (const auto& problem : config.error()) {
      const std::string line = problem.to_string();
      if (line.find('\n') != std::string::npos) __builtin_trap();
    }
  } else if (config->profiles.empty()) {
    __builtin_trap();  // a Config always holds at least one profile
  }
  return 0;
}
