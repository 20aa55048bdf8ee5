// The shared libraries the refresher loads only when a backend first needs them: libcurl,
// OpenSSL's libcrypto, libsecret (with GLib) and simdjson. Linked as usual, these four and
// their ~45 dependencies cost ~20M instructions of dynamic loading at every start, 30x what
// a `once` with nothing due does; a refresh over the network pays it once, when it happens.
// How: the refresher does not link them. For each function our code calls, the
// *_functions.cpp beside this file defines a function of the same name and type that
// forwards to the library's own, found with dlopen/dlsym on first call (so call sites and
// behaviour are those of the library itself; its soname is the one Debian ships).
// Contract:
// - ensure_loaded(lib) loads a library once per process (thread-safe) and says in one line
//   (ErrorClass::config) which Debian package to install when it cannot;
// - ensure_network_stack() is what a request needs: curl, libcrypto and simdjson. The HTTP
//   transport calls it before it sends anything, so that a token answer can always be
//   parsed once the server has rotated (a library missing then would lose the answer).
//   The keyring calls ensure_loaded(secret) before its first call;
// - lazy_symbol(lib, name): the address of a function, loading the library when needed.
//   Reached with the library missing only by a caller that skipped ensure_*: it then ends
//   the process (exit 69) with the same one-line message, never a crash;
// - loaded(lib): whether this process has loaded it (tests, `status --debug` figures).
// Callers: the *_functions.cpp forwarders, http/curl_transport.cpp, keyring/keyring.cpp.
#pragma once

#include "shared/error.h"

namespace ckh {

enum class LazyLibrary { curl, crypto, secret, simdjson };

Result<void> ensure_loaded(LazyLibrary library);
Result<void> ensure_network_stack();
void* lazy_symbol(LazyLibrary library, const char* name);
bool loaded(LazyLibrary library);

// The typed form the forwarders use: Function is the pointer type of the function forwarded
// to (decltype(&name)), so a forwarder cannot disagree with the library's header.
template <class Function>
Function lazy_function(LazyLibrary library, const char* name) {
  return reinterpret_cast<Function>(lazy_symbol(library, name));
}

}  // namespace ckh
