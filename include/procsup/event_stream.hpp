// The daemon's side of `procsup events`: after the first reply, one JSON object per state or
// health change of any service, pushed until the client hangs up. A slow client gets a
// bounded queue and a marker where events were dropped; it never blocks the loop.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json.hpp>

#include <memory>

namespace procsup {

class Supervisor;

// {"service": ..., "from": ..., "to": ..., "pid": ..., "health": ..., "last_exit": ...,
//  "message": ..., "time": RFC 3339}
inline constexpr std::size_t max_event_queue = 10'000;

void start_event_stream(boost::asio::local::stream_protocol::socket& socket,
                        std::shared_ptr<void> keep_alive, Supervisor& supervisor);

}  // namespace procsup
