// Expansion of `${VAR}` and `${VAR:-default}` in config strings, against an environment given
// by the caller (the daemon's, or a test's). Only the braced forms are special: a lone `$`,
// `$$` and `$HOME` stay as written, so that most strings need no escaping. There is no
// escape for a literal `${`; put such an argument in an array `command`, which is never
// expanded. Pure: no I/O.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace procsup {

// Variable name to value, as in environ.
using Environment = std::map<std::string, std::string>;

// Why a string could not be expanded, e.g. {4, "unterminated '${'"}.
struct ExpandError {
    std::size_t column = 0;  // 1-based position in the input where the problem starts
    std::string message;
};

using ExpandResult = std::variant<std::string, ExpandError>;

// Replaces every `${NAME}` with its value (empty when unset) and every `${NAME:-default}`
// with the value, or with the expanded default when NAME is unset or empty. NAME is
// [A-Za-z_][A-Za-z0-9_]*; defaults may contain further `${...}`. An unterminated `${` or a
// malformed reference such as `${}` or `${A-b}` is an error.
ExpandResult expand_variables(std::string_view text, const Environment& env);

}  // namespace procsup
