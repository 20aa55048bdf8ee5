#include "refresher/json_writer.h"

namespace ckh {

std::string json_text(const Json& value) {
  // The one place a JSON text is made. error_handler_t::replace turns invalid UTF-8 into
  // U+FFFD instead of throwing; the catch keeps the promise that nothing escapes this
  // module even if nlohmann found something else to object to.
  try {
    return value.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
  } catch (const nlohmann::json::exception&) {
    return "null";
  }
}

std::string json_string(std::string_view text) {
  return json_text(Json(std::string(text)));
}

}  // namespace ckh
