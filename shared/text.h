// Small text utilities both binaries need, without iostreams or fmt (the helper is static
// and counted in instructions). Callers: record and status parsers, the helper's messages,
// the refresher's redaction of command output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ckh {

// Decimal integers only, no sign for unsigned, no spaces, no overflow.
std::optional<std::uint64_t> parse_u64(std::string_view text);
std::optional<std::int64_t> parse_i64(std::string_view text);
std::string to_decimal(std::int64_t value);
std::string to_decimal(std::uint64_t value);
inline std::string to_decimal(int value) {
  return to_decimal(static_cast<std::int64_t>(value));
}
inline std::string to_decimal(unsigned value) {
  return to_decimal(static_cast<std::uint64_t>(value));
}
inline std::string to_decimal(unsigned long long value) {
  return to_decimal(static_cast<std::uint64_t>(value));
}

// Lowercase hex of bytes, and the value of one hex digit (either case; -1 for anything else).
std::string hex_encode(std::string_view bytes);
int hex_digit_value(char c);

// One-line form of an arbitrary text: control characters become spaces, runs of white
// space fold to one, the result is cut to max_bytes (with "..." when cut): at the last word
// boundary when one is within the second half of what is kept, never inside a UTF-8 sequence.
std::string one_line(std::string_view text, std::size_t max_bytes);

// one_line(text) followed by tail (already one line: a hint such as "; run: ..."), the text
// cut so that the whole fits max_bytes and the tail survives whole: a reader must always
// see what to run, however long the error before it.
std::string one_line_with_tail(std::string_view text, std::string_view tail, std::size_t max_bytes);

// A message keeps only its first command hint ("claude-key-refresher <command>", as in
// "run: claude-key-refresher once --profile P"): a "; ..." clause holding a hint that an
// outer level appended after an inner message already said what to run is dropped.
std::string without_repeated_hint(std::string_view message);

// Replaces with "[redacted]" every occurrence in text of the secret (trimmed; nothing when
// empty) and of any 12-byte piece of it, even when white space, line breaks or backslashes
// split it (a tool that wraps its output, one_line's folding, JSON's "\/"); and, where the
// text was cut (its start or end, a "..." marker), any 4-byte or longer end of the secret
// that touches the cut. A secret shorter than 8 bytes (a test value, not a credential) is
// replaced only where it occurs exactly. Each redacted span, with the white space inside it,
// becomes one marker. Used before any text that may echo a secret leaves; redact BEFORE
// cutting a text (one_line), so that the cut cannot split a secret.
std::string redact(std::string_view text, std::string_view secret);

// True for bytes 0x21..0x7e: what an HTTP header token may hold.
bool is_printable_token(std::string_view text);

std::string_view trim(std::string_view text);

// A unix time as UTC through strftime's format, e.g. "%Y-%m-%dT%H:%M:%SZ".
std::string format_utc(std::int64_t unix_s, const char* format);

}  // namespace ckh
