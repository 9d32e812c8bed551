// Reads the last lines of a log file without reading the whole file, for `procsup logs -n`.
// Blocking reads of a regular file: cheap enough on the event loop, and bounded in bytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace procsup {

// At most this many bytes are read from the end of one file, whatever `count` asks for.
inline constexpr std::size_t max_tail_bytes = 16 * 1024 * 1024;

// The last `count` lines of `file`, oldest first, without their newlines. A last line without
// a newline counts as a line. Fails with the error of open(2) or read(2).
std::vector<std::string> read_last_lines(const std::filesystem::path& file, std::size_t count,
                                         std::error_code& ec);

}  // namespace procsup
