#include <doctest/doctest.h>

#include "procsup/systemd_notify.hpp"

using namespace procsup;

namespace {

ServiceStatus service(const std::string& name, ServiceState state,
                      HealthState health = HealthState::none)
{
    ServiceStatus s;
    s.name = name;
    s.state = state;
    s.health = health;
    return s;
}

}  // namespace

TEST_SUITE("systemd_notify")
{
    TEST_CASE("the status summary counts running, starting and failed services")
    {
        const std::vector<ServiceStatus> all{
            service("a", ServiceState::running), service("b", ServiceState::running),
            service("c", ServiceState::starting), service("d", ServiceState::backoff),
            service("e", ServiceState::fatal), service("f", ServiceState::stopped)};
        CHECK(SystemdNotifier::summary(all) == "2 running, 2 starting, 1 failed");
    }

    TEST_CASE("ready waits for every autostart service to run, healthy when checked")
    {
        std::vector<ServiceStatus> all{service("web", ServiceState::running,
                                               HealthState::starting),
                                       service("job", ServiceState::exited),
                                       service("manual", ServiceState::stopped)};
        const std::vector<std::string> autostart{"web", "job"};
        CHECK_FALSE(SystemdNotifier::is_settled(all, autostart));
        all[0].health = HealthState::healthy;
        CHECK(SystemdNotifier::is_settled(all, autostart));
        all[1].state = ServiceState::backoff;
        CHECK_FALSE(SystemdNotifier::is_settled(all, autostart));
        all[1].state = ServiceState::fatal;  // failed for good also settles
        CHECK(SystemdNotifier::is_settled(all, autostart));
    }
}
