#include "procsup/rotating_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "os_test_helpers.hpp"

using namespace procsup;
using namespace procsup::test;

namespace {

std::string numbered_line(int n)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "line %04d\n", n);
    return buffer;
}

std::string backup(const fs::path& path, int index)
{
    return path.string() + "." + std::to_string(index);
}

// The contents of x.N ... x.1, x concatenated, oldest first.
std::string all_generations(const fs::path& path, int backups)
{
    std::string text;
    for (int index = backups; index >= 1; --index) {
        text += read_file(backup(path, index));
    }
    return text + read_file(path);
}

}  // namespace

TEST_SUITE("rotating_file")
{
    TEST_CASE("rotation keeps every line exactly once and no file passes max_size")
    {
        TempDir dir;
        auto path = dir / "app.log";
        const int backups = 40;
        RotatingFile file(path, 100, backups);

        std::string expected;
        for (int n = 0; n < 300; ++n) {
            expected += numbered_line(n);
            REQUIRE_FALSE(file.write(numbered_line(n)));
        }

        CHECK(all_generations(path, backups) == expected);
        CHECK(fs::exists(backup(path, 1)));
        for (const auto& entry : fs::directory_iterator(dir.path())) {
            CHECK(fs::file_size(entry.path()) <= 100);
        }
    }

    TEST_CASE("rotation drops the oldest file beyond the backup count")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 20, 2);

        for (int n = 0; n < 10; ++n) {
            REQUIRE_FALSE(file.write(numbered_line(n)));
        }

        // Two 10-byte lines per file: the newest six lines survive.
        CHECK(read_file(path) == numbered_line(8) + numbered_line(9));
        CHECK(read_file(backup(path, 1)) == numbered_line(6) + numbered_line(7));
        CHECK(read_file(backup(path, 2)) == numbered_line(4) + numbered_line(5));
        CHECK_FALSE(fs::exists(backup(path, 3)));
    }

    TEST_CASE("a single write larger than max_size goes whole into its own file")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 10, 1);
        const std::string big = "0123456789abcdef\n";

        REQUIRE_FALSE(file.write(big));
        REQUIRE_FALSE(file.write("x\n"));

        CHECK(read_file(backup(path, 1)) == big);
        CHECK(read_file(path) == "x\n");
    }

    TEST_CASE("with no backups rotation truncates the file")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 20, 0);

        for (int n = 0; n < 5; ++n) {
            REQUIRE_FALSE(file.write(numbered_line(n)));
        }

        CHECK(read_file(path) == numbered_line(4));
        CHECK_FALSE(fs::exists(backup(path, 1)));
    }

    TEST_CASE("a max_size of zero never rotates")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 0, 3);

        for (int n = 0; n < 50; ++n) {
            REQUIRE_FALSE(file.write(numbered_line(n)));
        }

        CHECK(file.size() == 500);
        CHECK_FALSE(fs::exists(backup(path, 1)));
    }

    TEST_CASE("an existing file is appended to and its size counts toward max_size")
    {
        TempDir dir;
        auto path = dir / "app.log";
        write_file(path, "old line\n");
        RotatingFile file(path, 15, 1);

        CHECK(file.size() == 9);
        REQUIRE_FALSE(file.write("new line\n"));

        CHECK(read_file(backup(path, 1)) == "old line\n");
        CHECK(read_file(path) == "new line\n");
    }

    TEST_CASE("reopen after an external rename writes to a new file at the path")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 0, 0);
        REQUIRE_FALSE(file.write("a\n"));

        fs::rename(path, dir / "app.log.old");
        REQUIRE_FALSE(file.write("b\n"));
        REQUIRE_FALSE(file.reopen());
        REQUIRE_FALSE(file.write("c\n"));

        CHECK(read_file(dir / "app.log.old") == "a\nb\n");
        CHECK(read_file(path) == "c\n");
    }

    TEST_CASE("after a copytruncate new writes start at offset zero")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 1000, 1);
        for (int n = 0; n < 50; ++n) {
            REQUIRE_FALSE(file.write(numbered_line(n)));
        }

        REQUIRE(::truncate(path.c_str(), 0) == 0);
        REQUIRE_FALSE(file.write("after\n"));

        CHECK(read_file(path) == "after\n");
        CHECK(file.size() == 6);
        CHECK_FALSE(fs::exists(backup(path, 1)));
    }

    TEST_CASE("a deleted file is replaced by a new one instead of being rotated")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 100, 3);
        const std::string line(59, 'a');
        REQUIRE_FALSE(file.write(line + "\n"));

        fs::remove(path);
        REQUIRE_FALSE(file.write("b\n" + line.substr(2) + "\n"));

        CHECK(read_file(path) == "b\n" + line.substr(2) + "\n");
        CHECK_FALSE(fs::exists(backup(path, 1)));
    }

    TEST_CASE("an unwritable path drops data, reports once and resumes after reopen")
    {
        TempDir dir;
        auto path = dir / "logs" / "app.log";
        RotatingFile file(path, 0, 0);

        CHECK(file.write("lost 1\n") == std::errc::no_such_file_or_directory);
        CHECK(file.take_new_failure());
        CHECK(file.write("lost 2\n") == std::errc::no_such_file_or_directory);
        CHECK_FALSE(file.take_new_failure());
        CHECK(file.last_error() == std::errc::no_such_file_or_directory);

        fs::create_directory(dir / "logs");
        REQUIRE_FALSE(file.reopen());
        CHECK_FALSE(file.write("kept\n"));
        CHECK_FALSE(file.take_new_failure());
        CHECK_FALSE(file.last_error());
        CHECK(read_file(path) == "kept\n");

        SUBCASE("a later failure is a new episode and is reported again")
        {
            fs::remove_all(dir / "logs");
            CHECK(file.rotate() == std::errc::no_such_file_or_directory);
            CHECK(file.write("lost 3\n"));
            CHECK(file.take_new_failure());
            CHECK_FALSE(file.take_new_failure());
        }
    }

    TEST_CASE("rotate renames the file now even below max_size")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 1000, 2);
        REQUIRE_FALSE(file.write("first\n"));

        REQUIRE_FALSE(file.rotate());
        REQUIRE_FALSE(file.write("second\n"));

        CHECK(read_file(backup(path, 1)) == "first\n");
        CHECK(read_file(path) == "second\n");
        CHECK(file.size() == 7);
    }

    TEST_CASE("new limits apply from the next write")
    {
        TempDir dir;
        auto path = dir / "app.log";
        RotatingFile file(path, 0, 0);
        REQUIRE_FALSE(file.write("0123456789\n"));

        file.set_limits(15, 1);
        REQUIRE_FALSE(file.write("abcdef\n"));

        CHECK(read_file(backup(path, 1)) == "0123456789\n");
        CHECK(read_file(path) == "abcdef\n");
    }
}
