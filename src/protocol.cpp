#include "procsup/protocol.hpp"

#include <ctime>

#include "procsup/units.hpp"

namespace procsup {

std::string_view to_string(HealthState health)
{
    switch (health) {
    case HealthState::none:
        return "none";
    case HealthState::starting:
        return "starting";
    case HealthState::healthy:
        return "healthy";
    case HealthState::unhealthy:
        return "unhealthy";
    }
    return "none";
}

namespace protocol {

std::string format_rfc3339(std::chrono::system_clock::time_point t)
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char millis[8];
    std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms.count() % 1000));
    return std::string(text, n) + millis;
}

boost::json::object to_json(const ServiceStatus& status)
{
    boost::json::object o;
    o["name"] = status.name;
    o["state"] = to_string(status.state);
    o["pid"] = status.pid ? boost::json::value(*status.pid) : boost::json::value(nullptr);
    // Whole seconds: a stable integer for scripts; the table shows it as "3h12m".
    o["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(status.uptime).count();
    o["restarts"] = status.restarts;
    o["failed_starts"] = status.failed_starts;
    o["health"] = to_string(status.health);
    o["health_failures"] = status.health_failures;
    o["health_output"] = status.health_output;
    if (status.last_exit) {
        boost::json::object e;
        e["code"] = status.last_exit->code ? boost::json::value(*status.last_exit->code)
                                           : boost::json::value(nullptr);
        e["signal"] = status.last_exit->signal
                          ? boost::json::value(signal_name(*status.last_exit->signal))
                          : boost::json::value(nullptr);
        o["last_exit"] = std::move(e);
    } else {
        o["last_exit"] = nullptr;
    }
    o["since"] = format_rfc3339(status.since);
    o["message"] = status.message;
    o["notify_status"] = status.notify_status;
    return o;
}

boost::json::object make_error(std::string_view code, std::string_view message)
{
    boost::json::object o;
    o["version"] = version;
    o["ok"] = false;
    o["error"] = boost::json::object{{"code", code}, {"message", message}};
    return o;
}

boost::json::object make_ok()
{
    boost::json::object o;
    o["version"] = version;
    o["ok"] = true;
    return o;
}

}  // namespace protocol
}  // namespace procsup
