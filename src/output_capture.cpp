#include "procsup/output_capture.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "procsup/log_tail.hpp"

namespace procsup {

namespace {

// One read never holds more than a line limit's worth, so a line inside one read needs no
// cutting and the reader can hand the whole read to the sink at once.
constexpr std::size_t read_chunk = LineAssembler::max_line_bytes;

// The ring behind `procsup logs` for services without a file: a quick look, not an archive.
constexpr std::size_t recent_line_count = 200;
constexpr std::size_t recent_byte_budget = 256 * 1024;

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

void LineAssembler::feed(std::string_view chunk, const Emit& emit)
{
    if (!pending_.empty()) {
        const std::size_t newline = chunk.find('\n');
        const std::size_t take = newline == chunk.npos ? chunk.size() : newline + 1;
        pending_.append(chunk.substr(0, take));
        chunk.remove_prefix(take);
        cut_overlong(emit);
        if (newline == std::string_view::npos) {
            return;
        }
        emit(pending_);
        pending_.clear();
    }

    // Hand over runs of normal lines in one call (one write(2) to a file); only an overlong
    // line interrupts a run.
    std::size_t run_start = 0;
    std::size_t pos = 0;
    for (std::size_t newline; (newline = chunk.find('\n', pos)) != chunk.npos; pos = newline + 1) {
        if (newline - pos <= max_line_bytes) {
            continue;
        }
        if (pos > run_start) {
            emit(chunk.substr(run_start, pos - run_start));
        }
        pending_.assign(chunk.substr(pos, newline + 1 - pos));
        cut_overlong(emit);
        emit(pending_);
        pending_.clear();
        run_start = newline + 1;
    }
    if (pos > run_start) {
        emit(chunk.substr(run_start, pos - run_start));
    }
    pending_.assign(chunk.substr(pos));
    cut_overlong(emit);
}

void LineAssembler::finish(const Emit& emit)
{
    if (!pending_.empty()) {
        pending_.push_back('\n');
        emit(pending_);
        pending_.clear();
    }
}

// Emits marked pieces while the text in pending_ (without a final newline) is too long.
void LineAssembler::cut_overlong(const Emit& emit)
{
    const auto text_size = [this] {
        return pending_.size() - (!pending_.empty() && pending_.back() == '\n' ? 1 : 0);
    };
    if (text_size() <= max_line_bytes) {
        return;
    }
    std::string piece;
    piece.reserve(max_line_bytes + continuation_marker.size() + 1);
    std::size_t begin = 0;
    while (text_size() - begin > max_line_bytes) {
        piece.assign(pending_, begin, max_line_bytes);
        piece.append(continuation_marker);
        piece.push_back('\n');
        emit(piece);
        begin += max_line_bytes;
    }
    pending_.erase(0, begin);
}

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
    bytes_written_ += lines.size();
    // A file sink answers `logs` from its file: copying every line into the ring as well
    // cost a third of the daemon's CPU on a fast writer (bench/, log workload).
    if (!file_) {
        remember(lines);
    }
    notify(lines);
    if (file_) {
        file_->write(lines);
        report_file_failure();
        return;
    }
    if (inherited_fd_ < 0) {
        return;
    }
    // One write(2) per line, prefix included: the daemon's stdout is shared by every
    // inherit service, and a collector reading it must never see half a line.
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

void OutputSink::set_prefix(std::string prefix)
{
    if (inherited_fd_ >= 0) {
        prefix_ = std::move(prefix);
    }
}

std::shared_ptr<OutputSink::Listener> OutputSink::subscribe(Listener listener)
{
    auto handle = std::make_shared<Listener>(std::move(listener));
    std::erase_if(listeners_, [](const auto& weak) { return weak.expired(); });
    listeners_.push_back(handle);
    return handle;
}

void OutputSink::adopt_listeners(OutputSink& old)
{
    for (auto& weak : old.listeners_) {
        if (!weak.expired()) {
            listeners_.push_back(std::move(weak));
        }
    }
    old.listeners_.clear();
}

std::vector<std::string> OutputSink::last_lines(std::size_t count) const
{
    if (file_) {
        std::error_code ec;
        std::vector<std::string> lines = read_last_lines(file_->path(), count, ec);
        if (!ec) {
            // Just after a rotation the current file is short: the rest is in the backups.
            for (int index = 1; lines.size() < count && index <= file_->backups(); ++index) {
                const std::string backup = file_->path().string() + "." + std::to_string(index);
                auto older = read_last_lines(backup, count - lines.size(), ec);
                if (ec) {
                    break;
                }
                lines.insert(lines.begin(), std::make_move_iterator(older.begin()),
                             std::make_move_iterator(older.end()));
            }
            return lines;
        }
    }
    const std::size_t take = std::min(count, recent_.size());
    return {recent_.end() - static_cast<std::ptrdiff_t>(take), recent_.end()};
}

std::vector<std::string> OutputSink::last_lines_of_run(std::size_t count) const
{
    std::vector<std::string> lines = last_lines(count);
    // From the newest line back, as long as the bytes fit in what this run wrote.
    std::uint64_t left = bytes_written_ - run_start_;
    auto first = lines.end();
    while (first != lines.begin() && std::prev(first)->size() + 1 <= left) {
        --first;
        left -= first->size() + 1;
    }
    lines.erase(lines.begin(), first);
    return lines;
}

void OutputSink::remember(std::string_view lines)
{
    // Only the tail of a large chunk is kept.
    std::size_t begin = lines.size();
    std::size_t bytes = 0;
    for (std::size_t count = 0; begin > 0 && count < recent_line_count; ++count) {
        const std::size_t previous = begin >= 2 ? lines.rfind('\n', begin - 2) : lines.npos;
        const std::size_t start = previous == lines.npos ? 0 : previous + 1;
        if (count > 0 && bytes + (begin - start) > recent_byte_budget) {
            break;
        }
        bytes += begin - start;
        begin = start;
    }
    while (begin < lines.size()) {
        const std::size_t end = lines.find('\n', begin);
        recent_.emplace_back(lines.substr(begin, end - begin));
        recent_bytes_ += end - begin;
        begin = end + 1;
    }
    while (recent_.size() > recent_line_count ||
           (recent_.size() > 1 && recent_bytes_ > recent_byte_budget)) {
        recent_bytes_ -= recent_.front().size();
        recent_.pop_front();
    }
}

void OutputSink::notify(std::string_view lines)
{
    bool expired = false;
    for (const auto& weak : listeners_) {
        if (const auto listener = weak.lock()) {
            (*listener)(lines);
        } else {
            expired = true;
        }
    }
    if (expired) {
        std::erase_if(listeners_, [](const auto& weak) { return weak.expired(); });
    }
}

void OutputSink::report_file_failure()
{
    if (!file_) {
        return;
    }
    if (file_->take_new_failure()) {
        spdlog::warn(
            "service '{}': cannot write log '{}': {}; dropping output until it works "
            "again (retrying every second and on reopen-logs)",
            service_name_, file_->path().string(), file_->last_error().message());
    }
    if (file_->take_recovery()) {
        spdlog::info("service '{}': writing log '{}' again", service_name_, file_->path().string());
    }
}

OutputReader::OutputReader(boost::asio::io_context& io, int read_fd,
                           std::shared_ptr<OutputSink> sink)
    : pipe_(io, read_fd),
      sink_(std::move(sink)),
      emit_([sink = sink_.get()](std::string_view lines) { sink->write_lines(lines); })
{
}

void OutputReader::start()
{
    boost::system::error_code ec;
    pipe_.native_non_blocking(true, ec);
    if (ec) {
        spdlog::warn("cannot make an output pipe non-blocking ({}); output not captured",
                     ec.message());
        return;
    }
    drain();
}

// Readiness, not a read: with async_read_some each pipe needed a buffer of its own for the
// read Asio performs before the handler runs. Waiting and then reading here lets every
// reader share one buffer, since the loop has one thread and each read is handed to the
// sink before the next one starts. A buffer per pipe cost 64 KiB of heap per stream, pages
// of it resident even for a service that never writes (bench/, memory workload).
void OutputReader::wait_readable()
{
    pipe_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec) {
                             self->finish();  // Cancelled: the daemon is going away.
                             return;
                         }
                         self->drain();
                     });
}

// Reads until the pipe is empty, as Asio's epoll reactor reports readiness by edge: after a
// wait, data left unread would not wake us again. A writer faster than the disk keeps the
// pipe full; after a bounded number of reads the turn goes to the rest of the loop.
void OutputReader::drain()
{
    static char buffer[read_chunk];
    constexpr int reads_per_turn = 16;
    for (int reads = 0; reads < reads_per_turn;) {
        const ssize_t n = ::read(pipe_.native_handle(), buffer, sizeof buffer);
        if (n > 0) {
            lines_.feed(std::string_view(buffer, static_cast<std::size_t>(n)), emit_);
            ++reads;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wait_readable();
            return;
        } else {
            finish();  // End of file (every writer has gone) or an error: nothing more comes.
            return;
        }
    }
    boost::asio::post(pipe_.get_executor(), [self = shared_from_this()] { self->drain(); });
}

void OutputReader::finish()
{
    lines_.finish(emit_);
}

}  // namespace procsup
