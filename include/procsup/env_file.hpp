// The format of an `env_file`: one KEY=VALUE per line, as written by hand or by Docker
// tooling. Pure: the caller reads the file.
//
// - blank lines and lines whose first non-blank character is `#` are skipped;
// - a leading `export ` is ignored, so the file can also be sourced by sh;
// - KEY is [A-Za-z_][A-Za-z0-9_]*; blanks around KEY and around an unquoted value are
//   dropped;
// - a value wholly enclosed in matching single or double quotes loses the quotes and keeps
//   everything inside verbatim (no escapes, no expansion); a `#` after the value is part of
//   the value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace procsup {

struct EnvFileError {
    std::size_t line = 0;  // 1-based
    std::string message;
};

struct EnvFileContents {
    std::vector<std::pair<std::string, std::string>> entries;  // in file order; later wins
    std::vector<EnvFileError> errors;                          // every bad line
};

EnvFileContents parse_env_file(std::string_view text);

}  // namespace procsup
