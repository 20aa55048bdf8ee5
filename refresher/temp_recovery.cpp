#include "refresher/temp_recovery.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <vector>

#include "refresher/log.h"
#include "refresher/permanent_stop.h"
#include "refresher/secret_store.h"
#include "refresher/state_writer.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

struct Candidate {
  std::string path;  // empty: this process's held copy
  std::string content;
  timespec mtime{};
};

bool older(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

}  // namespace

Recovery recover_leftovers(const ProfileConfig& profile, const ProfilePaths& paths) {
  Recovery recovery;
  // This profile's own files only, in one read of the directory: a refresh costs the same
  // with 1 or 1000 profiles (other profiles' refreshes look after theirs).
  const std::string secret_name = base_name(paths.secret);
  const std::array<std::string, 4> own_files{secret_name, base_name(paths.cred),
                                             base_name(paths.status),
                                             base_name(fingerprint_key_path(paths))};
  std::vector<std::string> leftovers;  // of P.secret: judged below
  for (const TempFile& temp : leftover_temp_files(paths.dir, own_files, /*include_own=*/true)) {
    if (temp.target == secret_name) {
      leftovers.push_back(temp.path);
    } else if (!temp.own && ::unlink(temp.path.c_str()) == 0) {
      ++recovery.removed;  // a killed writer's copy of P.cred, P.status or P.fpkey
    }
  }
  // The common case: nothing to judge, and P.secret (or the keyring) is not even read.
  if (leftovers.empty() && !holds_unsaved_secret(paths.secret)) return recovery;

  std::string current;
  if (auto read = read_private_file(paths.secret, kMaxSecretBytes)) {
    current = std::move(*read);
  } else if (read.error().kind == ErrorClass::not_found) {
    // No P.secret: with secret_store = "keyring" the state is the keyring item (a keyring
    // save wipes P.secret), and a temp copy a killed save left follows THAT state. When the
    // keyring cannot be read now, nothing can be judged: every leftover stays for later.
    if (auto loaded = load_secret_state(profile, paths)) {
      current = std::move(loaded->state);
    } else {
      log_line(LogLevel::warning, profile.name,
               "temp copies of the secret state kept for later: " + loaded.error().message);
      return recovery;
    }
  }
  timespec current_mtime{};
  if (struct stat st{}; ::lstat(paths.secret.c_str(), &st) == 0) current_mtime = st.st_mtim;

  std::vector<Candidate> candidates;
  if (auto held = take_unsaved_secret(paths.secret, current)) {
    candidates.push_back(Candidate{{}, std::move(*held), timespec{INT64_MAX, 0}});
  }
  for (const auto& path : leftovers) {
    struct stat st {};
    // Older than P.secret: written before what P.secret holds, so not its successor.
    if (::lstat(path.c_str(), &st) != 0 || older(st.st_mtim, current_mtime)) continue;
    auto content = read_private_file(path, kMaxSecretBytes);
    if (!content) continue;  // not ours, not a regular file, too large: removed below
    candidates.push_back(Candidate{path, std::move(*content), st.st_mtim});
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return older(b.mtime, a.mtime); });

  std::string kept;  // a temp file that must stay: its state could not be written as P.secret
  if (profile.backend) {
    for (const auto& candidate : candidates) {
      if (!profile.backend->adopts_secret(current, candidate.content)) continue;
      const std::string from =
          candidate.path.empty() ? std::string("this process's memory") : base_name(candidate.path);
      if (auto written = write_private_file_atomic(paths.secret, candidate.content)) {
        recovery.adopted = true;
        log_line(LogLevel::info, profile.name,
                 "adopted the rotated secret state an unfinished save left in " + from);
      } else {
        kept = candidate.path;
        recovery.unsaved_secret = candidate.content;
        hold_unsaved_secret(paths.secret, current, candidate.content);
        log_line(LogLevel::warning, profile.name,
                 "the rotated secret state in " + from +
                     " could not be written as P.secret, using it from memory: " +
                     written.error().message);
      }
      break;
    }
  }
  for (const auto& path : leftovers) {
    if (path != kept && ::unlink(path.c_str()) == 0) ++recovery.removed;
  }
  return recovery;
}

}  // namespace ckh
