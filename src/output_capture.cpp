#include "procsup/output_capture.hpp"

#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace procsup {

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t recent_line_count = 200;

void write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;  // The daemon's own stdout is gone: nothing better to do with the line.
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::shared_ptr<OutputSink> OutputSink::to_file(const std::filesystem::path& path,
                                                std::uint64_t max_size, int backups,
                                                std::string service_name)
{
    std::shared_ptr<OutputSink> sink(new OutputSink(std::move(service_name)));
    sink->file_ = std::make_unique<RotatingFile>(path, max_size, backups);
    sink->report_file_failure();
    return sink;
}

std::shared_ptr<OutputSink> OutputSink::to_inherited_fd(int fd, std::string prefix)
{
    std::shared_ptr<OutputSink> sink(new OutputSink(prefix));
    sink->inherited_fd_ = fd;
    sink->prefix_ = std::move(prefix);
    return sink;
}

std::shared_ptr<OutputSink> OutputSink::to_nothing(std::string service_name)
{
    return std::shared_ptr<OutputSink>(new OutputSink(std::move(service_name)));
}

void OutputSink::write_lines(std::string_view lines)
{
    remember(lines);
    if (file_) {
        file_->write(lines);
        report_file_failure();
        return;
    }
    if (inherited_fd_ < 0) {
        return;
    }
    std::string line;
    while (!lines.empty()) {
        const std::size_t end = lines.find('\n');
        line.assign(prefix_);
        line.append(lines.substr(0, end + 1));
        write_all(inherited_fd_, line);
        lines.remove_prefix(end + 1);
    }
}

void OutputSink::reopen()
{
    if (file_) {
        file_->reopen();
        report_file_failure();
    }
}

void OutputSink::set_limits(std::uint64_t max_size, int backups)
{
    if (file_) {
        file_->set_limits(max_size, backups);
    }
}

void OutputSink::remember(std::string_view lines)
{
    // Only the tail of a large chunk is kept: the ring is for a quick look, not an archive.
    std::size_t begin = lines.size();
    for (std::size_t count = 0; begin > 0 && count < recent_line_count; ++count) {
        const std::size_t previous = begin >= 2 ? lines.rfind('\n', begin - 2) : lines.npos;
        begin = previous == lines.npos ? 0 : previous + 1;
    }
    while (begin < lines.size()) {
        const std::size_t end = lines.find('\n', begin);
        recent_.emplace_back(lines.substr(begin, end - begin));
        begin = end + 1;
    }
    while (recent_.size() > recent_line_count) {
        recent_.pop_front();
    }
}

void OutputSink::report_file_failure()
{
    if (file_ && file_->take_new_failure()) {
        spdlog::warn("service '{}': cannot write log '{}': {}; dropping output until it works "
                     "again (retrying every second and on reopen-logs)",
                     service_name_, file_->path().string(), file_->last_error().message());
    }
}

OutputReader::OutputReader(boost::asio::io_context& io, int read_fd,
                           std::shared_ptr<OutputSink> sink)
    : pipe_(io, read_fd), sink_(std::move(sink)), buffer_(new char[read_chunk])
{
}

void OutputReader::start()
{
    read_more();
}

void OutputReader::read_more()
{
    pipe_.async_read_some(boost::asio::buffer(buffer_.get(), read_chunk),
                          [self = shared_from_this()](boost::system::error_code ec,
                                                      std::size_t n) {
                              if (ec) {
                                  self->flush_partial();
                                  return;  // EOF: every writer of the pipe has gone.
                              }
                              self->on_read(n);
                              self->read_more();
                          });
}

void OutputReader::on_read(std::size_t n)
{
    std::string_view chunk(buffer_.get(), n);
    const std::size_t last_newline = chunk.rfind('\n');
    if (last_newline == std::string_view::npos) {
        pending_.append(chunk);
    } else if (pending_.empty()) {
        sink_->write_lines(chunk.substr(0, last_newline + 1));
        pending_.assign(chunk.substr(last_newline + 1));
    } else {
        pending_.append(chunk.substr(0, last_newline + 1));
        sink_->write_lines(pending_);
        pending_.assign(chunk.substr(last_newline + 1));
    }
    while (pending_.size() >= max_line_bytes) {
        std::string piece = pending_.substr(0, max_line_bytes);
        piece.push_back('\n');
        sink_->write_lines(piece);
        pending_.erase(0, max_line_bytes);
    }
}

void OutputReader::flush_partial()
{
    if (!pending_.empty()) {
        pending_.push_back('\n');
        sink_->write_lines(pending_);
        pending_.clear();
    }
}

}  // namespace procsup
