#include "procsup/env_file.hpp"

#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_SUITE("env_file")
{
    TEST_CASE("KEY=VALUE lines are read in order and comments and blank lines are skipped")
    {
        auto contents = procsup::parse_env_file("# comment\n\nA=1\n  # indented comment\nB=two\n");
        CHECK(contents.errors.empty());
        CHECK(contents.entries == Entries{{"A", "1"}, {"B", "two"}});
    }

    TEST_CASE("an export prefix, blanks around the key and CRLF endings are ignored")
    {
        auto contents = procsup::parse_env_file("export A=1\r\n  B = 2  \r\nexport\tC=3");
        CHECK(contents.errors.empty());
        CHECK(contents.entries == Entries{{"A", "1"}, {"B", "2"}, {"C", "3"}});
    }

    TEST_CASE("matching outer quotes are removed and the inside is kept verbatim")
    {
        auto contents = procsup::parse_env_file(
            "A=\"a b  c\"\nB='${HOME} \"x\"'\nC=\"\"\nD=it's\nE=k=v=w\nF=a#b\nG=\"a\\nb\"");
        CHECK(contents.errors.empty());
        CHECK(contents.entries == Entries{{"A", "a b  c"},
                                          {"B", "${HOME} \"x\""},
                                          {"C", ""},
                                          {"D", "it's"},
                                          {"E", "k=v=w"},
                                          {"F", "a#b"},
                                          {"G", "a\\nb"}});
    }

    TEST_CASE("every bad line is reported with its number")
    {
        auto contents =
            procsup::parse_env_file("OK=1\nno equals\n1X=2\nA-B=3\nQ=\"open\nR='x\"\n=5\n");
        CHECK(contents.entries == Entries{{"OK", "1"}});
        REQUIRE(contents.errors.size() == 6);
        CHECK(contents.errors[0].line == 2);
        CHECK(contents.errors[0].message == "expected KEY=VALUE");
        CHECK(contents.errors[1].line == 3);
        CHECK(contents.errors[2].line == 4);
        CHECK(contents.errors[3].line == 5);
        CHECK(contents.errors[3].message.find("unterminated quote") != std::string::npos);
        CHECK(contents.errors[4].line == 6);
        CHECK(contents.errors[5].line == 7);
    }

    TEST_CASE("an empty file has no entries")
    {
        CHECK(procsup::parse_env_file("").entries.empty());
        CHECK(procsup::parse_env_file("\n\n").errors.empty());
    }
}
