// The two functions of libsimdjson the refresher's inline simdjson code calls (the rest of
// simdjson is in its header, or reached through the implementation object these return),
// forwarded to libsimdjson.so.14 loaded on first use (lazy_library.h says why). They are
// C++ functions: looked up by their mangled names, which the Itanium C++ ABI fixes.
// libsimdjson brings its own libstdc++.so; no standard-library object crosses between it
// and the refresher (the API passes pointers, sizes, string_views and error codes).
#include <simdjson.h>

#include "refresher/lazy/lazy_library.h"

namespace simdjson {

internal::atomic_ptr<const implementation>& get_active_implementation() {
  using Function = internal::atomic_ptr<const implementation>& (*)();
  static const auto real = ckh::lazy_function<Function>(
      ckh::LazyLibrary::simdjson, "_ZN8simdjson25get_active_implementationEv");
  return real();
}

bool validate_utf8(const char* buf, size_t len) noexcept {
  using Function = bool (*)(const char*, size_t) noexcept;
  static const auto real =
      ckh::lazy_function<Function>(ckh::LazyLibrary::simdjson, "_ZN8simdjson13validate_utf8EPKcm");
  return real(buf, len);
}

}  // namespace simdjson
