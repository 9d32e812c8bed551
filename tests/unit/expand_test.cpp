#include "procsup/expand.hpp"

#include <string>
#include <variant>

#include <doctest/doctest.h>

namespace {

const procsup::Environment test_env{
    {"HOME", "/home/ann"}, {"PORT", "8080"}, {"EMPTY", ""}, {"NESTED", "${HOME}"}};

std::string expanded(std::string_view text)
{
    auto result = procsup::expand_variables(text, test_env);
    REQUIRE(std::holds_alternative<std::string>(result));
    return std::get<std::string>(result);
}

procsup::ExpandError failure(std::string_view text)
{
    auto result = procsup::expand_variables(text, test_env);
    REQUIRE(std::holds_alternative<procsup::ExpandError>(result));
    return std::get<procsup::ExpandError>(result);
}

}  // namespace

TEST_SUITE("expand")
{
    TEST_CASE("braced variables are replaced by their value")
    {
        CHECK(expanded("${HOME}") == "/home/ann");
        CHECK(expanded("--bind 0.0.0.0:${PORT}") == "--bind 0.0.0.0:8080");
        CHECK(expanded("${HOME}/x:${PORT}") == "/home/ann/x:8080");
        CHECK(expanded("a${PORT}b") == "a8080b");
    }

    TEST_CASE("an unset variable expands to nothing")
    {
        CHECK(expanded("[${NOPE}]") == "[]");
    }

    TEST_CASE("the default applies when the variable is unset or empty")
    {
        CHECK(expanded("${NOPE:-5000}") == "5000");
        CHECK(expanded("${EMPTY:-5000}") == "5000");
        CHECK(expanded("${PORT:-5000}") == "8080");
        CHECK(expanded("${NOPE:-}") == "");
        CHECK(expanded("${NOPE:-a b:c-d}") == "a b:c-d");
    }

    TEST_CASE("a default may itself contain variables")
    {
        CHECK(expanded("${NOPE:-${HOME}/data}") == "/home/ann/data");
        CHECK(expanded("${NOPE:-${ALSO_NOPE:-x}}") == "x");
    }

    TEST_CASE("values are inserted literally and not expanded again")
    {
        CHECK(expanded("${NESTED}") == "${HOME}");
    }

    TEST_CASE("a dollar without braces is literal")
    {
        CHECK(expanded("$HOME") == "$HOME");
        CHECK(expanded("$") == "$");
        CHECK(expanded("100$") == "100$");
        CHECK(expanded("$$") == "$$");
        CHECK(expanded("$${PORT}") == "$8080");
        CHECK(expanded("a $ b") == "a $ b");
        CHECK(expanded("{PORT}") == "{PORT}");
        CHECK(expanded("") == "");
    }

    TEST_CASE("an unterminated reference is an error at its dollar sign")
    {
        auto error = failure("abc${HOME");
        CHECK(error.column == 4);
        CHECK(error.message.find("unterminated") != std::string::npos);
        CHECK(failure("${").column == 1);
        CHECK(failure("${NOPE:-x").column == 1);
        CHECK(failure("x ${NOPE:-${HOME}").column == 3);
    }

    TEST_CASE("malformed references are errors")
    {
        CHECK(failure("${}").message.find("invalid variable name") != std::string::npos);
        CHECK(failure("${1A}").message.find("invalid variable name") != std::string::npos);
        CHECK(failure("${A-b}").message.find("expected '}' or ':-default}'") != std::string::npos);
        CHECK(failure("${A:=b}").column == 1);
        CHECK(failure("ok ${A B}").column == 4);
    }
}
