#include "procsup/units.hpp"

#include <csignal>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace procsup {

namespace {

using std::int64_t;
using std::uint64_t;

constexpr int max_signal = 64;  // SIGRTMAX on Linux

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) {
            return false;
        }
    }
    return true;
}

// Reads a run of decimal digits at the front of `text` and removes it. Returns nullopt when
// there is no digit or the value does not fit in 64 bits.
std::optional<uint64_t> take_digits(std::string_view& text)
{
    std::size_t n = 0;
    uint64_t value = 0;
    while (n < text.size() && is_digit(text[n])) {
        auto digit = static_cast<uint64_t>(text[n] - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
            return std::nullopt;
        }
        value = value * 10 + digit;
        ++n;
    }
    if (n == 0) {
        return std::nullopt;
    }
    text.remove_prefix(n);
    return value;
}

std::optional<uint64_t> checked_multiply(uint64_t a, uint64_t b)
{
    if (b != 0 && a > std::numeric_limits<uint64_t>::max() / b) {
        return std::nullopt;
    }
    return a * b;
}

// Milliseconds per duration unit; 0 for an unknown unit. Longest units are listed first so
// that "ms" is not read as "m" followed by garbage.
uint64_t duration_unit_ms(std::string_view& text)
{
    struct Unit {
        std::string_view name;
        uint64_t ms;
    };
    static constexpr Unit units[] = {{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
    for (const auto& unit : units) {
        if (text.substr(0, unit.name.size()) == unit.name) {
            text.remove_prefix(unit.name.size());
            return unit.ms;
        }
    }
    return 0;
}

// The value of a fractional part ".5" in units of `unit_ms`, which must come out as whole
// milliseconds: "1.5s" is fine, "0.5ms" is not.
std::optional<uint64_t> take_fraction_ms(std::string_view& text, uint64_t unit_ms)
{
    std::size_t n = 0;
    uint64_t numerator = 0;
    uint64_t denominator = 1;
    while (n < text.size() && is_digit(text[n])) {
        if (n == 9) {
            return std::nullopt;  // finer than a nanosecond cannot be whole milliseconds
        }
        numerator = numerator * 10 + static_cast<uint64_t>(text[n] - '0');
        denominator *= 10;
        ++n;
    }
    if (n == 0) {
        return std::nullopt;
    }
    text.remove_prefix(n);
    uint64_t scaled = numerator * unit_ms;  // < 1e9 * 3.6e6: no overflow
    if (scaled % denominator != 0) {
        return std::nullopt;
    }
    return scaled / denominator;
}

// One "<number>[.<fraction>]<unit>" component, added to `total_ms`. `last_unit_ms` enforces
// strictly decreasing units in compound forms such as "1h30m".
bool take_duration_component(std::string_view& text, uint64_t& total_ms, uint64_t& last_unit_ms)
{
    auto whole = take_digits(text);
    if (!whole) {
        return false;
    }
    bool has_fraction = !text.empty() && text.front() == '.';
    std::string_view fraction_text;
    if (has_fraction) {
        text.remove_prefix(1);
        auto end = text.find_first_not_of("0123456789");
        fraction_text = text.substr(0, end);
        text.remove_prefix(fraction_text.size());
    }
    uint64_t unit_ms = duration_unit_ms(text);
    if (unit_ms == 0 || unit_ms >= last_unit_ms) {
        return false;
    }
    last_unit_ms = unit_ms;

    auto ms = checked_multiply(*whole, unit_ms);
    if (!ms) {
        return false;
    }
    if (has_fraction) {
        // A fraction only makes sense on the last component ("1.5s", not "1.5m30s").
        auto fraction_ms = take_fraction_ms(fraction_text, unit_ms);
        if (!fraction_ms || !text.empty()) {
            return false;
        }
        *ms += *fraction_ms;
    }
    if (*ms > std::numeric_limits<uint64_t>::max() - total_ms) {
        return false;
    }
    total_ms += *ms;
    return true;
}

std::optional<Duration> to_duration(uint64_t ms)
{
    if (ms > static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max())) {
        return std::nullopt;
    }
    return Duration(static_cast<Duration::rep>(ms));
}

struct SignalName {
    std::string_view name;  // without the "SIG" prefix
    int number;
};

// The signals a user may name; IOT and POLL are aliases, so they come after the main name.
constexpr SignalName signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},   {"IOT", SIGIOT},
    {"POLL", SIGPOLL},
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    if (text.find_first_not_of("0123456789") == std::string_view::npos) {
        auto seconds = take_digits(text);
        if (!seconds) {
            return std::nullopt;
        }
        auto ms = checked_multiply(*seconds, 1000);
        return ms ? to_duration(*ms) : std::nullopt;
    }

    uint64_t total_ms = 0;
    uint64_t last_unit_ms = std::numeric_limits<uint64_t>::max();
    while (!text.empty()) {
        if (!take_duration_component(text, total_ms, last_unit_ms)) {
            return std::nullopt;
        }
    }
    return to_duration(total_ms);
}

std::string format_duration(Duration d)
{
    if (d.count() == 0) {
        return "0s";
    }
    std::string out;
    // Work on the magnitude as unsigned so that the most negative value cannot overflow.
    uint64_t ms = static_cast<uint64_t>(d.count());
    if (d.count() < 0) {
        out = "-";
        ms = ~ms + 1;
    }
    const std::pair<uint64_t, std::string_view> units[] = {
        {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    for (const auto& [unit_ms, name] : units) {
        if (ms >= unit_ms) {
            out += std::to_string(ms / unit_ms);
            out += name;
            ms %= unit_ms;
        }
    }
    return out;
}

std::string format_uptime(Duration d)
{
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(d).count();
    if (seconds < 0) {
        seconds = 0;
    }
    constexpr long long minute = 60;
    constexpr long long hour = 60 * minute;
    constexpr long long day = 24 * hour;
    auto s = static_cast<long long>(seconds);
    if (s < minute) {
        return std::to_string(s) + "s";
    }
    if (s < hour) {
        return std::to_string(s / minute) + "m" + std::to_string(s % minute) + "s";
    }
    if (s < day) {
        return std::to_string(s / hour) + "h" + std::to_string(s % hour / minute) + "m";
    }
    return std::to_string(s / day) + "d" + std::to_string(s % day / hour) + "h";
}

std::optional<std::uint64_t> parse_size(std::string_view text)
{
    auto value = take_digits(text);
    if (!value) {
        return std::nullopt;
    }
    if (text.empty()) {
        return value;
    }
    struct Unit {
        std::string_view name;
        uint64_t bytes;
    };
    static constexpr Unit units[] = {
        {"B", 1},
        {"KB", 1'000},
        {"MB", 1'000'000},
        {"GB", 1'000'000'000},
        {"TB", 1'000'000'000'000},
        {"KiB", uint64_t{1} << 10},
        {"MiB", uint64_t{1} << 20},
        {"GiB", uint64_t{1} << 30},
        {"TiB", uint64_t{1} << 40},
    };
    for (const auto& unit : units) {
        if (equals_ignoring_case(text, unit.name)) {
            return checked_multiply(*value, unit.bytes);
        }
    }
    return std::nullopt;
}

std::optional<int> parse_signal(std::string_view text)
{
    // "SIG42" is what signal_name() prints for a signal without a name: read it back.
    if (text.size() > 3 && equals_ignoring_case(text.substr(0, 3), "SIG") && is_digit(text[3])) {
        text.remove_prefix(3);
    }
    if (!text.empty() && is_digit(text.front())) {
        auto number = take_digits(text);
        if (!number || !text.empty() || *number < 1 || *number > max_signal) {
            return std::nullopt;
        }
        return static_cast<int>(*number);
    }
    if (text.size() > 3 && equals_ignoring_case(text.substr(0, 3), "SIG")) {
        text.remove_prefix(3);
    }
    for (const auto& signal : signal_names) {
        if (equals_ignoring_case(text, signal.name)) {
            return signal.number;
        }
    }
    return std::nullopt;
}

std::string signal_name(int signo)
{
    for (const auto& signal : signal_names) {
        if (signal.number == signo) {
            return "SIG" + std::string(signal.name);
        }
    }
    return "SIG" + std::to_string(signo);
}

std::optional<unsigned> parse_octal_mode(std::string_view text)
{
    if (text.size() > 2 && (text.substr(0, 2) == "0o" || text.substr(0, 2) == "0O")) {
        text.remove_prefix(2);
    }
    if (text.empty() || text.size() > 5) {
        return std::nullopt;
    }
    unsigned mode = 0;
    for (char c : text) {
        if (c < '0' || c > '7') {
            return std::nullopt;
        }
        mode = mode * 8 + static_cast<unsigned>(c - '0');
    }
    if (mode > 07777) {
        return std::nullopt;
    }
    return mode;
}

}  // namespace procsup
