#include "procsup/shell_split.hpp"

#include <string>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

namespace {

using Words = std::vector<std::string>;

Words split(std::string_view text)
{
    auto result = procsup::shell_split(text);
    REQUIRE(std::holds_alternative<Words>(result));
    return std::get<Words>(result);
}

procsup::SplitError failure(std::string_view text)
{
    auto result = procsup::shell_split(text);
    REQUIRE(std::holds_alternative<procsup::SplitError>(result));
    return std::get<procsup::SplitError>(result);
}

}  // namespace

TEST_SUITE("shell_split")
{
    TEST_CASE("words are separated by runs of blanks")
    {
        CHECK(split("gunicorn --bind 127.0.0.1:5000 app:app") ==
              Words{"gunicorn", "--bind", "127.0.0.1:5000", "app:app"});
        CHECK(split("  a \t b\n c  ") == Words{"a", "b", "c"});
        CHECK(split("").empty());
        CHECK(split("   ").empty());
    }

    TEST_CASE("single quotes keep everything literally")
    {
        CHECK(split("echo 'a  b' 'c\\d' '$HOME' '\"'") ==
              Words{"echo", "a  b", "c\\d", "$HOME", "\""});
    }

    TEST_CASE("double quotes keep blanks and unescape only the shell's special characters")
    {
        CHECK(split(R"(echo "a  b")") == Words{"echo", "a  b"});
        CHECK(split(R"("say \"hi\"")") == Words{"say \"hi\""});
        CHECK(split(R"("a\\b" "\$HOME" "\`x\`")") == Words{"a\\b", "$HOME", "`x`"});
        CHECK(split(R"("C:\dir\n")") == Words{"C:\\dir\\n"});
        CHECK(split("\"line\\\ncontinued\"") == Words{"linecontinued"});
        CHECK(split(R"("it's")") == Words{"it's"});
    }

    TEST_CASE("a backslash outside quotes keeps the next character")
    {
        CHECK(split(R"(a\ b c\"d \\ \')") == Words{"a b", "c\"d", "\\", "'"});
        CHECK(split("a\\\nb") == Words{"ab"});
    }

    TEST_CASE("quoted parts join adjacent text and empty quotes make empty words")
    {
        CHECK(split(R"(--opt="a b"'c'd)") == Words{"--opt=a bcd"});
        CHECK(split(R"(x '' "" y)") == Words{"x", "", "", "y"});
    }

    TEST_CASE("nothing is expanded, globbed or treated as an operator")
    {
        CHECK(split("ls * ~ $HOME ${PATH} a|b c;d && %s") ==
              Words{"ls", "*", "~", "$HOME", "${PATH}", "a|b", "c;d", "&&", "%s"});
    }

    TEST_CASE("an unbalanced quote is an error at the opening quote")
    {
        auto error = failure("echo 'abc");
        CHECK(error.column == 6);
        CHECK(error.message == "unbalanced single quote");
        error = failure(R"(a "b\")");
        CHECK(error.column == 3);
        CHECK(error.message == "unbalanced double quote");
        CHECK(failure(R"('ok' "x)").column == 6);
    }

    TEST_CASE("a trailing backslash is an error")
    {
        auto error = failure("abc \\");
        CHECK(error.column == 5);
        CHECK(error.message.find("backslash") != std::string::npos);
    }
}
