// CKH_FUZZ_CHECK(condition, "what the property says"): on violation, name the property on
// stderr (so the ctest log says what broke, not only "deadly signal"), then trap: libFuzzer
// records the input as a crash reproducer. CKH_FUZZ_CHECK_SHOW also prints a text involved
// (escaped, at most 400 bytes). Shared by the fuzz_*.cpp targets.
#pragma once

#include <cstdio>
#include <string_view>

inline void ckh_fuzz_show(const char* label, std::string_view text) {
  std::fprintf(stderr, "  %s (%zu bytes): \"", label, text.size());
  std::size_t shown = 0;
  for (const char c : text) {
    if (++shown > 400) {
      std::fputs("...", stderr);
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      std::fputs("\\n", stderr);
    } else if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      std::fprintf(stderr, "\\x%02x", byte);
    } else {
      std::fputc(c, stderr);
    }
  }
  std::fputs("\"\n", stderr);
}

#define CKH_FUZZ_CHECK_SHOW(condition, property, label, text)                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "PROPERTY VIOLATED (%s:%d): %s\n", __FILE__, __LINE__, property); \
      ckh_fuzz_show(label, text);                                                            \
      __builtin_trap();                                                                      \
    }                                                                                        \
  } while (0)

#define CKH_FUZZ_CHECK(condition, property)                                                  \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "PROPERTY VIOLATED (%s:%d): %s\n", __FILE__, __LINE__, property); \
      __builtin_trap();                                                                      \
    }                                                                                        \
  } while (0)
