// Talks to systemd when procsup runs as a Type=notify service: READY=1 once the autostart
// services are up, a STATUS= summary kept current, WATCHDOG=1 from the event loop itself
// (so a stuck loop stops the pings), RELOADING=1 and STOPPING=1. Silent when NOTIFY_SOCKET
// is unset.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>
#include <vector>

#include "procsup/service_status.hpp"

namespace procsup {

class SystemdNotifier {
public:
    explicit SystemdNotifier(boost::asio::io_context& io);

    // Starts the watchdog pings when systemd asked for them (WATCHDOG_USEC).
    void start_watchdog();

    // Call after every state or health change: sends READY=1 the first time every
    // autostart service has settled, and STATUS= when the summary changed.
    void update(const std::vector<ServiceStatus>& services,
                const std::vector<std::string>& autostart_names);

    void reloading();
    void reloaded();
    void stopping();

    // "5 running, 1 starting, 0 failed"
    static std::string summary(const std::vector<ServiceStatus>& services);
    // True when every named service runs (healthy if it has a check) or ended for good.
    static bool is_settled(const std::vector<ServiceStatus>& services,
                           const std::vector<std::string>& autostart_names);

private:
    void send(const std::string& message);
    void ping_watchdog();

    boost::asio::steady_timer watchdog_timer_;
    std::chrono::microseconds watchdog_interval_{0};
    bool enabled_ = false;
    bool ready_sent_ = false;
    std::string last_status_;
};

}  // namespace procsup
