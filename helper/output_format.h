// What the helper prints on success, in the format its caller reads (helper.h OutputFormat):
// - token: the credential and one newline (apiKeyHelper, and helper-script in Claude Code).
// - json: {"token":"<credential>","headers":{"<name>":"<value>",...}} and one newline, the
//   helper-script output Claude Desktop/Cowork merge headers from; names and values as the
//   record holds them (record.h: printable ASCII), '"' and '\' escaped; valid JSON always.
// Pure; no allocation beyond the result. Callers: helper.cpp, unit tests (exact bytes).
#pragma once

#include <string>

#include "helper/helper.h"
#include "shared/record.h"

namespace ckh {

std::string credential_output(const CredentialRecord& record, OutputFormat format);

}  // namespace ckh
