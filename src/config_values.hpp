// Private to the config loader: typed reads of TOML values with validation. Each read
// reports its problem with the file, position and dotted key, and returns nullopt, so that
// the loader carries on and reports every problem of a config in one pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <toml++/toml.h>

#include "procsup/config.hpp"
#include "procsup/units.hpp"

namespace procsup::detail {

struct Position {
    int line = 0;  // 1-based; 0 when unknown
    int column = 0;
};

Position position_of(const toml::source_region& source);

// The entries of `table` in the order they appear in the file: toml::table is sorted by
// key, but services keep file order and messages read best top to bottom.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table);

// 'text', for names and values in messages.
std::string in_quotes(std::string_view text);

// "a string", "an integer", ...: for "expected X, got Y" messages.
std::string type_name(toml::node_type type);

// " (did you mean 'x'?)" naming the candidate nearest to `word` when it is at most two
// edits away and shares some letters with it; empty otherwise.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

// `text` as an absolute, lexically normalised path; a relative one is taken from `base`,
// which must be absolute.
std::filesystem::path resolve_path(const std::filesystem::path& base, std::string_view text);

// Where the value being read came from, and where problems go.
struct ReadContext {
    std::filesystem::path file;  // as shown in diagnostics
    const Environment& env;
    std::vector<ConfigDiagnostic>& diagnostics;

    void report(Position at, std::string key, std::string message) const;
};

template <class T>
struct Choice {
    std::string_view name;
    T value;
};

enum class Zero { allowed, refused };

// Reads one node; `key` is its full dotted path, used in messages.
class ValueReader {
public:
    explicit ValueReader(const ReadContext& context) : context_(context) {}

    const ReadContext& context() const { return context_; }
    void report(const toml::node& at, const std::string& key, std::string message) const;

    // A string with ${VAR} and ${VAR:-default} expanded from the environment.
    std::optional<std::string> string(const toml::node& node, const std::string& key) const;
    std::optional<std::string> non_empty_string(const toml::node& node,
                                                const std::string& key) const;
    // A string as written: for `environment` values and array `command` elements.
    std::optional<std::string> verbatim_string(const toml::node& node,
                                               const std::string& key) const;
    std::optional<bool> boolean(const toml::node& node, const std::string& key) const;
    std::optional<std::int64_t> integer(const toml::node& node, const std::string& key,
                                        std::int64_t min, std::int64_t max) const;
    std::optional<Duration> duration(const toml::node& node, const std::string& key,
                                     Zero zero) const;
    std::optional<std::uint64_t> size(const toml::node& node, const std::string& key) const;
    std::optional<int> signal(const toml::node& node, const std::string& key) const;
    std::optional<unsigned> mode(const toml::node& node, const std::string& key) const;
    std::optional<std::filesystem::path> path(const toml::node& node, const std::string& key,
                                              const std::filesystem::path& base) const;
    // An array of strings used verbatim, or a string expanded then split like a shell would.
    std::optional<std::vector<std::string>> command(const toml::node& node,
                                                    const std::string& key) const;
    std::optional<std::vector<std::string>> string_array(const toml::node& node,
                                                         const std::string& key) const;
    const toml::table* table(const toml::node& node, const std::string& key) const;

    template <class T>
    std::optional<T> choice(const toml::node& node, const std::string& key,
                            std::span<const Choice<T>> choices) const
    {
        auto text = string(node, key);
        if (!text) {
            return std::nullopt;
        }
        std::vector<std::string_view> names;
        for (const auto& option : choices) {
            if (option.name == *text) {
                return option.value;
            }
            names.push_back(option.name);
        }
        report_bad_choice(node, key, *text, names);
        return std::nullopt;
    }

private:
    void report_type(const toml::node& node, const std::string& key,
                     std::string_view expected) const;
    void report_bad_choice(const toml::node& node, const std::string& key, const std::string& text,
                           std::span<const std::string_view> names) const;

    const ReadContext& context_;
};

// The keys of one table: finds them, checks for unknown ones and forwards each read to a
// ValueReader with the key's full path.
class TableReader {
public:
    TableReader(const toml::table& table, std::string path, const ValueReader& values)
        : table_(table), path_(std::move(path)), values_(values)
    {
    }

    const toml::table& table() const { return table_; }
    const ValueReader& values() const { return values_; }
    const std::string& path() const { return path_; }
    std::string key_path(std::string_view key) const;
    Position table_position() const { return position_of(table_.source()); }
    // The position of `key` itself, or of the table when the key is absent.
    Position key_position(std::string_view key) const;
    bool has(std::string_view key) const;
    const toml::node* find(std::string_view key) const { return table_.get(key); }

    void report_at_key(std::string_view key, std::string message) const;
    // At the value of `key`, which must be present.
    void report_at_value(std::string_view key, std::string message) const;
    void report_unknown_keys(std::span<const std::string_view> known) const;

    // read("backoff", &ValueReader::duration, Zero::refused): the reader's result, or
    // nullopt when the key is absent.
    template <class Read, class... Args>
    auto read(std::string_view key, Read reader, Args&&... args) const
    {
        using Result = std::invoke_result_t<Read, const ValueReader&, const toml::node&,
                                            const std::string&, Args...>;
        const toml::node* node = find(key);
        if (node == nullptr) {
            return Result{};
        }
        return std::invoke(reader, values_, *node, key_path(key), std::forward<Args>(args)...);
    }

private:
    const toml::table& table_;
    std::string path_;
    const ValueReader& values_;
};

// Stores a value that was read successfully; leaves the default otherwise.
template <class Target, class Value>
void assign(Target& target, std::optional<Value> value)
{
    if (value) {
        target = std::move(*value);
    }
}

}  // namespace procsup::detail
