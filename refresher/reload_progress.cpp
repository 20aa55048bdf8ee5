#include "refresher/reload_progress.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::string_view kMagic = "claude-key-refresher-reload";
constexpr unsigned kVersion = 1;
constexpr std::array<std::string_view, 4> kKeys = {"started", "finished", "result", "message"};

Result<std::uint64_t> parse_count(std::string_view value) {
  auto number = parse_i64(value);
  if (!number || *number < 0) return fail(ErrorClass::corrupt, "bad counter in reload file");
  return static_cast<std::uint64_t>(*number);
}

}  // namespace

std::string reload_progress_path(const std::string& dir, long pid) {
  return dir + "/daemon." + to_decimal(static_cast<std::int64_t>(pid)) + ".reload";
}

std::string format_reload_progress(const ReloadProgress& progress) {
  const std::string started = to_decimal(static_cast<std::int64_t>(progress.started));
  const std::string finished = to_decimal(static_cast<std::int64_t>(progress.finished));
  const std::string message = one_line(progress.message, 900);
  const std::array<KvLine, 4> lines = {KvLine{"started", started}, KvLine{"finished", finished},
                                       KvLine{"result", progress.ok ? "ok" : "refused"},
                                       KvLine{"message", message}};
  return write_kv_lines(kMagic, kVersion, lines);
}

Result<ReloadProgress> parse_reload_progress(std::string_view text) {
  auto lines = parse_kv_lines(text, kMagic, kVersion, kKeys);
  if (!lines) return std::unexpected(lines.error());
  ReloadProgress progress;
  auto started = parse_count((*lines)[0].value);
  auto finished = parse_count((*lines)[1].value);
  if (!started || !finished) return std::unexpected(started ? finished.error() : started.error());
  progress.started = *started;
  progress.finished = *finished;
  const std::string_view result = (*lines)[2].value;
  if (result != "ok" && result != "refused") {
    return fail(ErrorClass::corrupt, "bad result in reload file");
  }
  progress.ok = result == "ok";
  progress.message = std::string((*lines)[3].value);
  return progress;
}

Result<void> write_reload_progress(const std::string& path, const ReloadProgress& progress) {
  // Advisory: lost after a crash is harmless (the daemon is gone too).
  return write_private_file_atomic(path, format_reload_progress(progress), false);
}

Result<ReloadProgress> read_reload_progress(const std::string& path) {
  auto text = read_private_file(path, 4096);
  if (!text) return std::unexpected(text.error());
  return parse_reload_progress(*text);
}

}  // namespace ckh
