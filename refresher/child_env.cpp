#include "refresher/child_env.h"

#include <algorithm>
#include <mutex>
#include <set>

extern char** environ;

namespace ckh {
namespace {

struct Registry {
  std::mutex mutex;
  std::set<std::string, std::less<>> names;
};

Registry& registry() {
  static Registry instance;  // never destroyed before the last child is started
  return instance;
}

template <typename Names>
bool listed(const Names& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

void register_secret_env_names(std::span<const std::string> names) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  for (const auto& name : names) {
    if (!name.empty()) r.names.insert(name);
  }
}

std::vector<std::string> child_environment(ChildRole role, std::span<const std::string> also_drop) {
  const bool keep_aws = role == ChildRole::aws_credential_source;
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    if (keep_aws && listed(kAwsSecretEnvNames, name)) {
      // Registered too when an aws-secretsmanager profile exists: its own source keeps them.
      entries.emplace_back(text);
      continue;
    }
    if (listed(kCredentialEnvNames, name) || listed(kAwsSecretEnvNames, name) ||
        r.names.contains(name) || listed(also_drop, name)) {
      continue;
    }
    entries.emplace_back(text);
  }
  return entries;
}

}  // namespace ckh
