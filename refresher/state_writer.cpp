#include "refresher/state_writer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "shared/text.h"

namespace ckh {
namespace {

// A record or status line is far below this; the room is what the file may grow to
// without needing free space at the moment it is written.
constexpr std::size_t kSmallFileRoom = 4096;

struct Held {
  std::string on_disk;
  std::string content;
};

std::mutex& hold_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::string, Held>& holds() {
  static std::map<std::string, Held> held;
  return held;
}

// temp + fsync + rename + fsync of the directory, with the writer's error wording.
Result<void> write_once(const std::string& path, std::string_view content) {
  auto file = ReservedFile::reserve(path, 0, false);
  if (!file) return std::unexpected(file.error());
  if (auto filled = file->fill(content); !filled) return filled;
  return file->commit();
}

// Into the reservation when there is one (used up either way), else a write of its own.
Result<void> write_through(std::optional<ReservedFile>& reserved, const std::string& path,
                           std::string_view content) {
  if (reserved) {
    ReservedFile file = std::move(*reserved);
    reserved.reset();
    auto filled = file.fill(content);
    if (filled) filled = file.commit();
    if (filled) return {};
    // One more try without it (the reservation may have been too small).
  }
  return write_once(path, content);
}

}  // namespace

StateWriter::StateWriter(const ProfilePaths& paths, const Clock& clock, std::string secret_on_disk)
    : paths_(paths), clock_(clock), secret_on_disk_(std::move(secret_on_disk)) {}

Result<void> StateWriter::reserve(std::size_t secret_bytes) {
  // Twice the current state and some: the answer may carry longer tokens.
  if (!secret_) {
    auto secret = ReservedFile::reserve(
        paths_.secret, std::max(kSmallFileRoom, 2 * secret_bytes + 1024), /*durable=*/true);
    if (!secret) return std::unexpected(secret.error());
    secret_.emplace(std::move(*secret));
  }
  for (auto [slot, path] : {std::pair{&cred_, &paths_.cred}, std::pair{&status_, &paths_.status}}) {
    if (*slot) continue;
    auto reserved = ReservedFile::reserve(*path, kSmallFileRoom, /*durable=*/false);
    if (!reserved) {
      secret_.reset();
      cred_.reset();
      status_.reset();
      return std::unexpected(reserved.error());
    }
    slot->emplace(std::move(*reserved));
  }
  return {};
}

Result<void> StateWriter::write_secret(const std::string& content) {
  if (!secret_) {
    auto written = write_once(paths_.secret, content);
    if (written) secret_on_disk_ = content;
    return written;
  }
  // The answer of a request that was sent: the only copy of what the server rotated.
  ReservedFile& file = *secret_;
  Result<void> saved{};
  std::size_t attempts = 0;
  for (;;) {
    ++attempts;
    saved = file.fill(content);
    if (saved) saved = file.commit();
    if (saved || attempts > kSaveRetryWaits.size()) break;
    // The room set aside for P.cred and P.status is worth less than this: give it back to
    // the filesystem (a copy-on-write or network filesystem may need it for the write).
    cred_.reset();
    status_.reset();
    clock_.sleep_for(kSaveRetryWaits[attempts - 1]);
  }
  if (saved) {
    secret_.reset();
    secret_on_disk_ = content;
    return {};
  }
  Error error = saved.error();
  error.kind = ErrorClass::transient;
  error.message += "; tried " + to_decimal(static_cast<std::uint64_t>(attempts)) + " times";
  if (file.renamed()) {
    // P.secret holds it; only its directory entry may not be on disk yet.
    secret_on_disk_ = content;
  } else {
    // Where the next run finds it: the reserved temp file when the content got there (even
    // if its fsync failed, the page cache serves the next run), else one more temp copy of
    // its own; and this process's memory (the daemon's next round).
    std::string kept;
    auto keep = [&kept](ReservedFile& copy) {
      copy.keep();
      kept = copy.temp_path();
    };
    if (file.written()) {
      keep(file);
    } else if (auto copy = ReservedFile::reserve(paths_.secret, 0, false)) {
      (void)copy->fill(content);
      if (copy->written()) keep(*copy);
    }
    hold_unsaved_secret(paths_.secret, secret_on_disk_, content);
    error.message += kept.empty() ? "; the new state is kept in memory by this process only"
                                  : "; the new state is kept in " + base_name(kept) +
                                        " and the next refresh adopts it";
  }
  secret_.reset();
  return std::unexpected(error);
}

Result<void> StateWriter::write(const std::string& path, std::string_view content) {
  if (path == paths_.cred) return write_through(cred_, path, content);
  if (path == paths_.status) return write_through(status_, path, content);
  return write_once(path, content);
}

void hold_unsaved_secret(const std::string& secret_path, std::string on_disk, std::string content) {
  const std::lock_guard<std::mutex> guard(hold_mutex());
  holds()[secret_path] = Held{std::move(on_disk), std::move(content)};
}

std::optional<std::string> take_unsaved_secret(const std::string& secret_path,
                                               std::string_view on_disk) {
  const std::lock_guard<std::mutex> guard(hold_mutex());
  const auto found = holds().find(secret_path);
  if (found == holds().end()) return std::nullopt;
  Held held = std::move(found->second);
  holds().erase(found);
  if (held.on_disk != on_disk) return std::nullopt;
  return std::move(held.content);
}

bool holds_unsaved_secret(const std::string& secret_path) {
  const std::lock_guard<std::mutex> guard(hold_mutex());
  return holds().contains(secret_path);
}

}  // namespace ckh
