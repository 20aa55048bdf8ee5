// Whether a file that decides what the refresher runs or where it sends secrets may be
// trusted: whoever can change the config can run code as the user (command argv) or send a
// refresh token elsewhere (token_url); the same holds for a static key file, Vault's
// role_id_file/secret_id_file and an AWS config/credentials file (credential_process).
// Rule (refused with ErrorClass::unsafe, a one-line message that names the file and the
// chmod/chown to run):
// - the file must be owned by the effective user or by root (root's system files are
//   fine), and not writable by its group or by others. Running as root, "the user" is root:
//   a file owned by any other uid is refused, since that user could make root run code;
// - symbolic links are followed: the target's owner and mode count (a Kubernetes token is a
//   root-owned 0644 file behind links, which is fine: nobody else can write it);
// - the directory that holds the file (as named, and the target's when a link leads
//   elsewhere) must meet the same rule, except that a sticky directory (/tmp) may be writable
//   by others: they cannot replace a file they do not own there. Directories further up are
//   not checked.
// A file or directory that does not exist or cannot be examined passes: its reader reports
// that. Callers: config.cpp, backends/static_backend.cpp, backends/vault_backend.cpp,
// aws/aws_credentials.cpp.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

// `what` names the file in the message: "config", "static key file", ...
Result<void> check_not_writable_by_others(const std::string& path, std::string_view what);

// The same for a file already open: `file` is its fstat (links followed).
Result<void> check_not_writable_by_others(const std::string& path, const struct stat& file,
                                          std::string_view what);

}  // namespace ckh
