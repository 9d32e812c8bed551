#include "procsup/expand.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace procsup {

namespace {

bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

// A recursive-descent reader over one string; `pos_` only moves forward.
class Expander {
public:
    Expander(std::string_view text, const Environment& env) : text_(text), env_(env) {}

    // Copies text to `out` up to the end, or, inside a default, up to its closing brace
    // (left unconsumed for the caller).
    std::optional<ExpandError> expand(bool in_default, std::string& out)
    {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (in_default && c == '}') {
                return std::nullopt;
            }
            if (c == '$' && text_.substr(pos_, 2) == "${") {
                if (auto error = expand_reference(out)) {
                    return error;
                }
                continue;
            }
            out += c;
            ++pos_;
        }
        return std::nullopt;
    }

private:
    ExpandError error_at(std::size_t offset, std::string message) const
    {
        return ExpandError{offset + 1, std::move(message)};
    }

    ExpandError unterminated(std::size_t start) const
    {
        return error_at(start, "unterminated '${' (missing '}')");
    }

    std::string lookup(const std::string& name) const
    {
        auto it = env_.find(name);
        return it == env_.end() ? std::string() : it->second;
    }

    // At "${": reads NAME, then "}" or ":-default}".
    std::optional<ExpandError> expand_reference(std::string& out)
    {
        std::size_t start = pos_;
        pos_ += 2;
        std::size_t name_start = pos_;
        if (pos_ < text_.size() && is_name_start(text_[pos_])) {
            while (pos_ < text_.size() && is_name_char(text_[pos_])) {
                ++pos_;
            }
        }
        std::string name(text_.substr(name_start, pos_ - name_start));
        bool closed_later = text_.find('}', pos_) != std::string_view::npos;
        if (!closed_later) {
            return unterminated(start);
        }
        if (name.empty()) {
            return error_at(start, "invalid variable name after '${'; expected a letter or '_'");
        }
        if (text_[pos_] == '}') {
            ++pos_;
            out += lookup(name);
            return std::nullopt;
        }
        if (text_.substr(pos_, 2) != ":-") {
            return error_at(
                start, "unsupported form after '${" + name + "'; expected '}' or ':-default}'");
        }
        pos_ += 2;
        return expand_default(start, name, out);
    }

    std::optional<ExpandError> expand_default(std::size_t start, const std::string& name,
                                              std::string& out)
    {
        std::string fallback;
        if (auto error = expand(true, fallback)) {
            return error;
        }
        if (pos_ >= text_.size()) {
            return unterminated(start);
        }
        ++pos_;  // the closing brace
        std::string value = lookup(name);
        // As in sh, ":-" also replaces a variable that is set but empty.
        out += value.empty() ? fallback : value;
        return std::nullopt;
    }

    std::string_view text_;
    const Environment& env_;
    std::size_t pos_ = 0;
};

}  // namespace

ExpandResult expand_variables(std::string_view text, const Environment& env)
{
    std::string out;
    Expander expander(text, env);
    if (auto error = expander.expand(false, out)) {
        return *error;
    }
    return out;
}

}  // namespace procsup
