// What the refresher says when the command line names no known command: "unknown command
// 'statsu'; did you mean 'status'?" for a likely typo (the same distance rule as config
// keys), else the list of commands; with no command word at all, that a command is needed.
// Pure: takes the words CLI11 could not place, returns the one-line message (no prefix).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ckh {

std::string unknown_command_message(std::span<const std::string> unplaced,
                                    std::span<const std::string_view> commands);

}  // namespace ckh
