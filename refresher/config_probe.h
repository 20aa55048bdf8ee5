// `check-config --probe`: whether what a valid configuration names is there and usable,
// short of fetching a credential. Each backend names its checks (Backend::probe, backend.h)
// to a Prober; RealProber performs them:
// - file: exists, is a regular file this user can read, is not writable by others
//   (file_trust.h); a `secret` file must also be the user's own, not a link, with no
//   group/other bits, as the private-file reader (secure_file.h) insists;
// - executable: found as the backends look it up (child_process.h find_executable);
// - endpoint: DNS, TCP and, for https, a TLS handshake verified with the profile's CA
//   settings, through the HTTP transport seam: a bare GET of the URL's origin ("/") with no
//   header of ours, bounded in time. Any HTTP answer counts as reachable; nothing secret is
//   ever sent.
// - secret_store = "keyring": a keyring answers on the session bus and its default collection
//   is unlocked (keyring/keyring.h keyring_check).
// Variables are checked by the backends that read them (static env = ...), in THIS
// process's environment. Every failed check is one line (what is wrong, what to do) prefixed with
// the profile; all of them are collected, none stops the others. Callers: check_config_command.cpp,
// tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/config.h"
#include "refresher/env_lookup.h"
#include "refresher/http/transport.h"

namespace ckh {

class Prober {
 public:
  virtual ~Prober() = default;
  // Each returns true when the check passed; otherwise it recorded a problem. `what` names
  // the setting in messages: "static key file", "command argv[0]", "Vault address".
  virtual bool file(std::string_view what, const std::string& path, bool secret) = 0;
  virtual bool executable(std::string_view what, const std::string& name) = 0;
  virtual bool endpoint(std::string_view what, const std::string& url, const TlsOptions& tls) = 0;
  // A problem a backend found itself (e.g. neither of two alternatives is there).
  virtual void problem(std::string message) = 0;
};

class RealProber final : public Prober {
 public:
  RealProber(EnvLookup env, HttpTransport& transport,
             std::chrono::milliseconds endpoint_timeout = std::chrono::seconds(10))
      : env_(env), transport_(transport), endpoint_timeout_(endpoint_timeout) {}

  bool file(std::string_view what, const std::string& path, bool secret) override;
  bool executable(std::string_view what, const std::string& name) override;
  bool endpoint(std::string_view what, const std::string& url, const TlsOptions& tls) override;
  void problem(std::string message) override;

  // Problems are prefixed "profile 'P': " while a profile is probed.
  void set_profile(std::string profile) { profile_ = std::move(profile); }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  EnvLookup env_;
  HttpTransport& transport_;
  std::chrono::milliseconds endpoint_timeout_;
  std::string profile_;
  std::vector<std::string> problems_;
};

// Probes every profile given; the problems of all of them, in order (empty: all good).
std::vector<std::string> probe_profiles(const std::vector<const ProfileConfig*>& profiles,
                                        EnvLookup env, HttpTransport& transport);

// "https://host:port" of a URL (scheme, userinfo dropped, host and port kept), for probing
// an endpoint without its path or query; empty when it is not an http(s) URL.
std::string url_origin(std::string_view url);

}  // namespace ckh
