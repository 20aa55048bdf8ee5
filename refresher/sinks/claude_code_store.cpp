#include "refresher/sinks/claude_code_store.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "refresher/json_writer.h"
#include "shared/secure_file.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {

namespace {

constexpr std::string_view kEntryKey = "claudeAiOauth";
constexpr std::string_view kStoreName = "Claude Code's credential store";
constexpr std::string_view kRepairHint =
    "; repair it, or move it away and log in to Claude Code again";

enum class Field {
  access_token,
  refresh_token,
  expires_at,
  scopes,
  subscription_type,
  rate_limit_tier,
  refresh_token_expires_at,
  client_id,
};

struct KnownField {
  std::string_view key;
  Field field;
};

// Also the order in which fields missing from the file are appended.
constexpr KnownField kKnownFields[] = {
    {"accessToken", Field::access_token},
    {"refreshToken", Field::refresh_token},
    {"expiresAt", Field::expires_at},
    {"scopes", Field::scopes},
    {"subscriptionType", Field::subscription_type},
    {"rateLimitTier", Field::rate_limit_tier},
    {"refreshTokenExpiresAt", Field::refresh_token_expires_at},
    {"clientId", Field::client_id},
};
constexpr std::size_t kKnownFieldCount = sizeof kKnownFields / sizeof kKnownFields[0];

std::optional<std::size_t> known_field_index(std::string_view key) {
  for (std::size_t i = 0; i < kKnownFieldCount; ++i) {
    if (kKnownFields[i].key == key) return i;
  }
  return std::nullopt;
}

// One member of a JSON object exactly as it appears in the text.
struct Member {
  std::string key;        // unescaped: what comparisons use
  std::string raw_key;    // as written, quotes included
  std::string raw_value;  // as written, without the white space around it
};

// A parsed store: the top-level members in order and, when present, the entry's members.
struct StoreText {
  std::vector<Member> top;
  std::optional<std::size_t> entry_at;  // index in `top` of claudeAiOauth
  std::vector<Member> entry_members;    // empty when the entry is null
  std::optional<ClaudeAiOauth> oauth;
};

Error corrupt_error(std::string_view source, std::string_view what) {
  return Error{ErrorClass::corrupt,
               std::string(source) + " " + std::string(what) + std::string(kRepairHint)};
}

std::string_view trim_json_space(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\n\r");
  return text.substr(first, last - first + 1);
}

// The key as written, quotes included. `inside` points just after its opening quote; the
// document was validated before, so the closing quote is there.
std::string_view raw_key_text(const char* inside) {
  const char* end = inside;
  while (*end != '"') {
    if (*end == '\\') ++end;
    ++end;
  }
  return std::string_view(inside - 1, static_cast<std::size_t>(end - inside) + 2);
}

simdjson::error_code raw_value_text(simdjson::ondemand::value& value, std::string_view& raw) {
  simdjson::ondemand::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    if (auto error = value.get_object().get(object)) return error;
    if (auto error = object.raw_json().get(raw)) return error;
  } else if (type == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array array;
    if (auto error = value.get_array().get(array)) return error;
    if (auto error = array.raw_json().get(raw)) return error;
  } else {
    raw = value.raw_json_token();
  }
  raw = trim_json_space(raw);
  return simdjson::SUCCESS;
}

// The members of `object` in order. With `entry_members`, the members of an object-valued
// claudeAiOauth are collected there too (its own raw_value is then left empty: it is always
// rendered anew).
simdjson::error_code collect_members(simdjson::ondemand::object& object, std::vector<Member>& out,
                                     std::vector<Member>* entry_members) {
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    if (auto error = std::move(field_result).get(field)) return error;
    Member member;
    // key() before unescaped_key(): unescaping consumes the key.
    member.raw_key = std::string(raw_key_text(field.key().raw()));
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    member.key = std::string(key);
    simdjson::ondemand::value& value = field.value();
    if (entry_members != nullptr && member.key == kEntryKey) {
      simdjson::ondemand::json_type type;
      if (auto error = value.type().get(type)) return error;
      if (type == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object entry;
        if (auto error = value.get_object().get(entry)) return error;
        if (auto error = collect_members(entry, *entry_members, nullptr)) return error;
        out.push_back(std::move(member));
        continue;
      }
    }
    std::string_view raw;
    if (auto error = raw_value_text(value, raw)) return error;
    member.raw_value = std::string(raw);
    out.push_back(std::move(member));
  }
  return simdjson::SUCCESS;
}

// ms since the epoch: an integer, or a double with an integral value (JavaScript writes
// both the same way, and another tool may have written 1.7e12).
std::optional<std::int64_t> integral_millis(simdjson::dom::element element) {
  std::int64_t integer = 0;
  if (element.get_int64().get(integer) == simdjson::SUCCESS) return integer;
  double real = 0;
  if (element.is_double() && element.get_double().get(real) == simdjson::SUCCESS &&
      std::isfinite(real) && real == std::floor(real) && real > -9.2e18 && real < 9.2e18) {
    return static_cast<std::int64_t>(real);
  }
  return std::nullopt;
}

bool read_string(simdjson::dom::element element, std::string& out) {
  if (element.is_null()) return true;
  std::string_view text;
  if (element.get_string().get(text) != simdjson::SUCCESS) return false;
  out = std::string(text);
  return true;
}

bool read_optional_string(simdjson::dom::element element, std::optional<std::string>& out) {
  if (element.is_null()) return true;
  std::string_view text;
  if (element.get_string().get(text) != simdjson::SUCCESS) return false;
  out = std::string(text);
  return true;
}

bool read_field(Field field, simdjson::dom::element element, ClaudeAiOauth& oauth) {
  switch (field) {
    case Field::access_token:
      return read_string(element, oauth.access_token);
    case Field::refresh_token:
      return read_string(element, oauth.refresh_token);
    case Field::expires_at: {
      if (element.is_null()) return true;
      const auto millis = integral_millis(element);
      if (!millis) return false;
      oauth.expires_at_ms = *millis;
      return true;
    }
    case Field::scopes: {
      if (element.is_null()) return true;
      simdjson::dom::array array;
      if (element.get_array().get(array) != simdjson::SUCCESS) return false;
      for (simdjson::dom::element scope : array) {
        std::string_view text;
        if (scope.get_string().get(text) != simdjson::SUCCESS) return false;
        oauth.scopes.emplace_back(text);
      }
      return true;
    }
    case Field::subscription_type:
      return read_optional_string(element, oauth.subscription_type);
    case Field::rate_limit_tier:
      return read_optional_string(element, oauth.rate_limit_tier);
    case Field::refresh_token_expires_at: {
      if (element.is_null()) return true;
      const auto millis = integral_millis(element);
      if (!millis) return false;
      oauth.refresh_token_expires_at_ms = *millis;
      return true;
    }
    case Field::client_id:
      return read_optional_string(element, oauth.client_id);
  }
  return false;
}

Result<ClaudeAiOauth> read_entry(simdjson::dom::object entry, std::string_view source) {
  ClaudeAiOauth oauth;
  bool seen[kKnownFieldCount] = {};
  for (auto [key, value] : entry) {
    const auto index = known_field_index(key);
    if (!index) continue;  // unknown keys are kept, not interpreted
    if (seen[*index]) {
      return std::unexpected(
          corrupt_error(source, "holds claudeAiOauth." + std::string(key) + " more than once"));
    }
    seen[*index] = true;
    if (!read_field(kKnownFields[*index].field, value, oauth)) {
      return std::unexpected(
          corrupt_error(source, "has claudeAiOauth." + std::string(key) + " of the wrong type"));
    }
  }
  return oauth;
}

// What the whole module reads through: validation by the DOM parser (every byte), the raw
// member texts by the On-Demand parser (which can hand out the text of a value).
Result<StoreText> parse_store(std::string_view json, std::string_view source) {
  StoreText store;
  if (json.size() > kMaxClaudeCodeStoreBytes) {
    return std::unexpected(
        corrupt_error(source, "is larger than " + to_decimal(kMaxClaudeCodeStoreBytes) + " bytes"));
  }
  if (trim_json_space(json).empty()) return store;
  const simdjson::padded_string padded(json);
  simdjson::dom::parser dom_parser;
  simdjson::dom::element root;
  if (dom_parser.parse(padded).get(root) != simdjson::SUCCESS) {
    return std::unexpected(corrupt_error(source, "is not valid JSON"));
  }
  simdjson::dom::object root_object;
  if (root.get_object().get(root_object) != simdjson::SUCCESS) {
    return std::unexpected(corrupt_error(source, "is not a JSON object"));
  }

  simdjson::ondemand::parser ondemand_parser;
  simdjson::ondemand::document document;
  simdjson::ondemand::object top;
  if (ondemand_parser.iterate(padded).get(document) != simdjson::SUCCESS ||
      document.get_object().get(top) != simdjson::SUCCESS ||
      collect_members(top, store.top, &store.entry_members) != simdjson::SUCCESS) {
    return std::unexpected(corrupt_error(source, "could not be read as a JSON object"));
  }
  for (std::size_t i = 0; i < store.top.size(); ++i) {
    if (store.top[i].key != kEntryKey) continue;
    if (store.entry_at) return std::unexpected(corrupt_error(source, "holds claudeAiOauth twice"));
    store.entry_at = i;
  }
  if (!store.entry_at) return store;

  simdjson::dom::element entry;
  if (root_object.at_key(kEntryKey).get(entry) != simdjson::SUCCESS) {
    return std::unexpected(corrupt_error(source, "could not be read as a JSON object"));
  }
  if (entry.is_null()) return store;  // a blanked entry: no credential, nothing to keep
  simdjson::dom::object entry_object;
  if (entry.get_object().get(entry_object) != simdjson::SUCCESS) {
    return std::unexpected(corrupt_error(source, "has a claudeAiOauth that is not an object"));
  }
  auto oauth = read_entry(entry_object, source);
  if (!oauth) return std::unexpected(oauth.error());
  store.oauth = std::move(*oauth);
  return store;
}

// --- rendering --------------------------------------------------------------------------

std::string render_millis(std::int64_t millis) {
  return to_decimal(millis);
}

// The JSON text of a field's value in `oauth`; nullopt for an optional field without one.
std::optional<std::string> render_value(Field field, const ClaudeAiOauth& oauth) {
  switch (field) {
    case Field::access_token:
      return json_string(oauth.access_token);
    case Field::refresh_token:
      return json_string(oauth.refresh_token);
    case Field::expires_at:
      return render_millis(oauth.expires_at_ms);
    case Field::scopes:
      return json_text(Json(oauth.scopes));
    case Field::subscription_type:
      if (!oauth.subscription_type) return std::nullopt;
      return json_string(*oauth.subscription_type);
    case Field::rate_limit_tier:
      if (!oauth.rate_limit_tier) return std::nullopt;
      return json_string(*oauth.rate_limit_tier);
    case Field::refresh_token_expires_at:
      if (!oauth.refresh_token_expires_at_ms) return std::nullopt;
      return render_millis(*oauth.refresh_token_expires_at_ms);
    case Field::client_id:
      if (!oauth.client_id) return std::nullopt;
      return json_string(*oauth.client_id);
  }
  return std::nullopt;
}

bool same_value(Field field, const ClaudeAiOauth& a, const ClaudeAiOauth& b) {
  switch (field) {
    case Field::access_token:
      return a.access_token == b.access_token;
    case Field::refresh_token:
      return a.refresh_token == b.refresh_token;
    case Field::expires_at:
      return a.expires_at_ms == b.expires_at_ms;
    case Field::scopes:
      return a.scopes == b.scopes;
    case Field::subscription_type:
      return a.subscription_type == b.subscription_type;
    case Field::rate_limit_tier:
      return a.rate_limit_tier == b.rate_limit_tier;
    case Field::refresh_token_expires_at:
      return a.refresh_token_expires_at_ms == b.refresh_token_expires_at_ms;
    case Field::client_id:
      return a.client_id == b.client_id;
  }
  return false;
}

bool integer_literal(std::string_view raw) {
  if (!raw.empty() && raw.front() == '-') raw.remove_prefix(1);
  if (raw.empty()) return false;
  for (char c : raw) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Whether raw text already has the form the field must be written in: a null that read as
// an empty value must still be replaced (scopes must be an array, #85262), and times are
// written as integer ms even when another writer left 1.76e12.
bool raw_has_written_type(Field field, std::string_view raw) {
  if (raw.empty()) return false;
  switch (field) {
    case Field::expires_at:
    case Field::refresh_token_expires_at:
      return integer_literal(raw);
    case Field::scopes:
      return raw.front() == '[';
    default:
      return raw.front() == '"';
  }
}

// Joins members whose texts are already JSON: raw values kept from the original file
// (validated by the DOM parser, so valid JSON and valid UTF-8) and fresh values from
// json_writer.h. Splicing, not re-serialising, is what keeps untouched members byte for byte.
class ObjectWriter {
 public:
  void add(std::string_view raw_key, std::string_view raw_value) {
    out_ += out_.empty() ? '{' : ',';
    out_ += raw_key;
    out_ += ':';
    out_ += raw_value;
  }
  std::string finish() && {
    if (out_.empty()) out_ += '{';
    out_ += '}';
    return std::move(out_);
  }

 private:
  std::string out_;
};

std::string render_entry(const StoreText& store, const ClaudeAiOauth& now) {
  ObjectWriter entry;
  bool written[kKnownFieldCount] = {};
  for (const Member& member : store.entry_members) {
    const auto index = known_field_index(member.key);
    if (!index) {
      entry.add(member.raw_key, member.raw_value);
      continue;
    }
    written[*index] = true;
    const Field field = kKnownFields[*index].field;
    const std::optional<std::string> fresh = render_value(field, now);
    if (!fresh) {
      entry.add(member.raw_key, "null");
    } else if (store.oauth && same_value(field, *store.oauth, now) &&
               raw_has_written_type(field, member.raw_value)) {
      entry.add(member.raw_key, member.raw_value);  // unchanged: keep its bytes
    } else {
      entry.add(member.raw_key, *fresh);
    }
  }
  for (std::size_t i = 0; i < kKnownFieldCount; ++i) {
    if (written[i]) continue;
    if (const auto fresh = render_value(kKnownFields[i].field, now)) {
      entry.add(json_string(kKnownFields[i].key), *fresh);
    }
  }
  return std::move(entry).finish();
}

// The store with its entry replaced by `entry`, or dropped when entry is nullptr.
std::string render_store(const StoreText& store, const std::string* entry) {
  ObjectWriter top;
  for (std::size_t i = 0; i < store.top.size(); ++i) {
    const Member& member = store.top[i];
    if (store.entry_at == i) {
      if (entry != nullptr) top.add(member.raw_key, *entry);
    } else {
      top.add(member.raw_key, member.raw_value);
    }
  }
  if (!store.entry_at && entry != nullptr) top.add(json_string(kEntryKey), *entry);
  return std::move(top).finish();
}

bool valid_utf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

// Never a stub: each of these has logged Claude Code users out.
Result<void> check_writable(const ClaudeAiOauth& oauth) {
  const auto refuse = [](std::string_view what) {
    return fail(ErrorClass::permanent,
                "refusing to write a Claude Code credential " + std::string(what) +
                    " (Claude Code would be logged out); the store was left as it was");
  };
  if (oauth.access_token.empty()) return refuse("without an access token");
  if (oauth.refresh_token.empty()) return refuse("without a refresh token");
  if (oauth.expires_at_ms <= 0) return refuse("without an expiry time (expiresAt)");
  bool utf8 = valid_utf8(oauth.access_token) && valid_utf8(oauth.refresh_token);
  for (const auto& scope : oauth.scopes) utf8 = utf8 && valid_utf8(scope);
  for (const auto* text : {&oauth.subscription_type, &oauth.rate_limit_tier, &oauth.client_id}) {
    if (*text) utf8 = utf8 && valid_utf8(**text);
  }
  if (!utf8) return refuse("with a field that is not UTF-8");
  return {};
}

Result<std::string> checked_size(std::string text, std::string_view source) {
  if (text.size() > kMaxClaudeCodeStoreBytes) {
    return std::unexpected(corrupt_error(
        source, "would grow beyond " + to_decimal(kMaxClaudeCodeStoreBytes) + " bytes"));
  }
  return text;
}

Result<std::string> render_with_entry(std::string_view original, const ClaudeAiOauth& oauth,
                                      std::string_view source) {
  if (auto writable = check_writable(oauth); !writable) return std::unexpected(writable.error());
  auto store = parse_store(original, source);
  if (!store) return std::unexpected(store.error());
  const std::string entry = render_entry(*store, oauth);
  return checked_size(render_store(*store, &entry), source);
}

// --- files ------------------------------------------------------------------------------

std::string os_reason(int error) {
  return std::string(std::strerror(error));
}

// The path a write must replace so that a symbolic link (chain) stays a link: the end of
// the chain, which may not exist yet. Relative link targets are relative to the link's
// directory.
Result<std::string> resolve_link_chain(const std::string& path) {
  constexpr int kMaxLinks = 40;  // Linux's own limit (ELOOP)
  std::string current = path;
  for (int hop = 0; hop <= kMaxLinks; ++hop) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0) {
      if (errno == ENOENT) return current;
      return fail(ErrorClass::io, "cannot stat " + current + ": " + os_reason(errno));
    }
    if (!S_ISLNK(st.st_mode)) return current;
    std::string target(static_cast<std::size_t>(PATH_MAX), '\0');
    const ssize_t length = ::readlink(current.c_str(), target.data(), target.size());
    if (length < 0)
      return fail(ErrorClass::io, "cannot read the link " + current + ": " + os_reason(errno));
    if (static_cast<std::size_t>(length) >= target.size())
      return fail(ErrorClass::unsafe, "the link " + current + " has a target that is too long");
    target.resize(static_cast<std::size_t>(length));
    current =
        (!target.empty() && target.front() == '/') ? target : parent_dir(current) + "/" + target;
  }
  return fail(ErrorClass::unsafe,
              path + " is a chain of more than 40 symbolic links; point it at a file");
}

// The file's text ("" when it does not exist), following links. Not read_private_file: this
// file belongs to Claude Code, which may leave it group-readable, and may be a link.
Result<std::string> read_store_file(const std::string& path) {
  // O_NONBLOCK: a FIFO planted in place of the file must not hang the refresher.
  UniqueFd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (!file.valid()) {
    const int error = errno;
    if (error == ENOENT) return std::string();
    if (error == EACCES) return fail(ErrorClass::unsafe, path + " is not readable by you");
    return fail(ErrorClass::io, "cannot open " + path + ": " + os_reason(error));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0)
    return fail(ErrorClass::io, "cannot stat " + path + ": " + os_reason(errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::unsafe, path + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorClass::unsafe, path + " is owned by uid " + to_decimal(st.st_uid) +
                                        ", not by you (uid " + to_decimal(::geteuid()) +
                                        "); Claude Code's credentials must be yours");
  }
  const std::string too_large = path + " is larger than " + to_decimal(kMaxClaudeCodeStoreBytes) +
                                " bytes" + std::string(kRepairHint);
  if (static_cast<std::size_t>(st.st_size) > kMaxClaudeCodeStoreBytes)
    return fail(ErrorClass::corrupt, too_large);
  // Read to the end (one byte past the bound at most): the size may change meanwhile.
  auto content = read_bounded(file.get(), path, static_cast<std::size_t>(st.st_size),
                              kMaxClaudeCodeStoreBytes);
  if (!content) {
    if (content.error().kind == ErrorClass::corrupt) return fail(ErrorClass::corrupt, too_large);
    return std::unexpected(content.error());
  }
  return content;
}

Result<void> create_dir_if_missing(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return {};  // Claude Code's dir: its mode is its own
  if (errno != ENOENT) return fail(ErrorClass::io, "cannot stat " + dir + ": " + os_reason(errno));
  return ensure_private_dir(dir);
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  std::string cwd(static_cast<std::size_t>(PATH_MAX), '\0');
  if (::getcwd(cwd.data(), cwd.size()) == nullptr) return path;
  cwd.resize(std::strlen(cwd.c_str()));
  return cwd + "/" + path;
}

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Result<ClaudeCodeStorePaths> claude_code_store_paths(EnvLookup env) {
  std::string dir;
  if (auto configured = env("CLAUDE_CONFIG_DIR"); configured && !configured->empty()) {
    dir = *configured;
  } else if (auto home = env("HOME"); home && !home->empty()) {
    dir = *home + "/.claude";
  } else {
    return fail(ErrorClass::config,
                "cannot find Claude Code's config directory: neither CLAUDE_CONFIG_DIR nor HOME "
                "is set; set HOME");
  }
  ClaudeCodeStorePaths paths;
  paths.config_dir = without_trailing_slashes(absolute(dir));
  paths.credentials_file =
      (paths.config_dir == "/" ? std::string() : paths.config_dir) + "/.credentials.json";
  // Claude Code locks realpath(config dir) + ".lock" (proper-lockfile resolves the path).
  char resolved[PATH_MAX];
  if (::realpath(paths.config_dir.c_str(), resolved) != nullptr) {
    paths.lock_dir = std::string(resolved) + ".lock";
  } else {
    paths.lock_dir = paths.config_dir + ".lock";
  }
  return paths;
}

Result<std::optional<ClaudeAiOauth>> parse_claude_code_store(std::string_view json) {
  auto store = parse_store(json, kStoreName);
  if (!store) return std::unexpected(store.error());
  return std::move(store->oauth);
}

Result<std::string> render_claude_code_store(std::string_view original_json,
                                             const ClaudeAiOauth& oauth) {
  return render_with_entry(original_json, oauth, kStoreName);
}

Result<std::string> render_without_claude_code_entry(std::string_view original_json) {
  auto store = parse_store(original_json, kStoreName);
  if (!store) return std::unexpected(store.error());
  return render_store(*store, nullptr);
}

Result<std::optional<ClaudeAiOauth>> read_claude_code_store(const std::string& file) {
  auto text = read_store_file(file);
  if (!text) return std::unexpected(text.error());
  auto store = parse_store(*text, file);
  if (!store) return std::unexpected(store.error());
  return std::move(store->oauth);
}

Result<void> write_claude_code_store(const std::string& file, const ClaudeAiOauth& oauth) {
  auto target = resolve_link_chain(file);
  if (!target) return std::unexpected(target.error());
  auto current = read_store_file(*target);
  if (!current) return std::unexpected(current.error());
  auto text = render_with_entry(*current, oauth, *target);
  if (!text) return std::unexpected(text.error());
  if (auto dir = create_dir_if_missing(parent_dir(*target)); !dir)
    return std::unexpected(dir.error());
  // A writer killed mid-write left a temp copy holding tokens: ours to remove, under the lock.
  const std::string name = target->substr(target->rfind('/') + 1);
  (void)remove_stale_temp_files(parent_dir(*target), name);
  return write_private_file_atomic(*target, *text);
}

Result<bool> remove_claude_code_entry(const std::string& file) {
  auto target = resolve_link_chain(file);
  if (!target) return std::unexpected(target.error());
  auto current = read_store_file(*target);
  if (!current) return std::unexpected(current.error());
  auto store = parse_store(*current, *target);
  if (!store) return std::unexpected(store.error());
  if (!store->entry_at) return false;
  if (auto written = write_private_file_atomic(*target, render_store(*store, nullptr)); !written)
    return std::unexpected(written.error());
  return true;
}

}  // namespace ckh
