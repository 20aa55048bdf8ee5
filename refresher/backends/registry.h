// The backends the configuration knows, by the name used in `backend = "..."`.
// Contract for a backend's factory (one per backends/<name>_backend.cpp):
// - it reads its own section [profile.P.<name>] through the ConfigSection, calling a getter
//   (or has()) for EVERY key it supports before deciding anything, because afterwards
//   config.cpp reports every key no getter asked for as unknown;
// - it reports each problem through the section (file:line:column is added there) and
//   returns null when it reported one; otherwise a ready Backend;
// - it never touches the network or the file system (check-config and the fuzzer call it);
// - the section may be absent (present() false) when the profile has no such table.
// Adding a backend: one file pair + one line in registry.cpp. Callers: config.cpp.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/backend.h"
#include "refresher/config.h"
#include "refresher/config_section.h"

namespace ckh {

// The names of every environment variable that holds a secret for ANY profile: the
// well-known ones (kCredentialEnvNames, child_env.h) plus each backend's
// secret_env_names(). config.cpp creates it empty, hands it to every factory, and fills it
// once all profiles are parsed; it is read-only from then on. Backends that start child processes
// keep it and remove these names from the child's environment at fetch time.
using SecretEnvNames = std::shared_ptr<const std::vector<std::string>>;

struct BackendContext {
  std::string_view profile;  // the profile name, for messages
  EnvLookup env;             // the environment at configuration time (e.g. HOME)
  SecretEnvNames secret_env_names;
};

using BackendFactory = std::unique_ptr<Backend> (*)(ConfigSection& section,
                                                    const BackendContext& context);

struct BackendEntry {
  std::string_view name;
  BackendFactory make;
};

std::span<const BackendEntry> registered_backends();
const BackendEntry* find_backend(std::string_view name);  // null when unknown
// "\"static\" or \"command\"", for messages.
std::string describe_known_backends();

}  // namespace ckh
