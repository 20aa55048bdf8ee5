// libcurl's functions, forwarded to libcurl.so.4 loaded on first use (lazy_library.h says
// why). One forwarder per function the refresher calls; the linker names any it lacks.
// curl_easy_setopt and curl_easy_getinfo take exactly one argument after the option
// (libcurl's documented contract): a long, a pointer or a curl_off_t, each passed in one
// integer register on the ABIs Debian builds this for, so it is forwarded as a pointer.
#define CURL_DISABLE_TYPECHECK 1  // the header's type-checking macros would hide the names
#include <curl/curl.h>

#include <cstdarg>

#include "refresher/lazy/lazy_library.h"

using ckh::lazy_function;
using ckh::LazyLibrary;

#define CKH_CURL(name) \
  static const auto real = lazy_function<decltype(&name)>(LazyLibrary::curl, #name)

static_assert(sizeof(long) == sizeof(void*) && sizeof(curl_off_t) == sizeof(void*),
              "curl_easy_setopt forwarding assumes one register-sized argument");

extern "C" {

CURLcode curl_global_init(long flags) {
  CKH_CURL(curl_global_init);
  return real(flags);
}

CURL* curl_easy_init(void) {
  CKH_CURL(curl_easy_init);
  return real();
}

CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  CKH_CURL(curl_easy_setopt);
  va_list args;
  va_start(args, option);
  void* value = va_arg(args, void*);
  va_end(args);
  return real(curl, option, value);
}

CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  CKH_CURL(curl_easy_getinfo);
  va_list args;
  va_start(args, info);
  void* out = va_arg(args, void*);
  va_end(args);
  return real(curl, info, out);
}

CURLcode curl_easy_perform(CURL* curl) {
  CKH_CURL(curl_easy_perform);
  return real(curl);
}

void curl_easy_cleanup(CURL* curl) {
  CKH_CURL(curl_easy_cleanup);
  real(curl);
}

const char* curl_easy_strerror(CURLcode code) {
  CKH_CURL(curl_easy_strerror);
  return real(code);
}

void curl_free(void* p) {
  CKH_CURL(curl_free);
  real(p);
}

curl_slist* curl_slist_append(curl_slist* list, const char* data) {
  CKH_CURL(curl_slist_append);
  return real(list, data);
}

void curl_slist_free_all(curl_slist* list) {
  CKH_CURL(curl_slist_free_all);
  real(list);
}

CURLU* curl_url(void) {
  CKH_CURL(curl_url);
  return real();
}

void curl_url_cleanup(CURLU* handle) {
  CKH_CURL(curl_url_cleanup);
  real(handle);
}

CURLUcode curl_url_get(CURLU* handle, CURLUPart what, char** part, unsigned int flags) {
  CKH_CURL(curl_url_get);
  return real(handle, what, part, flags);
}

CURLUcode curl_url_set(CURLU* handle, CURLUPart what, const char* part, unsigned int flags) {
  CKH_CURL(curl_url_set);
  return real(handle, what, part, flags);
}

const char* curl_url_strerror(CURLUcode code) {
  CKH_CURL(curl_url_strerror);
  return real(code);
}

}  // extern "C"
