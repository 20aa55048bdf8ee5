// What a refresh finds left behind when it takes P.lock: temp files of a refresher that was
// killed mid-write, or of one that could not finish its save (state_writer.h).
// Guarantees (recover_leftovers, called under P.lock before P.secret is read):
// - A complete temp copy of P.secret (or this process's held copy, state_writer.h) that the
//   backend judges to be the state following P.secret (Backend::adopts_secret: for
//   anthropic-oauth, P.secret records a refresh in flight and the copy holds the rotated
//   tokens it brought) is adopted: written durably as P.secret, then its temp file removed.
//   Only copies at least as new as P.secret (mtime) are candidates; the newest one wins.
//   Nothing is ever adopted without the backend's full validation. With no P.secret the
//   state a copy must follow is the keyring item (secret_store = "keyring" wipes P.secret
//   after each save); while the keyring cannot be read, every leftover stays for later.
// - If adopting cannot be written either, the state is handed back (unsaved_secret) for
//   this refresh to use from memory, and the temp file stays.
// - Every other leftover temp file of P.secret is removed, and those of the profile's other
//   files (P.cred, P.status, P.fpkey) whose writer is gone. Only the profile's own names
//   are looked for (one read of the directory, nothing read when nothing is left), so a
//   refresh costs the same with 1 or 1000 profiles; other profiles' temp files are left
//   for their own refresh (the daemon sweeps the whole directory once at start:
//   daemon.cpp).
// Callers: refresh.cpp.
#pragma once

#include <optional>
#include <string>

#include "refresher/config.h"
#include "shared/paths.h"

namespace ckh {

struct Recovery {
  std::optional<std::string> unsaved_secret;  // use instead of P.secret's content
  bool adopted = false;
  std::size_t removed = 0;  // temp files removed
};

Recovery recover_leftovers(const ProfileConfig& profile, const ProfilePaths& paths);

}  // namespace ckh
