// Capture of a service's stdout and stderr: the daemon reads each child's output through a
// pipe on the event loop and writes whole lines to the stream's sink (a rotating file, the
// daemon's own stdout with a name prefix, or nothing). A child is never blocked by a slow
// sink for longer than its pipe takes to fill.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "procsup/rotating_file.hpp"

namespace procsup {

// Cuts a byte stream into whole lines. A line whose text (without its newline) is longer than
// max_line_bytes is cut into pieces of max_line_bytes; every piece but the last ends with
// continuation_marker and a newline, so no piece is ever mistaken for a complete line. Pure:
// no I/O, so the rules are unit-tested.
class LineAssembler {
public:
    static constexpr std::size_t max_line_bytes = 64 * 1024;
    static constexpr std::string_view continuation_marker = " [procsup: line continues]";

    // Receives one or more whole lines, each ending in a newline.
    using Emit = std::function<void(std::string_view lines)>;

    void feed(std::string_view chunk, const Emit& emit);
    // End of the stream: a last line without a newline gets one.
    void finish(const Emit& emit);

private:
    void cut_overlong(const Emit& emit);

    std::string pending_;  // bytes after the last newline, at most max_line_bytes
};

// Where the lines of one stream of one service end up. Outlives the readers of several
// runs of the service, so output of leftover grandchildren still lands in the same place.
class OutputSink {
public:
    // Called with every chunk of whole lines the sink is given (`procsup logs -f`).
    using Listener = std::function<void(std::string_view lines)>;

    static std::shared_ptr<OutputSink> to_file(const std::filesystem::path& path,
                                               std::uint64_t max_size, int backups,
                                               std::string service_name);
    // Lines are prefixed with `prefix` and written to `fd` with one write(2) each.
    static std::shared_ptr<OutputSink> to_inherited_fd(int fd, std::string prefix);
    static std::shared_ptr<OutputSink> to_nothing(std::string service_name);

    // `lines` ends with a newline; every line in it is complete.
    void write_lines(std::string_view lines);
    void reopen();
    void set_limits(std::uint64_t max_size, int backups);
    // Only for inherit sinks: the text before each line ("web    | ").
    void set_prefix(std::string prefix);

    // The listener is called until the returned handle is destroyed. It must not add or
    // remove listeners of this sink while it runs.
    std::shared_ptr<Listener> subscribe(Listener listener);
    // Takes over the listeners of `old` when a config update replaces the sink.
    void adopt_listeners(OutputSink& old);

    // The last `count` lines: from the log file and as many of its backups as needed for a
    // file sink (nothing when it cannot be read), from the in-memory ring otherwise.
    std::vector<std::string> last_lines(std::size_t count) const;
    // Marks the start of a new run of the service; last_lines_of_run() shows nothing older.
    void mark_run_start() { run_start_ = bytes_written_; }
    // As last_lines(), but only lines written since mark_run_start(): what a failed start
    // shows must be that run's words, not those of a run before it.
    std::vector<std::string> last_lines_of_run(std::size_t count) const;

    // The last lines written by an inherit or null sink (a file sink keeps no copy).
    const std::deque<std::string>& recent_lines() const { return recent_; }
    const RotatingFile* file() const { return file_.get(); }

private:
    explicit OutputSink(std::string service_name) : service_name_(std::move(service_name)) {}
    void remember(std::string_view lines);
    void notify(std::string_view lines);
    void report_file_failure();

    std::string service_name_;
    std::unique_ptr<RotatingFile> file_;
    int inherited_fd_ = -1;
    std::string prefix_;
    std::deque<std::string> recent_;
    std::size_t recent_bytes_ = 0;
    std::vector<std::weak_ptr<Listener>> listeners_;
    std::uint64_t bytes_written_ = 0;  // every line given to write_lines(), newlines included
    std::uint64_t run_start_ = 0;
};

// Reads one pipe until end of file and hands whole lines to a sink. Owns the read end.
class OutputReader : public std::enable_shared_from_this<OutputReader> {
public:
    OutputReader(boost::asio::io_context& io, int read_fd, std::shared_ptr<OutputSink> sink);
    void start();

private:
    void wait_readable();
    void drain();
    void finish();

    boost::asio::posix::stream_descriptor pipe_;
    std::shared_ptr<OutputSink> sink_;
    LineAssembler lines_;
    LineAssembler::Emit emit_;
};

}  // namespace procsup
