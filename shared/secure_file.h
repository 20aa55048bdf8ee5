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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.h"

namespace ckh {

Result<std::string> read_private_file(const std::string& path, std::size_t max_bytes);

// durable=false skips both fsyncs: for advisory files whose loss after a crash is harmless
// (the helper's per-caller memory), where an fsync would cost the caller milliseconds.
Result<void> write_private_file_atomic(const std::string& path, std::string_view content,
                                       bool durable = true);

Result<void> ensure_private_dir(const std::string& path);

// Unlinks a file and fsyncs its directory, then overwrites its bytes with zeros through the
// still-open descriptor and fsyncs them: a secret moved elsewhere (the keyring) leaves no
// readable copy on a filesystem that writes in place, and a crash midway leaves no file
// rather than a zeroed one. A missing file is no error; a symlink or non-regular file is
// refused.
Result<void> wipe_private_file(const std::string& path);

// "/a/b/c" -> "/a/b" ("." without a slash, "/" for "/c") and "c".
std::string parent_dir(const std::string& path);
std::string base_name(const std::string& path);

// Removes the temp files ("<name>.tmp.<pid>.<n>") that write_private_file_atomic left in
// dir when its process was killed mid-write (they may hold secrets): only those whose pid
// is no longer running; with `of` set, only the temp files of that file name ("x.json" ->
// "x.json.tmp.*"), for directories shared with other programs; temp files of a name that
// ends with `except_suffix` (when set) are left alone (a rotated secret may be the only copy
// of a token: refresher/temp_recovery.h decides about those). Returns how many it removed.
// Callers: the claude-code sink, under Claude Code's lock; the daemon, once at start.
std::size_t remove_stale_temp_files(const std::string& dir, std::string_view of = {},
                                    std::string_view except_suffix = {});

// The temp files in dir of the files named in `names` whose writer is gone (its pid is not
// running), plus, with include_own, those of this process (a refresh that held the
// profile's lock and could not finish its save); in no particular order. One read of the
// directory; an entry of another name costs a comparison, nothing more.
// Callers: refresher/temp_recovery.cpp, under P.lock.
struct TempFile {
  std::string path;         // dir + "/" + the temp file's name
  std::string_view target;  // the entry of `names` it is a temp copy of
  bool own = false;         // written by this process
};
std::vector<TempFile> leftover_temp_files(const std::string& dir,
                                          std::span<const std::string> names, bool include_own);

// A temp file set aside, before a request is sent, for a write whose content only its answer
// brings (a rotated refresh token): created beside `path` as write_private_file_atomic names
// its temp files (0600, O_EXCL), with `bytes` allocated (posix_fallocate; 0: none), so that
// filling it later does not need free space on filesystems that write in place (ext4, xfs,
// tmpfs).
// - reserve(durable=true) also fsyncs the file and the directory: the room survives a crash.
// - fill() truncates the file to the content's size, writes it and fsyncs it; it may be
//   called again after a failure. commit() renames it over `path` and fsyncs the directory
//   (a failed directory fsync is retried by calling commit() again).
// - Errors read "could not save: <the system's reason> (<file name>, <step>)".
// - The destructor removes the temp file unless it was committed or keep() was called
//   (after a failed save its content may be the only copy of a secret: the next refresh
//   adopts it, refresher/temp_recovery.h).
class ReservedFile {
 public:
  static Result<ReservedFile> reserve(const std::string& path, std::size_t bytes, bool durable);
  ReservedFile(ReservedFile&& other) noexcept;
  ReservedFile& operator=(ReservedFile&& other) noexcept;
  ReservedFile(const ReservedFile&) = delete;
  ReservedFile& operator=(const ReservedFile&) = delete;
  ~ReservedFile();

  Result<void> fill(std::string_view content);
  Result<void> commit();
  void keep() { kept_ = true; }
  // The content was written to the temp file (it may not be on disk yet if fsync failed,
  // but readers see it); filled(): written and fsynced.
  bool written() const { return written_; }
  bool filled() const { return filled_; }
  // It is in place; only the directory's fsync may be missing.
  bool renamed() const { return renamed_; }
  const std::string& temp_path() const { return temp_; }
  const std::string& target_path() const { return path_; }
  std::size_t reserved_bytes() const { return bytes_; }

 private:
  ReservedFile() = default;
  void discard();
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  std::size_t bytes_ = 0;
  bool written_ = false;
  bool filled_ = false;
  bool renamed_ = false;
  bool done_ = false;
  bool kept_ = false;
};

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
