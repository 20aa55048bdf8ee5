#include "refresher/backends/registry.h"

#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/backends/aws_secretsmanager_backend.h"
#include "refresher/backends/command_backend.h"
#include "refresher/backends/oauth2_backend.h"
#include "refresher/backends/static_backend.h"
#include "refresher/backends/vault_backend.h"

namespace ckh {
namespace {

constexpr std::array<BackendEntry, 6> kBackends{{
    {"static", &make_static_backend},
    {"command", &make_command_backend},
    {"anthropic-oauth", &make_anthropic_oauth_backend},
    {"oauth2", &make_oauth2_backend},
    {"vault", &make_vault_backend},
    {"aws-secretsmanager", &make_aws_secretsmanager_backend},
}};

}  // namespace

std::span<const BackendEntry> registered_backends() {
  return kBackends;
}

const BackendEntry* find_backend(std::string_view name) {
  for (const auto& entry : kBackends) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::string describe_known_backends() {
  std::string text;
  for (std::size_t i = 0; i < kBackends.size(); ++i) {
    if (i > 0) text += i + 1 == kBackends.size() ? " or " : ", ";
    text += '"';
    text += kBackends[i].name;
    text += '"';
  }
  return text;
}

}  // namespace ckh
