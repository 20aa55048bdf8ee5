#include "refresher/keyring/keyring.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "refresher/lazy/lazy_library.h"
#include "refresher/sinks/keychain.h"
#include "shared/text.h"

#ifndef __APPLE__
#include <libsecret/secret.h>
#endif

namespace ckh {

std::string keyring_item_label(const KeyringItemId& id) {
  return "claude-key-helper: long-lived secrets of profile '" + id.profile +
         "' (refresh token, Vault token, client secret) - " + id.state_dir;
}

std::string keychain_keyring_password(std::string_view content) {
  return hex_encode(content);
}

std::optional<std::string> keychain_keyring_content(std::string_view password) {
  if (password.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(password.size() / 2);
  for (std::size_t i = 0; i < password.size(); i += 2) {
    const int high = hex_digit_value(password[i]);
    const int low = hex_digit_value(password[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

#ifdef __APPLE__

Result<std::optional<std::string>> keyring_read(const KeyringItemId& id) {
  auto password = keychain_read(id.profile, kKeyringApplication);
  if (!password) return std::unexpected(password.error());
  if (!*password) return std::nullopt;
  auto content = keychain_keyring_content(**password);
  if (!content) {
    return fail(ErrorClass::corrupt, "the Keychain item claude-key-helper/" + id.profile +
                                         " is not hex-encoded; delete it and log in again");
  }
  return content;
}

Result<void> keyring_write(const KeyringItemId& id, std::string_view content) {
  return keychain_write(id.profile, kKeyringApplication, keychain_keyring_password(content));
}

Result<bool> keyring_delete(const KeyringItemId& id) {
  return keychain_delete(id.profile, kKeyringApplication);
}

Result<void> keyring_check() {
  return {};
}

#else

namespace {

const SecretSchema* item_schema() {
  static const SecretSchema schema = [] {
    SecretSchema s{};
    s.name = "org.claude-key-helper.SecretState";
    // Items made by hand with secret-tool (schema org.freedesktop.Secret.Generic) match too.
    s.flags = SECRET_SCHEMA_DONT_MATCH_NAME;
    s.attributes[0] = SecretSchemaAttribute{"application", SECRET_SCHEMA_ATTRIBUTE_STRING};
    s.attributes[1] = SecretSchemaAttribute{"profile", SECRET_SCHEMA_ATTRIBUTE_STRING};
    s.attributes[2] = SecretSchemaAttribute{"state_dir", SECRET_SCHEMA_ATTRIBUTE_STRING};
    s.attributes[3] = SecretSchemaAttribute{nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING};
    return s;
  }();
  return &schema;
}

// Owns a GLib object reference.
template <typename T>
struct GRef {
  T* p = nullptr;
  GRef() = default;
  explicit GRef(T* object) : p(object) {}
  GRef(const GRef&) = delete;
  GRef& operator=(const GRef&) = delete;
  ~GRef() {
    if (p) g_object_unref(p);
  }
};

struct ErrorHolder {
  GError* error = nullptr;
  ~ErrorHolder() {
    if (error) g_error_free(error);
  }
};

// libsecret's shared service (and libgcrypt under it) is not safe for concurrent use: the
// daemon refreshes profiles on several threads, so every keyring call holds this.
std::mutex& keyring_mutex() {
  static std::mutex mutex;
  return mutex;
}

struct Attributes {
  GHashTable* table;
  explicit Attributes(const KeyringItemId& id)
      : table(secret_attributes_build(item_schema(), "application", kKeyringApplication.data(),
                                      "profile", id.profile.c_str(), "state_dir",
                                      id.state_dir.c_str(), nullptr)) {}
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
  ~Attributes() {
    if (table) g_hash_table_unref(table);
  }
  // NULL when a value is not UTF-8 (a state dir named in another encoding).
  Result<void> check() const {
    if (table) return {};
    return fail(ErrorClass::config,
                "the state dir's path is not UTF-8, which the keyring cannot store as an "
                "attribute; set secret_store = \"file\" or use another state dir");
  }
};

// Cancels the calls made with cancellable() when kKeyringTimeout has passed: a wedged
// keyring daemon must not hold P.lock for the bus's own 25 s per call.
class Deadline {
 public:
  Deadline() : cancellable_(g_cancellable_new()), watchdog_([this] { watch(); }) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    g_object_unref(cancellable_);
  }
  GCancellable* cancellable() const { return cancellable_; }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    if (!wake_.wait_for(lock, kKeyringTimeout, [this] { return done_; })) {
      g_cancellable_cancel(cancellable_);
    }
  }
  GCancellable* cancellable_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread watchdog_;
};

Error locked_error() {
  return Error{ErrorClass::transient, std::string(kKeyringLockedMessage)};
}

// One line for what went wrong, classified; GLib's text names no secret (it never sees one
// outside the encrypted session), but is kept short and on one line all the same.
Error keyring_error(const GError* error, std::string_view doing) {
  if (error == nullptr) {
    return Error{ErrorClass::transient, "the keyring failed while " + std::string(doing)};
  }
  if (error->domain == SECRET_ERROR && error->code == SECRET_ERROR_IS_LOCKED) return locked_error();
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    return Error{ErrorClass::transient,
                 "the keyring did not answer within " + to_decimal(kKeyringTimeout.count()) +
                     " s while " + std::string(doing) +
                     ": is its daemon wedged? restart it, or set secret_store = \"file\""};
  }
  const std::string text = one_line(error->message ? error->message : "", 240);
  if (error->domain == G_DBUS_ERROR && (error->code == G_DBUS_ERROR_SERVICE_UNKNOWN ||
                                        error->code == G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
    return Error{ErrorClass::transient,
                 "no keyring answers on the session bus (" + text +
                     "): start one (gnome-keyring, KWallet), or set secret_store = \"file\""};
  }
  if (error->domain == G_IO_ERROR || error->domain == G_DBUS_ERROR) {
    return Error{ErrorClass::transient,
                 "cannot reach the keyring while " + std::string(doing) + " (" + text +
                     "): is there a D-Bus session bus (DBUS_SESSION_BUS_ADDRESS, "
                     "$XDG_RUNTIME_DIR/bus)? otherwise set secret_store = \"file\""};
  }
  return Error{ErrorClass::transient, "the keyring failed while " + std::string(doing) + " (" +
                                          text + "); or set secret_store = \"file\""};
}

// The Secret Service, with an encrypted session. After a failure the shared connection is
// dropped, so that a keyring daemon started again is found by the next call.
Result<SecretService*> open_service(const Deadline& deadline, std::string_view doing) {
  ErrorHolder e;
  SecretService* service =
      secret_service_get_sync(static_cast<SecretServiceFlags>(SECRET_SERVICE_OPEN_SESSION),
                              deadline.cancellable(), &e.error);
  if (service == nullptr) {
    secret_service_disconnect();
    return std::unexpected(keyring_error(e.error, doing));
  }
  return service;
}

Result<void> drop(Error error) {
  secret_service_disconnect();
  return std::unexpected(std::move(error));
}

// The default collection, unlocked (the caller owns the reference), or why not.
Result<SecretCollection*> open_default_collection(const Deadline& deadline,
                                                  std::string_view doing) {
  auto service = open_service(deadline, doing);
  if (!service) return std::unexpected(service.error());
  GRef<SecretService> owned(*service);
  ErrorHolder e;
  SecretCollection* collection =
      secret_collection_for_alias_sync(*service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                                       deadline.cancellable(), &e.error);
  if (e.error) {
    secret_service_disconnect();
    return std::unexpected(keyring_error(e.error, doing));
  }
  if (collection == nullptr) {
    return fail(ErrorClass::transient,
                "the keyring has no default collection: create one (Seahorse, KWallet), or set "
                "secret_store = \"file\"");
  }
  if (secret_collection_get_locked(collection)) {
    g_object_unref(collection);
    return std::unexpected(locked_error());
  }
  return collection;
}

// Owns the list of items a search returned.
struct ItemList {
  GList* items = nullptr;
  ItemList() = default;
  ItemList(ItemList&& other) noexcept : items(std::exchange(other.items, nullptr)) {}
  ItemList(const ItemList&) = delete;
  ItemList& operator=(const ItemList&) = delete;
  ItemList& operator=(ItemList&&) = delete;
  ~ItemList() { g_list_free_full(items, g_object_unref); }
};

// The profile's items (none, one, or more made by hand), never unlocking anything.
Result<ItemList> find_items(const Deadline& deadline, const KeyringItemId& id,
                            SecretSearchFlags flags, std::string_view doing) {
  auto service = open_service(deadline, doing);
  if (!service) return std::unexpected(service.error());
  GRef<SecretService> owned(*service);
  const Attributes attributes(id);
  if (auto usable = attributes.check(); !usable) return std::unexpected(usable.error());
  ErrorHolder e;
  ItemList found;
  found.items = secret_service_search_sync(*service, item_schema(), attributes.table, flags,
                                           deadline.cancellable(), &e.error);
  if (e.error) {
    const Error error = keyring_error(e.error, doing);
    secret_service_disconnect();
    return std::unexpected(error);
  }
  return found;
}

}  // namespace

Result<std::optional<std::string>> keyring_read(const KeyringItemId& id) {
  if (auto library = ensure_loaded(LazyLibrary::secret); !library) {
    return std::unexpected(library.error());
  }
  const std::lock_guard serialized(keyring_mutex());
  const Deadline deadline;
  auto found = find_items(
      deadline, id, static_cast<SecretSearchFlags>(SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS),
      "reading the profile's item");
  if (!found) return std::unexpected(found.error());
  if (found->items == nullptr) return std::nullopt;
  // Newest first: one item is expected; a second one made by hand is older than ours.
  SecretItem* newest = nullptr;
  for (GList* node = found->items; node; node = node->next) {
    auto* item = static_cast<SecretItem*>(node->data);
    if (!newest || secret_item_get_modified(item) > secret_item_get_modified(newest)) newest = item;
  }
  if (secret_item_get_locked(newest)) return std::unexpected(locked_error());
  SecretValue* value = secret_item_get_secret(newest);
  if (value == nullptr) return std::unexpected(locked_error());
  gsize length = 0;
  const gchar* bytes = secret_value_get(value, &length);
  std::string content(bytes ? bytes : "", bytes ? length : 0);
  secret_value_unref(value);
  return content;
}

Result<void> keyring_write(const KeyringItemId& id, std::string_view content) {
  if (auto library = ensure_loaded(LazyLibrary::secret); !library) {
    return std::unexpected(library.error());
  }
  const std::lock_guard serialized(keyring_mutex());
  const Deadline deadline;
  const std::string doing = "saving the profile's item";
  auto collection = open_default_collection(deadline, doing);
  if (!collection) return std::unexpected(collection.error());
  GRef<SecretCollection> owned(*collection);
  ErrorHolder e;
  const Attributes attributes(id);
  if (auto usable = attributes.check(); !usable) return std::unexpected(usable.error());
  SecretValue* value = secret_value_new(content.data(), static_cast<gssize>(content.size()),
                                        "application/octet-stream");
  const std::string label = keyring_item_label(id);
  GRef<SecretItem> item(secret_item_create_sync(*collection, item_schema(), attributes.table,
                                                label.c_str(), value, SECRET_ITEM_CREATE_REPLACE,
                                                deadline.cancellable(), &e.error));
  secret_value_unref(value);
  if (e.error || item.p == nullptr) return drop(keyring_error(e.error, doing));
  return {};
}

Result<bool> keyring_delete(const KeyringItemId& id) {
  if (auto library = ensure_loaded(LazyLibrary::secret); !library) {
    return std::unexpected(library.error());
  }
  const std::lock_guard serialized(keyring_mutex());
  const Deadline deadline;
  const std::string doing = "deleting the profile's item";
  auto found = find_items(deadline, id, SECRET_SEARCH_ALL, doing);
  if (!found) return std::unexpected(found.error());
  ErrorHolder e;
  bool deleted = false;
  for (GList* node = found->items; node; node = node->next) {
    auto* item = static_cast<SecretItem*>(node->data);
    if (!secret_item_delete_sync(item, deadline.cancellable(), &e.error)) {
      const Error error = keyring_error(e.error, doing);
      secret_service_disconnect();
      return std::unexpected(error);
    }
    deleted = true;
  }
  return deleted;
}

Result<void> keyring_check() {
  if (auto library = ensure_loaded(LazyLibrary::secret); !library) {
    return std::unexpected(library.error());
  }
  const std::lock_guard serialized(keyring_mutex());
  const Deadline deadline;
  auto collection = open_default_collection(deadline, "looking for the default collection");
  if (!collection) return std::unexpected(collection.error());
  g_object_unref(*collection);
  return {};
}

#endif

}  // namespace ckh
