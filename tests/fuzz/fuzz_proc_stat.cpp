// libFuzzer target for parse_proc_stat (shared/proc_stat.h): the helper parses
// /proc/<pid>/stat of its parent and grandparent, whose comm field the other process
// chooses (it may hold spaces, parentheses, newlines, anything but NUL).
// Properties (a violation is __builtin_trap):
// 1. Never crashes, hangs, leaks or trips a sanitizer, whatever the bytes.
// 2. Differential against a simpler reference: comm is the text between the first '(' and
//    the LAST ')'; after it, fields are separated by runs of ' ' and the line ends at the
//    first '\n'; field 4 is ppid (signed decimal), field 22 the start time (unsigned
//    decimal). The parser returns a value exactly when the reference finds both, and the
//    same values.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/proc_stat.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

std::optional<ckh::ProcStat> reference_parse(std::string_view text) {
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  rest = rest.substr(0, rest.find('\n'));
  std::vector<std::string_view> fields;  // fields[0] is field 3
  std::size_t i = 0;
  while (i < rest.size() && fields.size() < 20) {
    if (rest[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(rest.find(' ', i), rest.size());
    fields.push_back(rest.substr(i, end - i));
    i = end;
  }
  if (fields.size() < 20) return std::nullopt;
  const auto ppid = ckh::parse_i64(fields[1]);
  const auto start = ckh::parse_u64(fields[19]);
  if (!ppid || !start) return std::nullopt;
  return ckh::ProcStat{std::string(text.substr(open + 1, close - open - 1)),
                       static_cast<long>(*ppid), *start};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<ckh::ProcStat> stat = ckh::parse_proc_stat(text);
  const std::optional<ckh::ProcStat> expected = reference_parse(text);
  CKH_FUZZ_CHECK(stat.has_value() == expected.has_value(),
                 "parse_proc_stat and the reference disagree on acceptance");
  if (!stat) return 0;
  CKH_FUZZ_CHECK(stat->comm == expected->comm, "comm differs from the reference");
  CKH_FUZZ_CHECK(stat->ppid == expected->ppid, "ppid differs from the reference");
  CKH_FUZZ_CHECK(stat->start_time == expected->start_time, "start_time differs from the reference");
  return 0;
}
