// One datagram that a service of type = "notify" sends to procsup's notify socket, in the
// sd_notify(3) format: NAME=VALUE lines. Pure code; the caller decides whether the sender
// may speak for the service.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace procsup {

// What procsup understands of a message. Other names (STOPPING=1, RELOADING=1, FDSTORE=1,
// WATCHDOG=trigger, WATCHDOG_USEC=, ...) are ignored.
struct NotifyMessage {
    bool ready = false;                   // READY=1
    bool watchdog = false;                // WATCHDOG=1
    std::optional<std::string> status;    // STATUS=..., cleaned for display
    std::optional<std::string> main_pid;  // MAINPID=..., as sent; never acted on

    bool operator==(const NotifyMessage&) const = default;
};

// The longest STATUS= text kept, in bytes; a longer one is cut and ends in "...".
inline constexpr std::size_t max_notify_status = 200;

// Control characters in STATUS= become spaces, so that a status cannot break the table of
// `procsup status` or a log line.
NotifyMessage parse_notify_message(std::string_view datagram);

}  // namespace procsup
