#include "refresher/aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// An empty string when OpenSSL fails (it does not with the default provider): the signature
// is then empty and AWS rejects it, which is the only "error" this pure function has.
std::string sha256_raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof mac,
                &length) == nullptr) {
    return {};
  }
  std::string out(reinterpret_cast<const char*>(mac), length);
  OPENSSL_cleanse(mac, sizeof mac);
  return out;
}

void wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

std::string hex(std::string_view bytes) {
  return hex_encode(bytes);
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// RFC 3986 percent-encoding as SigV4 wants it: unreserved kept, all else %XX (uppercase).
std::string uri_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

// Decodes valid %XX escapes only; a '%' without two hex digits and '+' stay literal.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit_value(text[i + 1]) >= 0 &&
        hex_digit_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit_value(text[i + 1]) * 16 + hex_digit_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Non-S3: remove "." and ".." segments and empty ones ("//"), keep a trailing slash, encode
// each segment as given (so an encoded path is encoded twice). S3: keep every segment,
// encode it once.
std::string canonical_uri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  const std::vector<std::string_view> raw = split(path, '/');
  std::string out;
  if (!normalize) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (i > 0) out += '/';
      out += uri_encode(percent_decode(raw[i]));
    }
    return out;
  }
  std::vector<std::string_view> kept;
  for (std::string_view segment : raw) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  for (std::string_view segment : kept) out += '/' + uri_encode(segment);
  const std::string_view last = raw.back();
  if (out.empty() || last.empty() || last == "." || last == "..") out += '/';
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (std::string_view part : split(query, '&')) {
    if (part.empty()) continue;
    const std::size_t equals = part.find('=');
    const std::string_view name = part.substr(0, equals);
    const std::string_view value =
        equals == std::string_view::npos ? std::string_view{} : part.substr(equals + 1);
    params.emplace_back(uri_encode(percent_decode(name)), uri_encode(percent_decode(value)));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + '=' + value;
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Trims and collapses every run of whitespace (incl. an obs-fold's line break) to one space.
std::string trim_all(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// (lowercase name, trimmed value) pairs, in request order.
const std::string* find_header(const Headers& lowered, std::string_view name) {
  for (const auto& [key, value] : lowered) {
    if (key == name) return &value;
  }
  return nullptr;
}

struct CanonicalHeaders {
  std::string block;         // "name:value\n" per name, sorted
  std::string signed_names;  // "name;name"
};

CanonicalHeaders canonical_headers(Headers lowered) {
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    if (i > 0 && lowered[i].first == lowered[i - 1].first) {
      out.block.back() = ',';  // repeated name: values joined with ',' in request order
      out.block += lowered[i].second + '\n';
      continue;
    }
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += lowered[i].first;
    out.block += lowered[i].first + ':' + lowered[i].second + '\n';
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  return hex(sha256_raw(data));
}

std::string sigv4_signing_key(std::string_view secret_access_key, std::string_view date_yyyymmdd,
                              std::string_view region, std::string_view service) {
  std::string secret = "AWS4";
  secret += secret_access_key;
  std::string date_key = hmac_sha256(secret, date_yyyymmdd);
  std::string region_key = hmac_sha256(date_key, region);
  std::string service_key = hmac_sha256(region_key, service);
  std::string signing_key = hmac_sha256(service_key, "aws4_request");
  wipe(secret);
  wipe(date_key);
  wipe(region_key);
  wipe(service_key);
  return signing_key;
}

std::string sigv4_amz_date(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds{unix_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

SigV4Result sigv4_sign(const SigV4Request& request, const SigV4Params& params,
                       const AwsCredentials& credentials) {
  Headers lowered;
  for (const auto& [name, value] : request.headers) {
    lowered.emplace_back(lowercase(trim_all(name)), trim_all(value));
  }
  SigV4Result result;
  const bool add_token = params.add_session_token_header && !credentials.session_token.empty() &&
                         find_header(lowered, "x-amz-security-token") == nullptr;
  if (add_token) {
    result.headers_to_add.emplace_back("X-Amz-Security-Token", credentials.session_token);
    lowered.emplace_back("x-amz-security-token", trim_all(credentials.session_token));
  }
  std::string amz_date;
  if (const std::string* sent = find_header(lowered, "x-amz-date")) {
    amz_date = *sent;
  } else {
    amz_date = params.amz_date;
    result.headers_to_add.emplace_back("X-Amz-Date", amz_date);
    lowered.emplace_back("x-amz-date", trim_all(amz_date));
  }
  std::string payload_hash;
  if (const std::string* sent = find_header(lowered, "x-amz-content-sha256")) {
    payload_hash = *sent;  // e.g. S3's UNSIGNED-PAYLOAD: what is sent is what is signed
  } else {
    payload_hash = sha256_hex(request.body);
    if (params.add_content_sha256_header) {
      result.headers_to_add.emplace_back("x-amz-content-sha256", payload_hash);
      lowered.emplace_back("x-amz-content-sha256", payload_hash);
    }
  }
  const CanonicalHeaders headers = canonical_headers(std::move(lowered));
  result.canonical_request = request.method + '\n' +
                             canonical_uri(request.path, params.normalize_path) + '\n' +
                             canonical_query(request.query) + '\n' + headers.block + '\n' +
                             headers.signed_names + '\n' + payload_hash;

  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + '/' + params.region + '/' + params.service + "/aws4_request";
  result.string_to_sign = std::string(kAlgorithm) + '\n' + amz_date + '\n' + scope + '\n' +
                          sha256_hex(result.canonical_request);
  std::string key =
      sigv4_signing_key(credentials.secret_access_key, date, params.region, params.service);
  result.signature = hex(hmac_sha256(key, result.string_to_sign));
  wipe(key);
  result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                         '/' + scope + ", SignedHeaders=" + headers.signed_names +
                         ", Signature=" + result.signature;
  result.headers_to_add.emplace_back("Authorization", result.authorization);
  return result;
}

}  // namespace ckh
