#include "procsup/event_stream.hpp"

#include <deque>

#include "procsup/client_stream.hpp"
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

// Queues the events for one client; the ClientStream sends them.
class EventStream : public std::enable_shared_from_this<EventStream> {
public:
    void start(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive,
               Supervisor& supervisor)
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
        stream_ = std::make_shared<ClientStream>(socket, std::move(keep_alive));
        // The stream holds this object through these; end() breaks the cycle.
        stream_->start([self = shared_from_this()] { return self->next_message(); },
                       [self = shared_from_this()] { self->end(); });
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
        if (stream_) {
            stream_->wake();
        }
    }

    std::string next_message()
    {
        if (queue_.empty()) {
            return {};
        }
        std::string message = std::move(queue_.front());
        queue_.pop_front();
        return message;
    }

    void end()
    {
        subscription_.reset();
        queue_.clear();
        stream_.reset();
    }

    std::shared_ptr<ClientStream> stream_;
    Supervisor::Subscription subscription_;
    std::deque<std::string> queue_;
    std::size_t dropped_ = 0;
};

}  // namespace

void start_event_stream(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive,
                        Supervisor& supervisor)
{
    std::make_shared<EventStream>()->start(socket, std::move(keep_alive), supervisor);
}

}  // namespace procsup
