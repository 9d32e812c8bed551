#include "procsup/log_stream.hpp"

#include <malloc.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "procsup/client_stream.hpp"
#include "procsup/output_capture.hpp"
#include "procsup/protocol.hpp"

namespace procsup {

namespace json = boost::json;
using boost::asio::local::stream_protocol;

namespace {

// Length of the valid UTF-8 sequence starting at text[0], or 0 when there is none.
std::size_t utf8_sequence_length(std::string_view text)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) {
        return 1;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        low = lead == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
        high = lead == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < low || byte(1) > high) {
        return 0;
    }
    for (std::size_t i = 2; i < length; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xBF) {
            return 0;
        }
    }
    return length;
}

std::string dropped_marker(std::size_t count)
{
    return fmt::format("[procsup: {} line{} dropped here: this reader was too slow]", count,
                       count == 1 ? "" : "s");
}

// Queues the lines of one sink for one client; the ClientStream sends them.
class LogFollower : public std::enable_shared_from_this<LogFollower> {
public:
    void start(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive,
               OutputSink& sink, json::object first_reply)
    {
        first_ = json::serialize(first_reply);
        subscription_ = sink.subscribe([weak = weak_from_this()](std::string_view lines) {
            if (auto self = weak.lock()) {
                self->on_lines(lines);
            }
        });
        stream_ = std::make_shared<ClientStream>(socket, std::move(keep_alive));
        // The stream holds the follower through these; the follower holds the stream.
        stream_->start([self = shared_from_this()] { return self->next_message(); },
                       [self = shared_from_this()] { self->end(); });
    }

private:
    void on_lines(std::string_view lines)
    {
        while (!lines.empty()) {
            const std::size_t end = lines.find('\n');
            const std::string_view line = lines.substr(0, end);
            lines.remove_prefix(end + 1);
            if (dropped_ > 0 || pending_bytes() + line.size() + 1 > max_follower_queue_bytes) {
                ++dropped_;  // Once dropping, drop until the queue is sent: no holes later.
                continue;
            }
            queued_.append(line);
            queued_.push_back('\n');
        }
        if (stream_) {
            stream_->wake();
        }
    }

    std::size_t pending_bytes() const { return queued_.size() - head_; }

    // The next message: queued lines up to max_follower_message_bytes; "" when none wait.
    std::string next_message()
    {
        if (!first_.empty()) {
            return std::exchange(first_, std::string());
        }
        if (pending_bytes() == 0 && dropped_ == 0) {
            return {};
        }
        json::array lines;
        for (std::size_t taken = 0;
             head_ < queued_.size() && taken < max_follower_message_bytes;) {
            const std::size_t end = queued_.find('\n', head_);
            lines.emplace_back(to_valid_utf8(std::string_view(queued_).substr(head_, end - head_)));
            taken += end + 1 - head_;
            head_ = end + 1;
        }
        if (head_ == queued_.size()) {
            if (dropped_ > 0) {
                lines.emplace_back(dropped_marker(dropped_));
                dropped_ = 0;
            }
            release_queue();
        } else if (head_ > queued_.size() / 2) {
            queued_.erase(0, head_);
            head_ = 0;
        }
        json::object message = protocol::make_ok();
        message["lines"] = std::move(lines);
        return json::serialize(message);
    }

    // Lines are kept in one buffer, not a string each: small lines cost twice their size
    // that way. An emptied queue of a slow reader gives its memory back.
    void release_queue()
    {
        head_ = 0;
        if (queued_.capacity() > max_follower_message_bytes) {
            std::string().swap(queued_);
        } else {
            queued_.clear();
        }
    }

    void end()
    {
        subscription_.reset();
        release_queue();
        stream_.reset();  // Breaks the cycle with the stream's callbacks.
        // glibc keeps freed memory for reuse; after a slow follower's megabytes that would
        // stay in the daemon for good.
        ::malloc_trim(0);
    }

    std::shared_ptr<ClientStream> stream_;
    std::shared_ptr<OutputSink::Listener> subscription_;
    std::string first_;
    std::string queued_;    // lines waiting to be sent, each ended by '\n', from head_ on
    std::size_t head_ = 0;  // where the lines not yet sent begin
    std::size_t dropped_ = 0;
};

}  // namespace

bool parse_log_request(const json::object& request, LogRequest& out, std::string& error)
{
    if (const json::value* stream = request.if_contains("stream")) {
        if (!stream->is_string() ||
            (stream->as_string() != "stdout" && stream->as_string() != "stderr")) {
            error = "field 'stream' must be \"stdout\" or \"stderr\"";
            return false;
        }
        out.stderr_stream = stream->as_string() == "stderr";
    }
    if (const json::value* lines = request.if_contains("lines")) {
        if (!lines->is_int64() || lines->as_int64() < 0) {
            error = "field 'lines' must be a number of lines, 0 or more";
            return false;
        }
        out.lines = std::min(static_cast<std::size_t>(lines->as_int64()), max_log_request_lines);
    }
    if (const json::value* follow = request.if_contains("follow")) {
        if (!follow->is_bool()) {
            error = "field 'follow' must be true or false";
            return false;
        }
        out.follow = follow->as_bool();
    }
    return true;
}

json::object make_log_reply(const OutputSink& sink, const LogRequest& request)
{
    json::array lines;
    for (const std::string& line : sink.last_lines(request.lines)) {
        lines.emplace_back(to_valid_utf8(line));
    }
    json::object reply = protocol::make_ok();
    reply["lines"] = std::move(lines);
    return reply;
}

void start_log_follower(stream_protocol::socket& socket, std::shared_ptr<void> keep_alive,
                        OutputSink& sink, json::object first_reply)
{
    std::make_shared<LogFollower>()->start(socket, std::move(keep_alive), sink,
                                           std::move(first_reply));
}

std::string to_valid_utf8(std::string_view text)
{
    std::string result;
    result.reserve(text.size());
    while (!text.empty()) {
        const auto ascii_end = std::find_if(
            text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
        const auto ascii = static_cast<std::size_t>(ascii_end - text.begin());
        result.append(text.substr(0, ascii));
        text.remove_prefix(ascii);
        if (text.empty()) {
            break;
        }
        const std::size_t length = utf8_sequence_length(text);
        if (length == 0) {
            result.append("\xEF\xBF\xBD");
            text.remove_prefix(1);
            continue;
        }
        result.append(text.substr(0, length));
        text.remove_prefix(length);
    }
    return result;
}

}  // namespace procsup
