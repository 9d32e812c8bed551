#include "config_values.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "procsup/expand.hpp"
#include "procsup/shell_split.hpp"

namespace procsup::detail {

namespace {

// Levenshtein distance with one row of memory; keys are short.
std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string in_quotes(std::string_view text)
{
    // Built by appending: `"'" + std::string(...)` trips GCC 12's -Wrestrict false positive
    // at -O3 (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105651).
    std::string result;
    result.reserve(text.size() + 2);
    result.append(1, '\'').append(text).append(1, '\'');
    return result;
}

std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table)
{
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [key, node] : table) {
        entries.emplace_back(&key, &node);
    }
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return std::tie(x.line, x.column) < std::tie(y.line, y.column);
    });
    return entries;
}

Position position_of(const toml::source_region& source)
{
    return Position{static_cast<int>(source.begin.line), static_cast<int>(source.begin.column)};
}

std::string type_name(toml::node_type type)
{
    switch (type) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates)
{
    constexpr std::size_t max_distance = 2;
    std::string_view best;
    std::size_t best_distance = max_distance + 1;
    for (auto candidate : candidates) {
        std::size_t distance = edit_distance(word, candidate);
        // Two edits turn "db" into "web": a hint needs some letters in common to help.
        bool shares_letters = distance < std::min(word.size(), candidate.size());
        if (distance < best_distance && shares_letters) {
            best = candidate;
            best_distance = distance;
        }
    }
    if (best_distance > max_distance) {
        return {};
    }
    return " (did you mean " + in_quotes(best) + "?)";
}

std::filesystem::path resolve_path(const std::filesystem::path& base, std::string_view text)
{
    std::filesystem::path path(text);
    if (path.is_relative()) {
        path = base / path;
    }
    path = path.lexically_normal();
    // "/var/log/" normalises to "/var/log/" with an empty file name; drop it so that equal
    // directories compare equal.
    if (!path.has_filename() && path.has_relative_path()) {
        path = path.parent_path();
    }
    return path;
}

void ReadContext::report(Position at, std::string key, std::string message) const
{
    diagnostics.push_back(
        ConfigDiagnostic{file, at.line, at.column, std::move(key), std::move(message)});
}

void ValueReader::report(const toml::node& at, const std::string& key, std::string message) const
{
    context_.report(position_of(at.source()), key, std::move(message));
}

void ValueReader::report_type(const toml::node& node, const std::string& key,
                              std::string_view expected) const
{
    report(node, key, "expected " + std::string(expected) + ", got " + type_name(node.type()));
}

void ValueReader::report_bad_choice(const toml::node& node, const std::string& key,
                                    const std::string& text,
                                    std::span<const std::string_view> names) const
{
    std::string list;
    for (auto name : names) {
        list += (list.empty() ? "" : ", ") + std::string(name);
    }
    report(node, key,
           "invalid value " + in_quotes(text) + "; expected one of " + list +
               did_you_mean(text, names));
}

std::optional<std::string> ValueReader::verbatim_string(const toml::node& node,
                                                        const std::string& key) const
{
    if (!node.is_string()) {
        report_type(node, key, "a string");
        return std::nullopt;
    }
    return node.as_string()->get();
}

std::optional<std::string> ValueReader::string(const toml::node& node, const std::string& key) const
{
    auto text = verbatim_string(node, key);
    if (!text) {
        return std::nullopt;
    }
    auto result = expand_variables(*text, context_.env);
    if (auto* error = std::get_if<ExpandError>(&result)) {
        report(node, key, error->message + " at character " + std::to_string(error->column));
        return std::nullopt;
    }
    return std::get<std::string>(std::move(result));
}

std::optional<std::string> ValueReader::non_empty_string(const toml::node& node,
                                                         const std::string& key) const
{
    auto text = string(node, key);
    if (text && text->empty()) {
        report(node, key, "must not be empty");
        return std::nullopt;
    }
    return text;
}

std::optional<bool> ValueReader::boolean(const toml::node& node, const std::string& key) const
{
    if (!node.is_boolean()) {
        report_type(node, key, "a boolean (true or false)");
        return std::nullopt;
    }
    return node.as_boolean()->get();
}

std::optional<std::int64_t> ValueReader::integer(const toml::node& node, const std::string& key,
                                                 std::int64_t min, std::int64_t max) const
{
    if (!node.is_integer()) {
        report_type(node, key, "an integer");
        return std::nullopt;
    }
    std::int64_t value = node.as_integer()->get();
    if (value < min || value > max) {
        std::string range = max == std::numeric_limits<std::int64_t>::max()
                                ? "at least " + std::to_string(min)
                                : "from " + std::to_string(min) + " to " + std::to_string(max);
        report(node, key, "value " + std::to_string(value) + " is out of range; expected " + range);
        return std::nullopt;
    }
    return value;
}

constexpr Duration max_config_duration = std::chrono::hours(24 * 365);

std::optional<Duration> ValueReader::duration(const toml::node& node, const std::string& key,
                                              Zero zero) const
{
    std::optional<Duration> value;
    if (node.is_integer()) {
        std::int64_t seconds = node.as_integer()->get();
        constexpr std::int64_t max_seconds = std::numeric_limits<Duration::rep>::max() / 1000;
        if (seconds < 0 || seconds > max_seconds) {
            report(node, key,
                   "invalid duration " + std::to_string(seconds) +
                       "; expected a non-negative number of seconds");
            return std::nullopt;
        }
        value = std::chrono::seconds(seconds);
    } else if (node.is_string()) {
        auto text = string(node, key);
        if (!text) {
            return std::nullopt;
        }
        value = parse_duration(*text);
        if (!value) {
            report(node, key,
                   "invalid duration " + in_quotes(*text) +
                       "; expected a number with a unit (\"250ms\", \"30s\", "
                       "\"5m\", \"1h\") or an integer of seconds");
            return std::nullopt;
        }
    } else {
        report_type(node, key, "a duration (a string such as \"30s\" or an integer of seconds)");
        return std::nullopt;
    }
    if (zero == Zero::refused && value->count() == 0) {
        report(node, key, "must be longer than 0s");
        return std::nullopt;
    }
    // Timers count in nanoseconds: far longer spans overflow them, and no supervisor
    // setting means anything beyond a year.
    if (*value > max_config_duration) {
        report(node, key, "must be at most 365 days");
        return std::nullopt;
    }
    return value;
}

std::optional<std::uint64_t> ValueReader::size(const toml::node& node, const std::string& key) const
{
    if (node.is_integer()) {
        std::int64_t bytes = node.as_integer()->get();
        if (bytes < 0) {
            report(node, key, "invalid size " + std::to_string(bytes) + "; must not be negative");
            return std::nullopt;
        }
        return static_cast<std::uint64_t>(bytes);
    }
    if (!node.is_string()) {
        report_type(node, key, "a size (a string such as \"10MB\" or an integer of bytes)");
        return std::nullopt;
    }
    auto text = string(node, key);
    if (!text) {
        return std::nullopt;
    }
    auto bytes = parse_size(*text);
    if (!bytes) {
        report(node, key,
               "invalid size " + in_quotes(*text) +
                   "; expected an integer with a unit (B, KB, MB, GB, KiB, MiB, GiB) "
                   "or an integer of bytes");
    }
    return bytes;
}

std::optional<int> ValueReader::signal(const toml::node& node, const std::string& key) const
{
    if (node.is_integer()) {
        auto number = integer(node, key, 1, 64);
        return number ? std::optional<int>(static_cast<int>(*number)) : std::nullopt;
    }
    if (!node.is_string()) {
        report_type(node, key, "a signal (a name such as \"TERM\" or a number)");
        return std::nullopt;
    }
    auto text = string(node, key);
    if (!text) {
        return std::nullopt;
    }
    auto number = parse_signal(*text);
    if (!number) {
        report(node, key,
               "unknown signal " + in_quotes(*text) +
                   "; expected a name such as \"TERM\" or \"SIGHUP\", or 1 to 64");
    }
    return number;
}

std::optional<unsigned> ValueReader::mode(const toml::node& node, const std::string& key) const
{
    constexpr unsigned max_mode = 0777;
    std::optional<unsigned> value;
    if (node.is_integer()) {
        // TOML reads 0o022 as the integer 18, which is the mode meant.
        auto number = integer(node, key, 0, max_mode);
        return number ? std::optional<unsigned>(static_cast<unsigned>(*number)) : std::nullopt;
    }
    if (!node.is_string()) {
        report_type(node, key, "an octal mode (a string such as \"0022\" or an integer)");
        return std::nullopt;
    }
    auto text = string(node, key);
    if (!text) {
        return std::nullopt;
    }
    value = parse_octal_mode(*text);
    if (!value) {
        report(
            node, key,
            "invalid octal mode " + in_quotes(*text) + "; expected octal digits such as \"0022\"");
        return std::nullopt;
    }
    if (*value > max_mode) {
        report(node, key, "mode " + in_quotes(*text) + " is out of range; expected 0000 to 0777");
        return std::nullopt;
    }
    return value;
}

std::optional<std::filesystem::path> ValueReader::path(const toml::node& node,
                                                       const std::string& key,
                                                       const std::filesystem::path& base) const
{
    auto text = non_empty_string(node, key);
    if (!text) {
        return std::nullopt;
    }
    return resolve_path(base, *text);
}

std::optional<std::vector<std::string>> ValueReader::command(const toml::node& node,
                                                             const std::string& key) const
{
    std::vector<std::string> argv;
    if (const auto* array = node.as_array()) {
        bool ok = true;
        for (std::size_t i = 0; i < array->size(); ++i) {
            auto word = verbatim_string((*array)[i], key + "[" + std::to_string(i) + "]");
            ok = ok && word.has_value();
            argv.push_back(word.value_or(""));
        }
        if (!ok) {
            return std::nullopt;
        }
    } else if (node.is_string()) {
        auto text = string(node, key);
        if (!text) {
            return std::nullopt;
        }
        auto words = shell_split(*text);
        if (auto* error = std::get_if<SplitError>(&words)) {
            report(node, key,
                   error->message + " at character " + std::to_string(error->column) +
                       " of the command");
            return std::nullopt;
        }
        argv = std::get<std::vector<std::string>>(std::move(words));
    } else {
        report_type(node, key, "a command (an array of strings or a string)");
        return std::nullopt;
    }
    if (argv.empty() || argv.front().empty()) {
        report(node, key,
               argv.empty() ? "the command is empty" : "the program name (first word) is empty");
        return std::nullopt;
    }
    return argv;
}

std::optional<std::vector<std::string>> ValueReader::string_array(const toml::node& node,
                                                                  const std::string& key) const
{
    const auto* array = node.as_array();
    if (array == nullptr) {
        report_type(node, key, "an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> items;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        auto item = string((*array)[i], key + "[" + std::to_string(i) + "]");
        ok = ok && item.has_value();
        items.push_back(item.value_or(""));
    }
    return ok ? std::optional(std::move(items)) : std::nullopt;
}

const toml::table* ValueReader::table(const toml::node& node, const std::string& key) const
{
    const auto* table = node.as_table();
    if (table == nullptr) {
        report_type(node, key, "a table");
    }
    return table;
}

std::string TableReader::key_path(std::string_view key) const
{
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool TableReader::has(std::string_view key) const
{
    return table_.find(key) != table_.end();
}

Position TableReader::key_position(std::string_view key) const
{
    auto it = table_.find(key);
    return it == table_.end() ? table_position() : position_of(it->first.source());
}

void TableReader::report_at_key(std::string_view key, std::string message) const
{
    values_.context().report(key_position(key), key_path(key), std::move(message));
}

void TableReader::report_at_value(std::string_view key, std::string message) const
{
    values_.report(*find(key), key_path(key), std::move(message));
}

void TableReader::report_unknown_keys(std::span<const std::string_view> known) const
{
    for (auto [key, node] : in_file_order(table_)) {
        if (std::find(known.begin(), known.end(), key->str()) != known.end()) {
            continue;
        }
        values_.context().report(
            position_of(key->source()), key_path(key->str()),
            "unknown key " + in_quotes(key->str()) + did_you_mean(key->str(), known));
    }
}

}  // namespace procsup::detail
