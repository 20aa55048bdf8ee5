// Opening a URL in the user's browser for an interactive login (the Anthropic PKCE login,
// an IdP's device verification page). Guarantees: has_display is true on macOS, and
// elsewhere only when DISPLAY or WAYLAND_DISPLAY is set; open_in_browser runs xdg-open (open
// on macOS) found on PATH, bounded to 10 s, with an environment holding no secret
// (child_env.h), and says whether it exited 0. Callers: oauth/login.cpp, oauth2/device_login.cpp.
#pragma once

#include <string>

namespace ckh {

bool has_display();
bool open_in_browser(const std::string& url);

}  // namespace ckh
