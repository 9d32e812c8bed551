// Splits a string `command` into argv the way a POSIX shell splits words, without running a
// shell: no variable expansion, no globbing, no `~`, no operators (`|`, `;`, `&&` are plain
// characters). Use ["sh", "-c", "..."] when a shell is wanted. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace procsup {

// Why a command could not be split, e.g. {7, "unbalanced double quote"}.
struct SplitError {
    std::size_t column = 0;  // 1-based position in the input where the problem starts
    std::string message;
};

using SplitResult = std::variant<std::vector<std::string>, SplitError>;

// Words are separated by unquoted spaces, tabs and newlines.
// - 'single quotes' keep everything literally up to the next single quote;
// - "double quotes" keep everything literally except \" \\ \$ \` (the backslash is removed)
//   and backslash-newline (removed entirely);
// - outside quotes a backslash keeps the next character literally (backslash-newline is
//   removed);
// - quotes join with adjacent text ("a"'b'c is one word abc), and '' or "" makes an empty
//   word.
// An unbalanced quote or a trailing backslash is an error.
SplitResult shell_split(std::string_view text);

}  // namespace procsup
