#include "procsup/output_capture.hpp"

#include <string>
#include <vector>

#include "os_test_helpers.hpp"
#include <doctest/doctest.h>

#include "procsup/log_stream.hpp"
#include "procsup/log_tail.hpp"

using namespace procsup;
using namespace procsup::test;

namespace {

constexpr std::size_t max_line = LineAssembler::max_line_bytes;

// Feeds `chunks` and records every call of the emit callback.
std::vector<std::string> assemble(const std::vector<std::string>& chunks, bool finish = false)
{
    std::vector<std::string> calls;
    const LineAssembler::Emit emit = [&](std::string_view lines) { calls.emplace_back(lines); };
    LineAssembler assembler;
    for (const std::string& chunk : chunks) {
        assembler.feed(chunk, emit);
    }
    if (finish) {
        assembler.finish(emit);
    }
    return calls;
}

std::string joined(const std::vector<std::string>& calls)
{
    std::string text;
    for (const std::string& call : calls) {
        text += call;
    }
    return text;
}

std::string piece(char c, std::size_t n)
{
    return std::string(n, c) + std::string(LineAssembler::continuation_marker) + "\n";
}

}  // namespace

TEST_SUITE("output_capture")
{
    TEST_CASE("whole lines in one chunk are handed over in one call")
    {
        CHECK(assemble({"a\nb\nc\n"}) == std::vector<std::string>{"a\nb\nc\n"});
    }

    TEST_CASE("a line split across reads is handed over only once it is complete")
    {
        const auto calls = assemble({"first\nsec", "ond\nthi", "rd"});
        CHECK(calls == std::vector<std::string>{"first\n", "second\n"});
        CHECK(joined(assemble({"first\nsec", "ond\nthi", "rd"}, true)) == "first\nsecond\nthird\n");
    }

    TEST_CASE("every call ends at a line boundary")
    {
        std::vector<std::string> chunks;
        for (int i = 0; i < 100; ++i) {
            chunks.push_back(std::to_string(i) + "\n" +
                             std::string(static_cast<std::size_t>(i), 'x'));
        }
        for (const std::string& call : assemble(chunks, true)) {
            CHECK(call.back() == '\n');
        }
    }

    TEST_CASE("a line of exactly the limit is kept whole")
    {
        const std::string line(max_line, 'a');
        CHECK(joined(assemble({line.substr(0, 1000), line.substr(1000) + "\n"})) == line + "\n");
    }

    TEST_CASE("an overlong line is cut into marked pieces and its end keeps the newline")
    {
        const std::string line(max_line * 2 + 10, 'z');
        SUBCASE("in one chunk")
        {
            CHECK(joined(assemble({"before\n" + line + "\nafter\n"})) ==
                  "before\n" + piece('z', max_line) + piece('z', max_line) + std::string(10, 'z') +
                      "\nafter\n");
        }
        SUBCASE("in many small chunks")
        {
            std::vector<std::string> chunks;
            for (std::size_t i = 0; i < line.size(); i += 4096) {
                chunks.push_back(line.substr(i, 4096));
            }
            chunks.push_back("\n");
            CHECK(joined(assemble(chunks)) ==
                  piece('z', max_line) + piece('z', max_line) + std::string(10, 'z') + "\n");
        }
    }

    TEST_CASE("a partial line that joins a chunk is cut when the joined line is overlong")
    {
        const std::string start(max_line - 10, 'p');
        const std::string rest(100, 'q');
        CHECK(joined(assemble({start, rest + "\nnext\n"})) ==
              start + std::string(10, 'q') + std::string(LineAssembler::continuation_marker) +
                  "\n" + std::string(90, 'q') + "\nnext\n");
    }

    TEST_CASE("a last line without newline gets one at end of stream")
    {
        CHECK(assemble({"no newline"}, true) == std::vector<std::string>{"no newline\n"});
        CHECK(assemble({}, true).empty());
    }

    TEST_CASE("the ring keeps the last lines within its limits")
    {
        const auto sink = OutputSink::to_nothing("svc");
        std::string text;
        for (int i = 0; i < 500; ++i) {
            text += "line " + std::to_string(i) + "\n";
        }
        sink->write_lines(text);
        const auto& recent = sink->recent_lines();
        REQUIRE(!recent.empty());
        CHECK(recent.size() <= 200);
        CHECK(recent.back() == "line 499");
        CHECK(sink->last_lines(3) == std::vector<std::string>{"line 497", "line 498", "line 499"});

        sink->write_lines(std::string(200 * 1024, 'b') + "\n" + std::string(200 * 1024, 'c') +
                          "\n");
        std::size_t bytes = 0;
        for (const std::string& line : sink->recent_lines()) {
            bytes += line.size();
        }
        CHECK(bytes <= 256 * 1024);
        CHECK(sink->recent_lines().back() == std::string(200 * 1024, 'c'));
    }

    TEST_CASE("the lines of a run are those written since its start")
    {
        const auto sink = OutputSink::to_nothing("svc");
        sink->write_lines("old 1\nold 2\n");
        sink->mark_run_start();
        CHECK(sink->last_lines_of_run(5).empty());
        sink->write_lines("new 1\n");
        sink->write_lines("new 2\n");
        CHECK(sink->last_lines_of_run(5) == std::vector<std::string>{"new 1", "new 2"});
        CHECK(sink->last_lines_of_run(1) == std::vector<std::string>{"new 2"});
        CHECK(sink->last_lines(3) == std::vector<std::string>{"old 2", "new 1", "new 2"});
    }

    TEST_CASE("a listener gets every chunk until its handle is dropped")
    {
        const auto sink = OutputSink::to_nothing("svc");
        std::string seen;
        auto handle = sink->subscribe([&](std::string_view lines) { seen += lines; });
        sink->write_lines("a\nb\n");
        handle.reset();
        sink->write_lines("c\n");
        CHECK(seen == "a\nb\n");
    }

    TEST_CASE("a replacing sink takes over the listeners of the old one")
    {
        const auto old_sink = OutputSink::to_nothing("svc");
        const auto new_sink = OutputSink::to_nothing("svc");
        std::string seen;
        auto handle = old_sink->subscribe([&](std::string_view lines) { seen += lines; });
        new_sink->adopt_listeners(*old_sink);
        old_sink->write_lines("old\n");
        new_sink->write_lines("new\n");
        CHECK(seen == "new\n");
    }

    TEST_CASE("an inherit sink writes each line with its prefix")
    {
        Pipe pipe;
        const auto sink = OutputSink::to_inherited_fd(pipe.write_fd, "web | ");
        sink->set_prefix("web    | ");
        sink->write_lines("one\ntwo\n");
        pipe.close_write();
        std::string got(64, '\0');
        got.resize(static_cast<std::size_t>(::read(pipe.read_fd, got.data(), got.size())));
        CHECK(got == "web    | one\nweb    | two\n");
    }

    TEST_CASE("a file sink's last lines continue into the first backup after a rotation")
    {
        TempDir dir;
        const auto path = dir.path() / "x.log";
        const auto sink = OutputSink::to_file(path, 30, 3, "svc");
        for (int i = 1; i <= 5; ++i) {
            sink->write_lines("line " + std::to_string(i) + "\n");  // 7 bytes: 4 per file
        }
        REQUIRE(read_file(path) == "line 5\n");
        CHECK(sink->last_lines(3) == std::vector<std::string>{"line 3", "line 4", "line 5"});
    }
}

TEST_SUITE("log_tail")
{
    TEST_CASE("the last lines of a file are read without its final newline")
    {
        TempDir dir;
        write_file(dir.path() / "f", "a\nb\nc\n");
        std::error_code ec;
        CHECK(read_last_lines(dir.path() / "f", 2, ec) == std::vector<std::string>{"b", "c"});
        CHECK(read_last_lines(dir.path() / "f", 10, ec) == std::vector<std::string>{"a", "b", "c"});
        CHECK(read_last_lines(dir.path() / "f", 0, ec).empty());
        CHECK(!ec);
    }

    TEST_CASE("a last line without newline counts, and lines span read blocks")
    {
        TempDir dir;
        std::string text;
        for (int i = 0; i < 20000; ++i) {
            text += "line " + std::to_string(i) + "\n";
        }
        write_file(dir.path() / "f", text + "tail");
        std::error_code ec;
        const auto lines = read_last_lines(dir.path() / "f", 15000, ec);
        REQUIRE(lines.size() == 15000);
        CHECK(lines.front() == "line 5001");
        CHECK(lines.back() == "tail");
    }

    TEST_CASE("a missing file is an error")
    {
        std::error_code ec;
        CHECK(read_last_lines("/nonexistent/procsup/x.log", 5, ec).empty());
        CHECK(ec == std::errc::no_such_file_or_directory);
    }
}

TEST_SUITE("log_stream")
{
    TEST_CASE("text that is not UTF-8 is replaced, valid UTF-8 is kept")
    {
        CHECK(to_valid_utf8("plain") == "plain");
        CHECK(to_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC") == "caf\xC3\xA9 \xE2\x82\xAC");
        CHECK(to_valid_utf8("a\xFF"
                            "b") ==
              "a\xEF\xBF\xBD"
              "b");
        CHECK(to_valid_utf8("\xC3") == "\xEF\xBF\xBD");
        CHECK(to_valid_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    }

    TEST_CASE("a logs request is checked field by field")
    {
        LogRequest request;
        std::string error;
        CHECK(parse_log_request({{"stream", "stderr"}, {"lines", 5}, {"follow", true}}, request,
                                error));
        CHECK(request.stderr_stream);
        CHECK(request.lines == 5);
        CHECK(request.follow);
        CHECK(!parse_log_request({{"stream", "both"}}, request, error));
        CHECK(!parse_log_request({{"lines", -1}}, request, error));
        CHECK(!parse_log_request({{"follow", "yes"}}, request, error));
        CHECK(parse_log_request({{"lines", 100'000'000}}, request, error));
        CHECK(request.lines == max_log_request_lines);
    }
}
