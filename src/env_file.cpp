#include "procsup/env_file.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace procsup {

namespace {

constexpr std::string_view blanks = " \t\r";

std::string_view trim(std::string_view text)
{
    auto first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) {
        return {};
    }
    auto last = text.find_last_not_of(blanks);
    return text.substr(first, last - first + 1);
}

bool is_variable_name(std::string_view name)
{
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
        return false;
    }
    for (char c : name) {
        bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// Removes one pair of matching outer quotes; an opening quote without its partner is an
// error (nullopt) because the rest of the value would silently change meaning.
std::optional<std::string_view> unquote(std::string_view value)
{
    if (value.empty() || (value.front() != '"' && value.front() != '\'')) {
        return value;
    }
    if (value.size() < 2 || value.back() != value.front()) {
        return std::nullopt;
    }
    return value.substr(1, value.size() - 2);
}

void parse_line(std::string_view line, std::size_t number, EnvFileContents& contents)
{
    line = trim(line);
    if (line.empty() || line.front() == '#') {
        return;
    }
    if (line.substr(0, 7) == "export " || line.substr(0, 7) == "export\t") {
        line = trim(line.substr(7));
    }
    auto equals = line.find('=');
    if (equals == std::string_view::npos) {
        contents.errors.push_back({number, "expected KEY=VALUE"});
        return;
    }
    auto name = trim(line.substr(0, equals));
    if (!is_variable_name(name)) {
        contents.errors.push_back({number, "invalid variable name '" + std::string(name) + "'"});
        return;
    }
    auto value = unquote(trim(line.substr(equals + 1)));
    if (!value) {
        contents.errors.push_back(
            {number, "unterminated quote in the value of " + std::string(name)});
        return;
    }
    contents.entries.emplace_back(std::string(name), std::string(*value));
}

}  // namespace

EnvFileContents parse_env_file(std::string_view text)
{
    EnvFileContents contents;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        auto end = text.find('\n');
        parse_line(text.substr(0, end), number, contents);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return contents;
}

}  // namespace procsup
