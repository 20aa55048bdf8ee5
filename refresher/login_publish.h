// The end of every login (anthropic-oauth PKCE or import, oauth2 device code or a stored
// client secret): the new secret state saved durably under P.lock into the profile's secret
// store, the previous account's published credential removed, earlier failures and their
// backoff cleared (the user acted), then a normal refresh (refresh.cpp) publishes the next
// generation. Guarantees: nothing is published unless the state was saved; the returned
// warning is the secret store's problem (the keyring could not take it: it is in P.secret),
// empty when none; messages never hold a secret. Callers: oauth/account.cpp,
// oauth2/oauth2_account.cpp.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/config.h"
#include "shared/error.h"
#include "shared/paths.h"

namespace ckh {

struct SavedLogin {
  std::string store_warning;  // empty: saved where secret_store says
};

Result<SavedLogin> save_login_and_publish(const ProfileConfig& profile, const ProfilePaths& paths,
                                          const std::string& secret_state);

// "; the tokens are in the keyring (...)" and the warning, for the login's closing line.
std::string where_login_went(const ProfilePaths& paths, const SavedLogin& saved);

// "profile 'P': logged out; removed A, B and C<tail>", or, with nothing removed,
// "profile 'P': nothing to remove: <nothing><tail>": what a logout says it did.
std::string logout_text(const std::string& profile, const std::vector<std::string>& removed,
                        std::string_view nothing, std::string_view tail);

// The removal half of every logout: under P.lock, `first` (when set: say, revoking at the
// IdP) runs, then the secret state (secret_store.h) and P.cred are removed. Returns what was
// really there and is gone now, for logout_text. No state dir: nothing to remove and no lock
// to take (`first` does not run).
Result<std::vector<std::string>> remove_saved_login(const ProfileConfig& profile,
                                                    const ProfilePaths& paths,
                                                    const std::function<void()>& first = {});

// True when the file was there and is removed now; false when there was none.
Result<bool> remove_existing(const std::string& path);

}  // namespace ckh
