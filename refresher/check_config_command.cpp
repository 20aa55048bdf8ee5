#include "refresher/check_config_command.h"

#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "refresher/caller_ttl.h"
#include "refresher/config.h"
#include "refresher/config_probe.h"
#include "refresher/http/curl_transport.h"
#include "refresher/json_writer.h"
#include "shared/paths.h"
#include "shared/time_text.h"

namespace ckh {
namespace {

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

Json profile_json(const ProfileConfig& profile) {
  Json out = Json::object();
  out["name"] = profile.name;
  out["backend"] = profile.backend->name();
  if (const auto lifetime = profile.backend->expected_lifetime()) {
    out["credential_lifetime_seconds"] = lifetime->count();
  } else {
    out["credential_lifetime_seconds"] = nullptr;
  }
  out["refresh_interval_seconds"] = profile.refresh_interval.count();
  out["refresh_before_expiry_seconds"] = profile.refresh_before_expiry.count();
  return out;
}

// Problems: each on stderr, then the count; or one JSON object on stdout.
bool report_problems(const CheckConfigRequest& request, const std::vector<std::string>& problems,
                     const Json* valid_part) {
  if (request.json) {
    Json out = valid_part != nullptr ? *valid_part : Json::object();
    if (valid_part == nullptr) out["config"] = request.config_path;
    out["ok"] = false;
    out["problems"] = Json::array();
    for (const auto& problem : problems) out["problems"].push_back(problem);
    write_out(json_text(out) + "\n");
  }
  for (const auto& problem : problems)
    std::fprintf(stderr, "claude-key-refresher: %s\n", problem.c_str());
  std::fprintf(stderr, "claude-key-refresher: %zu problem(s) in %s\n", problems.size(),
               request.config_path.empty() ? "the configuration" : request.config_path.c_str());
  return false;
}

}  // namespace

bool check_config_command(const CheckConfigRequest& request) {
  auto config = load_config(request.config_path);
  if (!config) {
    std::vector<std::string> problems;
    for (const auto& problem : config.error()) problems.push_back(problem.to_string());
    return report_problems(request, problems, nullptr);
  }
  std::vector<const ProfileConfig*> profiles;
  if (request.profile.empty()) {
    for (const auto& [_, profile] : config->profiles) profiles.push_back(&profile);
  } else if (auto found = config->profiles.find(request.profile); found != config->profiles.end()) {
    profiles.push_back(&found->second);
  } else {
    std::string known;
    for (const auto& [name, _] : config->profiles) known += (known.empty() ? "" : ", ") + name;
    return report_problems(
        request,
        {fmt::format("no profile '{}' in {} (profiles: {})", request.profile,
                     config->path.empty() ? "the default configuration" : config->path, known)},
        nullptr);
  }

  // Not errors: the configuration works, but costs more than it should.
  const CallerTtl ttl = caller_ttl();
  std::vector<std::string> warnings;
  for (const ProfileConfig* profile : profiles) {
    if (auto warning = short_lifetime_warning(*profile, ttl))
      warnings.push_back(std::move(*warning));
  }
  std::vector<std::string> problems;
  if (request.probe) {
    CurlTransport transport;
    problems = probe_profiles(profiles, process_env, transport);
  }

  Json out = Json::object();
  out["config"] = config->path;
  out["system_wide"] = config->system_wide;
  out["ok"] = problems.empty();
  out["defaulted"] = config->defaulted;
  out["profiles"] = Json::array();
  for (const ProfileConfig* profile : profiles) out["profiles"].push_back(profile_json(*profile));
  out["warnings"] = Json::array();
  for (const auto& warning : warnings) out["warnings"].push_back(warning);
  if (request.probe) out["probed"] = true;
  if (!problems.empty()) return report_problems(request, problems, &out);

  if (request.json) {
    write_out(json_text(out) + "\n");
    return true;
  }
  if (config->defaulted) {
    std::printf(
        "%s: no profiles configured; using the default profile (static backend on "
        "ANTHROPIC_API_KEY)\n",
        config->path.empty() ? "no config file" : config->path.c_str());
  } else {
    std::printf("%s: OK (%zu profile(s))\n", config->path.c_str(), profiles.size());
  }
  if (config->system_wide) {
    const auto own = config_path();
    std::printf(
        "  the system-wide config (root's, for every user without a config of their "
        "own%s%s)\n",
        own ? " at " : "", own ? own->c_str() : "");
  }
  for (const ProfileConfig* p : profiles) {
    std::printf("  %s: backend %s, refresh every %s or %s before expiry\n", p->name.c_str(),
                p->backend->name(), duration_text(p->refresh_interval.count()).c_str(),
                duration_text(p->refresh_before_expiry.count()).c_str());
  }
  if (request.probe) std::printf("  probe: every file, program and endpoint checked is usable\n");
  for (const auto& warning : warnings) std::printf("  warning: %s\n", warning.c_str());
  return true;
}

}  // namespace ckh
