#include "refresher/lazy/lazy_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace ckh {

namespace {

struct LibraryInfo {
  const char* soname;   // what Debian 12 ships (the package's runtime library)
  const char* package;  // what to install when it is missing
};

constexpr std::array<LibraryInfo, 4> kLibraries{{
    {"libcurl.so.4", "libcurl4"},
    {"libcrypto.so.3", "libssl3"},
    {"libsecret-1.so.0", "libsecret-1-0"},
    {"libsimdjson.so.14", "libsimdjson14"},
}};

struct Slot {
  std::once_flag once;
  std::atomic<void*> handle{nullptr};
  std::string error;  // set once, under `once`, when dlopen failed
};

std::array<Slot, kLibraries.size()> slots;

std::size_t index_of(LazyLibrary library) {
  return static_cast<std::size_t>(library);
}

void open_library(std::size_t index) {
  const LibraryInfo& info = kLibraries[index];
  // RTLD_LOCAL: its symbols stay out of the global scope, so nothing else in the process
  // (another copy of a library, our own forwarders) is bound to them by accident.
  void* handle = dlopen(info.soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    slots[index].error = std::string("cannot load ") + info.soname + " (" +
                         (why != nullptr ? why : "unknown reason") + "): install the " +
                         info.package + " package";
    return;
  }
  slots[index].handle.store(handle, std::memory_order_release);
}

[[noreturn]] void give_up(const std::string& message) {
  std::fprintf(stderr, "claude-key-refresher: %s\n", message.c_str());
  std::fflush(stderr);
  _exit(69);
}

}  // namespace

Result<void> ensure_loaded(LazyLibrary library) {
  const std::size_t index = index_of(library);
  Slot& slot = slots[index];
  std::call_once(slot.once, open_library, index);
  if (slot.handle.load(std::memory_order_acquire) == nullptr) {
    return fail(ErrorClass::config, slot.error);
  }
  return {};
}

Result<void> ensure_network_stack() {
  for (LazyLibrary library : {LazyLibrary::curl, LazyLibrary::crypto, LazyLibrary::simdjson}) {
    if (auto loaded_now = ensure_loaded(library); !loaded_now) return loaded_now;
  }
  return {};
}

void* lazy_symbol(LazyLibrary library, const char* name) {
  if (auto loaded_now = ensure_loaded(library); !loaded_now) give_up(loaded_now.error().message);
  void* handle = slots[index_of(library)].handle.load(std::memory_order_acquire);
  dlerror();
  void* address = dlsym(handle, name);
  if (address == nullptr) {
    give_up(std::string(kLibraries[index_of(library)].soname) + " has no " + name +
            ": install the " + kLibraries[index_of(library)].package +
            " package of the Debian release this was built for");
  }
  return address;
}

bool loaded(LazyLibrary library) {
  return slots[index_of(library)].handle.load(std::memory_order_acquire) != nullptr;
}

}  // namespace ckh
