#include "procsup/client_stream.hpp"

#include <boost/asio/write.hpp>

namespace procsup {

using boost::asio::local::stream_protocol;

ClientStream::ClientStream(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive)
    : socket_(socket), keep_alive_(std::move(keep_alive))
{
}

void ClientStream::start(std::function<std::string()> next, std::function<void()> on_end)
{
    next_ = std::move(next);
    on_end_ = std::move(on_end);
    watch_for_hangup();
    write_next();
}

void ClientStream::wake()
{
    write_next();
}

void ClientStream::write_next()
{
    if (writing_ || ended_) {
        return;
    }
    out_ = next_();
    if (out_.empty()) {
        return;
    }
    out_.push_back('\n');
    writing_ = true;
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            self->writing_ = false;
            if (ec) {
                self->end();
                return;
            }
            self->write_next();
        });
}

// The client sends nothing more; a completed read means it hung up (or misbehaves).
void ClientStream::watch_for_hangup()
{
    socket_.async_read_some(boost::asio::buffer(discard_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t) {
                                if (ec) {
                                    self->end();
                                    return;
                                }
                                self->watch_for_hangup();
                            });
}

void ClientStream::end()
{
    if (ended_) {
        return;
    }
    ended_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (on_end_) {
        auto on_end = std::move(on_end_);
        on_end();
    }
}

}  // namespace procsup
