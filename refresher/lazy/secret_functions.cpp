// libsecret's and GLib's functions the keyring (keyring/keyring.cpp) calls, forwarded to
// libsecret-1.so.0 loaded on first use (lazy_library.h says why); GLib's are found through
// it, as its dependencies. secret_attributes_build is variadic (name/value pairs ending in
// NULL): it is forwarded to libsecret's own va_list form, secret_attributes_buildv.
#include <libsecret/secret.h>

#include <cstdarg>

#include "refresher/lazy/lazy_library.h"

using ckh::lazy_function;
using ckh::LazyLibrary;

#define CKH_SECRET(name) \
  static const auto real = lazy_function<decltype(&name)>(LazyLibrary::secret, #name)

extern "C" {

GHashTable* secret_attributes_build(const SecretSchema* schema, ...) {
  CKH_SECRET(secret_attributes_buildv);
  va_list pairs;
  va_start(pairs, schema);
  GHashTable* attributes = real(schema, pairs);
  va_end(pairs);
  return attributes;
}

SecretService* secret_service_get_sync(SecretServiceFlags flags, GCancellable* cancellable,
                                       GError** error) {
  CKH_SECRET(secret_service_get_sync);
  return real(flags, cancellable, error);
}

void secret_service_disconnect(void) {
  CKH_SECRET(secret_service_disconnect);
  real();
}

GList* secret_service_search_sync(SecretService* service, const SecretSchema* schema,
                                  GHashTable* attributes, SecretSearchFlags flags,
                                  GCancellable* cancellable, GError** error) {
  CKH_SECRET(secret_service_search_sync);
  return real(service, schema, attributes, flags, cancellable, error);
}

SecretCollection* secret_collection_for_alias_sync(SecretService* service, const gchar* alias,
                                                   SecretCollectionFlags flags,
                                                   GCancellable* cancellable, GError** error) {
  CKH_SECRET(secret_collection_for_alias_sync);
  return real(service, alias, flags, cancellable, error);
}

gboolean secret_collection_get_locked(SecretCollection* self) {
  CKH_SECRET(secret_collection_get_locked);
  return real(self);
}

GQuark secret_error_get_quark(void) {
  CKH_SECRET(secret_error_get_quark);
  return real();
}

SecretItem* secret_item_create_sync(SecretCollection* collection, const SecretSchema* schema,
                                    GHashTable* attributes, const gchar* label, SecretValue* value,
                                    SecretItemCreateFlags flags, GCancellable* cancellable,
                                    GError** error) {
  CKH_SECRET(secret_item_create_sync);
  return real(collection, schema, attributes, label, value, flags, cancellable, error);
}

gboolean secret_item_delete_sync(SecretItem* self, GCancellable* cancellable, GError** error) {
  CKH_SECRET(secret_item_delete_sync);
  return real(self, cancellable, error);
}

gboolean secret_item_get_locked(SecretItem* self) {
  CKH_SECRET(secret_item_get_locked);
  return real(self);
}

guint64 secret_item_get_modified(SecretItem* self) {
  CKH_SECRET(secret_item_get_modified);
  return real(self);
}

SecretValue* secret_item_get_secret(SecretItem* self) {
  CKH_SECRET(secret_item_get_secret);
  return real(self);
}

const gchar* secret_value_get(SecretValue* value, gsize* length) {
  CKH_SECRET(secret_value_get);
  return real(value, length);
}

SecretValue* secret_value_new(const gchar* secret, gssize length, const gchar* content_type) {
  CKH_SECRET(secret_value_new);
  return real(secret, length, content_type);
}

void secret_value_unref(gpointer value) {
  CKH_SECRET(secret_value_unref);
  real(value);
}

void g_error_free(GError* error) {
  CKH_SECRET(g_error_free);
  real(error);
}

gboolean g_error_matches(const GError* error, GQuark domain, gint code) {
  CKH_SECRET(g_error_matches);
  return real(error, domain, code);
}

void g_hash_table_unref(GHashTable* hash_table) {
  CKH_SECRET(g_hash_table_unref);
  real(hash_table);
}

void g_list_free_full(GList* list, GDestroyNotify free_func) {
  CKH_SECRET(g_list_free_full);
  real(list, free_func);
}

GCancellable* g_cancellable_new(void) {
  CKH_SECRET(g_cancellable_new);
  return real();
}

void g_cancellable_cancel(GCancellable* cancellable) {
  CKH_SECRET(g_cancellable_cancel);
  real(cancellable);
}

GQuark g_dbus_error_quark(void) {
  CKH_SECRET(g_dbus_error_quark);
  return real();
}

GQuark g_io_error_quark(void) {
  CKH_SECRET(g_io_error_quark);
  return real();
}

void g_object_unref(gpointer object) {
  CKH_SECRET(g_object_unref);
  real(object);
}

}  // extern "C"
