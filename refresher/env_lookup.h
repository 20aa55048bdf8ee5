// Environment access for the refresher's backends and sinks.
// Contract: every reader of the process environment goes through an EnvLookup so tests can
// inject one without changing the real environment. process_env is the production lookup;
// env_nonempty treats an empty value as unset (VAULT_ADDR="" is as good as unset, as for the
// tools whose conventions the backends follow). Used by config, the backends and the sinks.
#pragma once

#include <optional>
#include <string>

namespace ckh {

using EnvLookup = std::optional<std::string> (*)(const char* name);

std::optional<std::string> process_env(const char* name);

// The variable's value when env is set and the variable is set and not empty.
std::optional<std::string> env_nonempty(EnvLookup env, const char* name);

}  // namespace ckh
