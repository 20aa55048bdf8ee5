// The account commands of an `anthropic-oauth` profile: login, import-claude-code, logout.
// Guarantees:
// - login and import write the new token family to P.secret durably under P.lock and then
//   publish through the normal refresh (refresh.cpp), so generations stay monotonic and the
//   claude-code sink is updated under Claude Code's lock like any other refresh;
// - import-claude-code takes Claude Code's lock, reads its store, and makes this profile the
//   family's single writer (owns_claude_code_store: the sink is on from then on);
// - logout removes P.secret and P.cred (and, with claude_code, the claudeAiOauth entry of
//   Claude Code's store, keeping every other key): nothing logged-out is left behind; its
//   text names what was really removed ("nothing to remove" when nothing was there) and a
//   Claude Code login it was not asked to remove;
// - the returned text is for the user and never holds a token.
// Callers: refresher/main.cpp.
#pragma once

#include <string>

#include "refresher/config.h"
#include "refresher/oauth/login.h"
#include "shared/paths.h"

namespace ckh {

Result<std::string> login_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                  const LoginOptions& options);
Result<std::string> import_claude_code(const ProfileConfig& profile, const ProfilePaths& paths);
Result<std::string> logout_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                   bool claude_code);

}  // namespace ckh
