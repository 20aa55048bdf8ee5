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
// - Every other leftover temp file of P.secret is removed, and the temp files of other
//   files in the state dir whose writer is gone (remove_stale_temp_files); temp copies of
//   OTHER profiles' P.secret are left for those profiles' own refresh to judge.
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
