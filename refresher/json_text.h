// Writing JSON text, for the request bodies and files the refresher produces (token
// requests, Claude Code's credential store). Reading JSON is simdjson's job.
// Guarantees: json_quote returns a valid JSON string literal for any bytes: quotes,
// backslashes and control characters are escaped; bytes >= 0x80 pass through unchanged
// (the callers' inputs are UTF-8 or ASCII). Callers: refresher/oauth/, refresher/sinks/.
#pragma once

#include <string>
#include <string_view>

namespace ckh {

std::string json_quote(std::string_view text);

}  // namespace ckh
