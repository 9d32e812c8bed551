#include "procsup/shell_split.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace procsup {

namespace {

bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

// Inside double quotes a backslash only escapes the characters a shell would treat specially
// there; before any other character it stays, as in "C:\dir".
bool is_escapable_in_double_quotes(char c)
{
    return c == '"' || c == '\\' || c == '$' || c == '`';
}

class Splitter {
public:
    explicit Splitter(std::string_view text) : text_(text) {}

    std::optional<SplitError> split(std::vector<std::string>& words)
    {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            std::optional<SplitError> error;
            if (is_blank(c)) {
                finish_word(words);
                ++pos_;
            } else if (c == '\'') {
                error = take_single_quoted();
            } else if (c == '"') {
                error = take_double_quoted();
            } else if (c == '\\') {
                error = take_escaped();
            } else {
                word_ += c;
                in_word_ = true;
                ++pos_;
            }
            if (error) {
                return error;
            }
        }
        finish_word(words);
        return std::nullopt;
    }

private:
    SplitError error_at(std::size_t offset, std::string message) const
    {
        return SplitError{offset + 1, std::move(message)};
    }

    void finish_word(std::vector<std::string>& words)
    {
        if (in_word_) {
            words.push_back(std::move(word_));
            word_.clear();
            in_word_ = false;
        }
    }

    std::optional<SplitError> take_single_quoted()
    {
        std::size_t start = pos_;
        auto end = text_.find('\'', start + 1);
        if (end == std::string_view::npos) {
            return error_at(start, "unbalanced single quote");
        }
        word_.append(text_.substr(start + 1, end - start - 1));
        in_word_ = true;
        pos_ = end + 1;
        return std::nullopt;
    }

    std::optional<SplitError> take_double_quoted()
    {
        std::size_t start = pos_;
        ++pos_;
        in_word_ = true;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            char c = text_[pos_];
            char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
            if (c == '\\' && next == '\n') {
                pos_ += 2;
            } else if (c == '\\' && is_escapable_in_double_quotes(next)) {
                word_ += next;
                pos_ += 2;
            } else {
                word_ += c;
                ++pos_;
            }
        }
        if (pos_ >= text_.size()) {
            return error_at(start, "unbalanced double quote");
        }
        ++pos_;
        return std::nullopt;
    }

    std::optional<SplitError> take_escaped()
    {
        if (pos_ + 1 >= text_.size()) {
            return error_at(pos_, "trailing backslash escapes nothing");
        }
        char next = text_[pos_ + 1];
        if (next != '\n') {
            word_ += next;
            in_word_ = true;
        }
        pos_ += 2;
        return std::nullopt;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::string word_;
    bool in_word_ = false;
};

}  // namespace

SplitResult shell_split(std::string_view text)
{
    std::vector<std::string> words;
    Splitter splitter(text);
    if (auto error = splitter.split(words)) {
        return *error;
    }
    return words;
}

}  // namespace procsup
