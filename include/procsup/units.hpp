// Parsing and printing of the units that appear in configs and on the command line:
// durations ("250ms", "30s", "5m", or whole seconds), sizes ("10MB", "512KiB", or bytes)
// and signals ("TERM", "SIGTERM", "15"). Pure functions: no I/O, no locale.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procsup {

using Duration = std::chrono::milliseconds;

// Accepts "<number><unit>" with unit ms, s, m, h (an optional fractional part, as in "1.5s"),
// or a bare non-negative integer of seconds. Compound forms with strictly decreasing units
// ("1h30m", "1s500ms") are accepted too, so that format_duration() output reads back. The
// value must be a whole number of milliseconds. Returns nullopt on anything else.
std::optional<Duration> parse_duration(std::string_view text);

// Formats as the shortest exact form: "250ms", "30s", "5m", "1h30m".
std::string format_duration(Duration d);

// Formats an uptime the way the status table shows it: "45s", "3m12s", "3h12m", "2d4h".
std::string format_uptime(Duration d);

// Accepts "<integer><unit>" with unit B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers
// of 1024), case-insensitive, or a bare non-negative integer of bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Accepts "TERM", "SIGTERM", "term" or a number from 1 to 64 (also as "SIG42", which is what
// signal_name() prints for a signal without a name). Returns the signal number.
std::optional<int> parse_signal(std::string_view text);

// "SIGTERM" for 15; "SIG42" for a number that has no name.
std::string signal_name(int signo);

// Accepts an octal mode given as a string ("0022", "022", "0o022") in [0, 07777].
std::optional<unsigned> parse_octal_mode(std::string_view text);

}  // namespace procsup
