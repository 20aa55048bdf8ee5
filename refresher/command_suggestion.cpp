#include "refresher/command_suggestion.h"

#include "refresher/config_section.h"
#include "shared/text.h"

namespace ckh {

std::string unknown_command_message(std::span<const std::string> unplaced,
                                    std::span<const std::string_view> commands) {
  std::string list;
  for (const auto command : commands) {
    if (!list.empty()) list += ", ";
    list += command;
  }
  // The first word that is not an option is what the user meant as the command; options
  // before it were either the top level's (--config) or are reported by CLI11 otherwise.
  for (const auto& word : unplaced) {
    if (word.empty() || word.front() == '-') continue;
    std::string message = "unknown command '" + one_line(word, 64) + "'";
    if (auto near = suggest_key(word, commands)) {
      message += "; did you mean '";
      message += *near;
      message += "'?";
    } else {
      message += "; the commands are " + list;
    }
    return message;
  }
  return "a command is required (" + list + "); run: claude-key-refresher --help";
}

}  // namespace ckh
