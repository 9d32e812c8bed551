// The daemon's side of `procsup logs`: the reply with a service's last lines and, with
// `follow`, the lines the daemon captures afterwards, pushed to the client as they come.
//
// A follower listens to the service's OutputSink, not to its file: the daemon writes every
// line itself, so a rotation or reopen can never make a follower miss or repeat a line. A
// slow follower gets a bounded queue and a marker line where lines were dropped; it never
// blocks the event loop or other clients. Event-loop thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json.hpp>

namespace procsup {

class OutputSink;

struct LogRequest {
    bool stderr_stream = false;
    std::size_t lines = 10;
    bool follow = false;
};

// Lines a request may ask for; more are capped.
inline constexpr std::size_t max_log_request_lines = 100'000;
// Bytes of lines waiting for a slow follower before further lines are dropped. With the
// message being sent (at most max_follower_message_bytes of lines), a follower costs the
// daemon a few MiB at most, whatever it does.
inline constexpr std::size_t max_follower_queue_bytes = 2 * 1024 * 1024;
inline constexpr std::size_t max_follower_message_bytes = 256 * 1024;

// Reads the optional "stream", "lines" and "follow" fields; false with a message when one is
// malformed.
bool parse_log_request(const boost::json::object& request, LogRequest& out, std::string& error);

// {"version":1,"ok":true,"lines":[...]}: the last `request.lines` lines of `sink`.
boost::json::object make_log_reply(const OutputSink& sink, const LogRequest& request);

// Sends `first_reply`, then every line `sink` gets, until the client hangs up. `keep_alive`
// owns `socket` (the control connection) and is held while the stream runs; the connection
// must have no read or timer of its own pending.
void start_log_follower(boost::asio::local::stream_protocol::socket& socket,
                        std::shared_ptr<void> keep_alive, OutputSink& sink,
                        boost::json::object first_reply);

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD, so JSON parsers that
// insist on UTF-8 accept the line.
std::string to_valid_utf8(std::string_view text);

}  // namespace procsup
