#include "refresher/oauth/browser.h"

#include <cstdlib>

#include "refresher/child_env.h"
#include "refresher/child_process.h"

namespace ckh {

bool has_display() {
#ifdef __APPLE__
  return true;
#else
  auto set = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0';
  };
  return set("DISPLAY") || set("WAYLAND_DISPLAY");
#endif
}

bool open_in_browser(const std::string& url) {
#ifdef __APPLE__
  const char* opener = "open";
#else
  const char* opener = "xdg-open";
#endif
  const char* path = std::getenv("PATH");
  auto executable = find_executable(opener, path != nullptr ? path : "/usr/bin:/bin");
  if (!executable) return false;
  ChildSpec spec;
  spec.executable = *executable;
  spec.argv = {opener, url};
  // The browser (and whatever desktop helper xdg-open hands the URL to) gets no secret.
  spec.environment = child_environment(ChildRole::ordinary);
  spec.timeout = std::chrono::milliseconds(10'000);
  auto outcome = run_child(spec);
  return outcome && outcome->end == ChildEnd::exited && outcome->exit_code == 0;
}

}  // namespace ckh
