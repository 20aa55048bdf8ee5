// Safe reading and atomic writing of the private files in the state directory.
// Guarantees:
// - read_private_file opens with O_NOFOLLOW and refuses (ErrorClass::unsafe) anything that
//   is not a regular file owned by the caller with no group/other permission bits, and
//   (ErrorClass::corrupt) anything larger than max_bytes; a missing file is
//   ErrorClass::not_found. The whole file is read from one descriptor, so a rename that
//   replaces it meanwhile cannot produce a mixed read.
// - write_private_file_atomic writes a temp file in the same directory (0600, O_EXCL),
//   fsyncs it, renames it over the target and fsyncs the directory: a reader sees either
//   the old or the new content, and after a crash the new one is durable once it returned.
// - ensure_private_dir creates the directory (and parents) 0700, and refuses one that is
//   not owned by the caller or is group/world accessible.
// Callers: the helper (read), the refresher (all).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

Result<std::string> read_private_file(const std::string& path, std::size_t max_bytes);

// durable=false skips both fsyncs: for advisory files whose loss after a crash is harmless
// (the helper's per-caller memory), where an fsync would cost the caller milliseconds.
Result<void> write_private_file_atomic(const std::string& path, std::string_view content,
                                       bool durable = true);

Result<void> ensure_private_dir(const std::string& path);

// Removes the temp files ("<name>.tmp.<pid>.<n>") that write_private_file_atomic left in
// dir when its process was killed mid-write (they may hold secrets): only those whose pid
// is no longer running; with `of` set, only the temp files of that file name ("x.json" ->
// "x.json.tmp.*"), for directories shared with other programs. Returns how many it removed.
// Callers: the refresher, under P.lock; the claude-code sink, under Claude Code's lock.
std::size_t remove_stale_temp_files(const std::string& dir, std::string_view of = {});

// Building blocks for readers and writers of other files (Claude Code's store, pipes):
// write_all writes everything or returns false (EINTR retried); read_bounded reads an open
// descriptor to its end, refusing (ErrorClass::corrupt) more than max_bytes; path only
// names the file in messages; size_hint (e.g. st_size) sizes the first buffer.
bool write_all(int fd, std::string_view content);
// A file that is not ours to police (a Kubernetes service-account token is root's, 0644, and
// a symlink; ~/.aws/config is 0644): follows links, refuses only what is not a regular file
// (unsafe) or is larger than max_bytes (corrupt); a missing file is not_found.
Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes);
Result<std::string> read_bounded(int fd, const std::string& path, std::size_t size_hint,
                                 std::size_t max_bytes);

}  // namespace ckh
