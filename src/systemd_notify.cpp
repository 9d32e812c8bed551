#include "procsup/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace procsup {

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io)
    : watchdog_timer_(io), enabled_(std::getenv("NOTIFY_SOCKET") != nullptr)
{
}

void SystemdNotifier::start_watchdog()
{
    std::uint64_t usec = 0;
    // sd_watchdog_enabled checks WATCHDOG_PID against our PID, so a watchdog meant for
    // another process is not fed by mistake.
    if (!enabled_ || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
        return;
    }
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    spdlog::debug("systemd watchdog enabled: pinging every {} ms",
                  watchdog_interval_.count() / 1000);
    ping_watchdog();
}

void SystemdNotifier::ping_watchdog()
{
    send("WATCHDOG=1");
    watchdog_timer_.expires_after(watchdog_interval_);
    watchdog_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            ping_watchdog();
        }
    });
}

std::string SystemdNotifier::summary(const std::vector<ServiceStatus>& services)
{
    int running = 0;
    int starting = 0;
    int failed = 0;
    for (const ServiceStatus& s : services) {
        if (s.state == ServiceState::running) {
            ++running;
        } else if (s.state == ServiceState::starting || s.state == ServiceState::backoff) {
            ++starting;
        } else if (s.state == ServiceState::fatal) {
            ++failed;
        }
    }
    return fmt::format("{} running, {} starting, {} failed", running, starting, failed);
}

bool SystemdNotifier::is_settled(const std::vector<ServiceStatus>& services,
                                 const std::vector<std::string>& autostart_names)
{
    return std::all_of(autostart_names.begin(), autostart_names.end(), [&](const auto& name) {
        const auto it = std::find_if(services.begin(), services.end(),
                                     [&](const ServiceStatus& s) { return s.name == name; });
        if (it == services.end()) {
            return true;
        }
        switch (it->state) {
        case ServiceState::running:
            return it->health == HealthState::none || it->health == HealthState::healthy;
        case ServiceState::exited:
        case ServiceState::fatal:
            return true;
        case ServiceState::stopped:
            return it->message.empty() == false;  // given up, e.g. a dependency failed
        case ServiceState::starting:
        case ServiceState::backoff:
        case ServiceState::stopping:
            return false;
        }
        return false;
    });
}

void SystemdNotifier::update(const std::vector<ServiceStatus>& services,
                             const std::vector<std::string>& autostart_names)
{
    if (!enabled_) {
        return;
    }
    std::string status = summary(services);
    if (!ready_sent_ && is_settled(services, autostart_names)) {
        ready_sent_ = true;
        send("READY=1\nSTATUS=" + status);
        last_status_ = status;
        return;
    }
    if (status != last_status_) {
        last_status_ = status;
        send("STATUS=" + status);
    }
}

void SystemdNotifier::reloading()
{
    send("RELOADING=1");
}

void SystemdNotifier::reloaded()
{
    send("READY=1");
}

void SystemdNotifier::stopping()
{
    send("STOPPING=1");
}

void SystemdNotifier::send(const std::string& message)
{
    if (!enabled_) {
        return;
    }
    // unset_environment = 0: NOTIFY_SOCKET stays for the next message. The services never
    // see it: it is removed from their environment (service_base_environment).
    if (sd_notify(0, message.c_str()) < 0) {
        spdlog::debug("sd_notify failed; ignoring");
    }
}

}  // namespace procsup
