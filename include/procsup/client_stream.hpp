// A control connection turned into a one-way stream of JSON lines (`logs -f`, `events`):
// writes one message at a time, in order, and notices when the client hangs up. The owner
// keeps its own bounded queue and is asked for the next message whenever the stream is idle,
// so a slow client costs memory the owner bounds, never the event loop's time.
// Event-loop thread only.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>

#include <functional>
#include <memory>
#include <string>

namespace procsup {

class ClientStream : public std::enable_shared_from_this<ClientStream> {
public:
    // `keep_alive` owns `socket` (the control connection) and is held while the stream
    // runs; the connection must have no read or timer of its own pending.
    ClientStream(boost::asio::local::stream_protocol::socket& socket,
                 std::shared_ptr<void> keep_alive);

    // `next` returns the next line to send (without its newline), or "" when there is none;
    // it is asked after every completed write. `on_end` runs once when the client is gone.
    void start(std::function<std::string()> next, std::function<void()> on_end);

    // Call when the owner has queued something: sends it unless a write is in flight.
    void wake();

private:
    void write_next();
    void watch_for_hangup();
    void end();

    boost::asio::local::stream_protocol::socket& socket_;
    std::shared_ptr<void> keep_alive_;
    std::function<std::string()> next_;
    std::function<void()> on_end_;
    std::string out_;
    bool writing_ = false;
    bool ended_ = false;
    char discard_[512];
};

}  // namespace procsup
