// The durable writes of one refresh of one profile (P.secret, P.cred, P.status), and the rule
// that a rotated secret which exists only in memory is never dropped.
// Guarantees:
// - reserve(): right before a request whose answer rotates a secret, temp files are set
//   aside for P.secret (fsynced, with room for a longer answer than the current state),
//   P.cred and P.status (shared/secure_file.h ReservedFile). A disk that fills up while the
//   request is in flight then cannot stop the answer from being saved, nor P.status from
//   saying what happened. A disk that is already full is found here, before anything is
//   spent: the error reads "could not save: No space left on device (...)".
// - write_secret() after reserve() fills that reservation. A failed save is retried, bounded
//   (kSaveRetryWaits, through the clock seam), and if it still fails the content is kept:
//   in the temp file when it got there (the next refresh adopts it, temp_recovery.h) and in
//   this process's memory for its own next refresh of the profile (the daemon). The error
//   says so and starts with "could not save: <the system's reason>".
//   Without a reservation: one write, temp + fsync + rename + fsync of the directory.
// - write() writes P.cred or P.status, through its reservation when there is one.
// - Reservations not used are removed when the writer goes.
// Callers: refresh.cpp (one writer per refresh, under P.lock); temp_recovery.cpp (the hold).
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/clock.h"
#include "shared/error.h"
#include "shared/paths.h"
#include "shared/secure_file.h"

namespace ckh {

// The pauses before the 2nd, 3rd and 4th attempt of a save that must not fail.
inline constexpr std::array<std::chrono::milliseconds, 3> kSaveRetryWaits = {
    std::chrono::milliseconds(500), std::chrono::milliseconds(1000),
    std::chrono::milliseconds(2000)};

class StateWriter {
 public:
  // secret_on_disk: what P.secret holds now (empty when none).
  StateWriter(const ProfilePaths& paths, const Clock& clock, std::string secret_on_disk);
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  Result<void> reserve(std::size_t secret_bytes);
  Result<void> write_secret(const std::string& content);
  Result<void> write(const std::string& path, std::string_view content);

 private:
  const ProfilePaths& paths_;
  const Clock& clock_;
  std::string secret_on_disk_;
  std::optional<ReservedFile> secret_;
  std::optional<ReservedFile> cred_;
  std::optional<ReservedFile> status_;
};

// The hold of this process: a rotated secret state it could not save, kept for its next
// refresh of that profile. take_unsaved_secret returns it (and forgets it) only while
// P.secret still holds what it held when the save failed; a P.secret written since (a new
// login) wins, and the hold is dropped.
void hold_unsaved_secret(const std::string& secret_path, std::string on_disk, std::string content);
std::optional<std::string> take_unsaved_secret(const std::string& secret_path,
                                               std::string_view on_disk);
// Whether this process holds one for that P.secret (nothing is taken).
bool holds_unsaved_secret(const std::string& secret_path);

}  // namespace ckh
