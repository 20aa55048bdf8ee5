// The real prober: local checks with stat/access and file_trust.h, endpoints through the HTTP
// transport seam (so tests probe a local TLS server with their own CA).
#include "refresher/config_probe.h"

#include "refresher/keyring/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "refresher/child_process.h"
#include "refresher/file_trust.h"
#include "shared/text.h"

namespace ckh {
namespace {

// What execvp would search when PATH is unset (as the command backend does).
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

std::string mode_text(mode_t mode) {
  return fmt::format("{:04o}", static_cast<unsigned>(mode & 07777));
}

}  // namespace

std::string url_origin(std::string_view url) {
  std::string_view scheme;
  if (url.starts_with("https://")) {
    scheme = "https://";
  } else if (url.starts_with("http://")) {
    scheme = "http://";
  } else {
    return {};
  }
  std::string_view rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (rest.empty()) return {};
  return std::string(scheme) + std::string(rest);
}

void RealProber::problem(std::string message) {
  problems_.push_back(profile_.empty() ? std::move(message)
                                       : "profile '" + profile_ + "': " + std::move(message));
}

bool RealProber::file(std::string_view what, const std::string& path, bool secret) {
  const std::string shown = one_line(path, 256);
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      problem(fmt::format("{} {} does not exist; create it or correct the path", what, shown));
    } else {
      problem(fmt::format("{} {} cannot be examined: {}", what, shown, std::strerror(error)));
    }
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    problem(fmt::format("{} {} is not a regular file", what, shown));
    return false;
  }
  if (::access(path.c_str(), R_OK) != 0) {
    problem(fmt::format("{} {} cannot be read by this user (mode {}, owner uid {})", what, shown,
                        mode_text(info.st_mode), info.st_uid));
    return false;
  }
  if (auto trusted = check_not_writable_by_others(path, what); !trusted) {
    problem(trusted.error().message);
    return false;
  }
  // What the private-file reader (secure_file.h) refuses: a link, another owner, any
  // group/other bit.
  struct stat link;
  if (secret && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    problem(fmt::format("{} {} is a symbolic link; name the file itself", what, shown));
    return false;
  }
  if (secret && info.st_uid != ::geteuid()) {
    problem(fmt::format("{} {} is owned by uid {}, not by you; run: chown {} {}", what, shown,
                        info.st_uid, ::geteuid(), shown));
    return false;
  }
  if (secret && (info.st_mode & 077) != 0) {
    problem(fmt::format("{} {} is readable by others (mode {}); run: chmod 600 {}", what, shown,
                        mode_text(info.st_mode), shown));
    return false;
  }
  return true;
}

bool RealProber::executable(std::string_view what, const std::string& name) {
  const auto path = env_ != nullptr ? env_("PATH") : std::nullopt;
  auto found = find_executable(name, path ? std::string_view(*path) : kDefaultPath);
  if (!found) {
    problem(fmt::format("{}: {}", what, found.error().message));
    return false;
  }
  return true;
}

bool RealProber::endpoint(std::string_view what, const std::string& url, const TlsOptions& tls) {
  const std::string origin = url_origin(url);
  if (origin.empty()) {
    problem(fmt::format("{} {} is not an http:// or https:// URL", what, url_host(url)));
    return false;
  }
  // The origin only, no header of ours: a TLS handshake and an HTTP answer of any status
  // show that the name resolves, the port answers and the certificate verifies.
  HttpRequest request;
  request.method = "GET";
  request.url = origin + "/";
  request.timeout = endpoint_timeout_;
  request.connect_timeout = std::min(endpoint_timeout_, std::chrono::milliseconds(5'000));
  request.tls = tls;
  auto response = transport_.send(request);
  if (!response) {
    problem(fmt::format("{} {} does not answer: {}", what, origin, response.error().message));
    return false;
  }
  return true;
}

std::vector<std::string> probe_profiles(const std::vector<const ProfileConfig*>& profiles,
                                        EnvLookup env, HttpTransport& transport) {
  RealProber prober(env, transport);
  for (const ProfileConfig* profile : profiles) {
    prober.set_profile(profile->name);
    if (profile->backend) profile->backend->probe(prober);
    // secret_store = "keyring": a keyring must answer on the session bus and take items now
    // (a headless machine has none: keyring_check says so, and what to set instead).
    if (profile->secret_store == SecretStore::keyring) {
      if (auto keyring = keyring_check(); !keyring) {
        prober.problem("secret_store = \"keyring\": " + keyring.error().message);
      }
    }
  }
  return prober.problems();
}

}  // namespace ckh
