// Capture of a service's stdout and stderr: the daemon reads each child's output through a
// pipe on the event loop and writes whole lines to the stream's sink (a rotating file, the
// daemon's own stdout with a name prefix, or nothing). A child is never blocked by a slow
// sink for longer than its pipe takes to fill.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "procsup/rotating_file.hpp"

namespace procsup {

// Where the lines of one stream of one service end up. Outlives the readers of several
// runs of the service, so output of leftover grandchildren still lands in the same place.
class OutputSink {
public:
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

    // The last lines written, for `procsup logs` when the file is gone or never existed.
    const std::deque<std::string>& recent_lines() const { return recent_; }
    const RotatingFile* file() const { return file_.get(); }

private:
    explicit OutputSink(std::string service_name) : service_name_(std::move(service_name)) {}
    void remember(std::string_view lines);
    void report_file_failure();

    std::string service_name_;
    std::unique_ptr<RotatingFile> file_;
    int inherited_fd_ = -1;
    std::string prefix_;
    std::deque<std::string> recent_;
};

// Reads one pipe until end of file and hands whole lines to a sink. Owns the read end.
class OutputReader : public std::enable_shared_from_this<OutputReader> {
public:
    OutputReader(boost::asio::io_context& io, int read_fd, std::shared_ptr<OutputSink> sink);
    void start();

    // A line longer than this is cut into pieces, each ending in a newline.
    static constexpr std::size_t max_line_bytes = 64 * 1024;

private:
    void read_more();
    void on_read(std::size_t n);
    void flush_partial();

    boost::asio::posix::stream_descriptor pipe_;
    std::shared_ptr<OutputSink> sink_;
    std::string pending_;  // bytes after the last newline
    std::unique_ptr<char[]> buffer_;
};

}  // namespace procsup
