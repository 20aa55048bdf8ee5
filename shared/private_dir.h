// The one rule for the state directory, applied by both binaries (the refresher through
// ensure_private_dir, the helper before it reads or talks to anything in it): the directory
// itself, not a symbolic link to one, owned by the caller, with no group/other bits.
// A directory anyone else may write to lets them plant P.cred or P.sock; one they may read
// exposes P.cred's name and the caller files. Only the last component is checked (parents
// such as ~/.local may be links). Callers: shared/secure_file.cpp (ensure_private_dir),
// helper/helper.cpp.
#pragma once

#include <string>

#include "shared/error.h"

namespace ckh {

// not_found when the directory does not exist; unsafe (with the fix in the message) when it
// breaks the rule; io when it cannot be examined.
Result<void> check_private_dir(const std::string& path);

}  // namespace ckh
