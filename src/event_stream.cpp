#include "procsup/event_stream.hpp"

#include <boost/asio/write.hpp>

#include <deque>

#include "procsup/protocol.hpp"
#include "procsup/supervisor.hpp"

namespace procsup {

namespace json = boost::json;
using boost::asio::local::stream_protocol;

namespace {

json::object make_event(const Service& service, ServiceState from, ServiceState to)
{
    const ServiceStatus status = service.status();
    json::object event;
    event["time"] = protocol::format_rfc3339(std::chrono::system_clock::now());
    event["service"] = service.name();
    event["kind"] = from == to ? "health" : "state";
    event["from"] = to_string(from);
    event["to"] = to_string(to);
    const json::object full = protocol::to_json(status);
    for (const char* key : {"pid", "health", "last_exit", "message"}) {
        event[key] = full.at(key);
    }
    return event;
}

class EventStream : public std::enable_shared_from_this<EventStream> {
public:
    EventStream(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive)
        : socket_(socket), keep_alive_(std::move(keep_alive))
    {
    }

    void start(Supervisor& supervisor)
    {
        subscription_ = supervisor.subscribe(
            [weak = weak_from_this()](const Service& s, ServiceState from, ServiceState to) {
                if (auto self = weak.lock()) {
                    self->on_event(make_event(s, from, to));
                }
            });
        json::object first = protocol::make_ok();
        first["events"] = "following";
        queue_.push_back(json::serialize(first));
        flush();
        watch_for_hangup();
    }

private:
    void on_event(json::object event)
    {
        if (queue_.size() >= max_event_queue) {
            ++dropped_;  // The client does not read: keep memory bounded.
            return;
        }
        if (dropped_ > 0) {
            json::object marker = protocol::make_ok();
            marker["dropped"] = dropped_;
            queue_.push_back(json::serialize(marker));
            dropped_ = 0;
        }
        json::object message = protocol::make_ok();
        message["event"] = std::move(event);
        queue_.push_back(json::serialize(message));
        flush();
    }

    void flush()
    {
        if (writing_ || ended_ || queue_.empty()) {
            return;
        }
        out_ = std::move(queue_.front());
        queue_.pop_front();
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
                self->flush();
            });
    }

    void watch_for_hangup()
    {
        socket_.async_read_some(
            boost::asio::buffer(discard_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (ec) {
                    self->end();
                    return;
                }
                self->watch_for_hangup();
            });
    }

    void end()
    {
        if (ended_) {
            return;
        }
        ended_ = true;
        subscription_.reset();
        queue_.clear();
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

    stream_protocol::socket& socket_;
    std::shared_ptr<void> keep_alive_;  // owns socket_
    Supervisor::Subscription subscription_;
    std::deque<std::string> queue_;
    std::size_t dropped_ = 0;
    std::string out_;
    bool writing_ = false;
    bool ended_ = false;
    char discard_[512];
};

}  // namespace

void start_event_stream(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive,
                        Supervisor& supervisor)
{
    std::make_shared<EventStream>(socket, std::move(keep_alive))->start(supervisor);
}

}  // namespace procsup
