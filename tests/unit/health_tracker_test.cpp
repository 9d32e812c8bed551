#include <doctest/doctest.h>

#include <chrono>

#include "procsup/health_check.hpp"

using namespace std::chrono_literals;
using procsup::HealthCheckConfig;
using procsup::HealthState;
using procsup::HealthTracker;

namespace {

// A fixed origin, so every time point in these tests is explicit.
const HealthTracker::TimePoint t0{std::chrono::hours(1000)};

HealthCheckConfig config_with(std::chrono::milliseconds start_period, int retries)
{
    HealthCheckConfig config;
    config.start_period = start_period;
    config.retries = retries;
    return config;
}

}  // namespace

TEST_SUITE("health_tracker")
{
    TEST_CASE("a tracker without a process reports none and ignores results")
    {
        HealthTracker tracker(config_with(0s, 3));
        CHECK(tracker.state() == HealthState::none);
        CHECK(tracker.record(false, t0) == HealthState::none);
        CHECK(tracker.record(true, t0) == HealthState::none);
        CHECK(tracker.failures() == 0);
    }

    TEST_CASE("reset makes the health starting with no failures")
    {
        HealthTracker tracker(config_with(10s, 3));
        tracker.reset(t0);
        CHECK(tracker.state() == HealthState::starting);
        CHECK(tracker.failures() == 0);
    }

    TEST_CASE("one success while starting makes the service healthy")
    {
        HealthTracker tracker(config_with(10s, 3));
        tracker.reset(t0);
        CHECK(tracker.record(true, t0 + 1s) == HealthState::healthy);
        CHECK(tracker.failures() == 0);
    }

    TEST_CASE("failures during the start period do not count")
    {
        HealthTracker tracker(config_with(10s, 2));
        tracker.reset(t0);
        for (auto at : {0s, 1s, 5s, 9s}) {
            CHECK(tracker.record(false, t0 + at) == HealthState::starting);
        }
        CHECK(tracker.record(false, t0 + 9999ms) == HealthState::starting);
        CHECK(tracker.failures() == 0);
    }

    TEST_CASE("the start period ends exactly at start plus start_period")
    {
        HealthTracker tracker(config_with(10s, 2));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0 + 10s) == HealthState::starting);
        CHECK(tracker.failures() == 1);
        CHECK(tracker.record(false, t0 + 11s) == HealthState::unhealthy);
        CHECK(tracker.failures() == 2);
    }

    TEST_CASE("retries counted failures after the start period make a starting service unhealthy")
    {
        HealthTracker tracker(config_with(10s, 3));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0 + 5s) == HealthState::starting);  // not counted
        CHECK(tracker.record(false, t0 + 15s) == HealthState::starting);
        CHECK(tracker.record(false, t0 + 20s) == HealthState::starting);
        CHECK(tracker.failures() == 2);
        CHECK(tracker.record(false, t0 + 25s) == HealthState::unhealthy);
        CHECK(tracker.failures() == 3);
    }

    TEST_CASE("with no start period the first failure counts at once")
    {
        HealthTracker tracker(config_with(0s, 2));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0) == HealthState::starting);
        CHECK(tracker.failures() == 1);
        CHECK(tracker.record(false, t0) == HealthState::unhealthy);
    }

    TEST_CASE("retries of one makes the first counted failure unhealthy")
    {
        HealthTracker tracker(config_with(0s, 1));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0 + 1s) == HealthState::unhealthy);
    }

    TEST_CASE("a success ends the start period so later failures count even inside it")
    {
        HealthTracker tracker(config_with(60s, 2));
        tracker.reset(t0);
        CHECK(tracker.record(true, t0 + 1s) == HealthState::healthy);
        CHECK(tracker.record(false, t0 + 2s) == HealthState::healthy);
        CHECK(tracker.failures() == 1);
        CHECK(tracker.record(false, t0 + 3s) == HealthState::unhealthy);
    }

    TEST_CASE("a healthy service stays healthy until retries failures in a row")
    {
        HealthTracker tracker(config_with(0s, 3));
        tracker.reset(t0);
        tracker.record(true, t0);
        CHECK(tracker.record(false, t0 + 30s) == HealthState::healthy);
        CHECK(tracker.record(false, t0 + 60s) == HealthState::healthy);
        CHECK(tracker.failures() == 2);
        CHECK(tracker.record(false, t0 + 90s) == HealthState::unhealthy);
    }

    TEST_CASE("a success resets the streak of failures")
    {
        HealthTracker tracker(config_with(0s, 3));
        tracker.reset(t0);
        tracker.record(true, t0);
        tracker.record(false, t0 + 1s);
        tracker.record(false, t0 + 2s);
        CHECK(tracker.record(true, t0 + 3s) == HealthState::healthy);
        CHECK(tracker.failures() == 0);
        CHECK(tracker.record(false, t0 + 4s) == HealthState::healthy);
        CHECK(tracker.record(false, t0 + 5s) == HealthState::healthy);
        CHECK(tracker.failures() == 2);
    }

    TEST_CASE("an unhealthy service keeps counting failures and one success makes it healthy")
    {
        HealthTracker tracker(config_with(0s, 1));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0) == HealthState::unhealthy);
        CHECK(tracker.record(false, t0 + 1s) == HealthState::unhealthy);
        CHECK(tracker.failures() == 2);
        CHECK(tracker.record(true, t0 + 2s) == HealthState::healthy);
        CHECK(tracker.failures() == 0);
    }

    TEST_CASE("reset after unhealthy starts over with a new start period")
    {
        HealthTracker tracker(config_with(10s, 1));
        tracker.reset(t0);
        CHECK(tracker.record(false, t0 + 20s) == HealthState::unhealthy);

        const auto restarted = t0 + 100s;
        tracker.reset(restarted);
        CHECK(tracker.state() == HealthState::starting);
        CHECK(tracker.failures() == 0);
        CHECK(tracker.record(false, restarted + 5s) == HealthState::starting);
        CHECK(tracker.record(false, restarted + 10s) == HealthState::unhealthy);
    }

    TEST_CASE("reset after healthy makes the service starting again")
    {
        HealthTracker tracker(config_with(10s, 1));
        tracker.reset(t0);
        tracker.record(true, t0 + 1s);
        tracker.reset(t0 + 50s);
        CHECK(tracker.state() == HealthState::starting);
        CHECK(tracker.record(false, t0 + 55s) == HealthState::starting);
    }

    TEST_CASE("clear makes the health none from every state")
    {
        HealthTracker tracker(config_with(0s, 1));
        SUBCASE("starting") { tracker.reset(t0); }
        SUBCASE("healthy")
        {
            tracker.reset(t0);
            tracker.record(true, t0);
        }
        SUBCASE("unhealthy")
        {
            tracker.reset(t0);
            tracker.record(false, t0);
        }
        tracker.clear();
        CHECK(tracker.state() == HealthState::none);
        CHECK(tracker.failures() == 0);
        CHECK(tracker.record(false, t0 + 1s) == HealthState::none);
    }

    TEST_CASE("a new config applies to the next result")
    {
        HealthTracker tracker(config_with(0s, 5));
        tracker.reset(t0);
        tracker.record(false, t0);
        tracker.set_config(config_with(0s, 2));
        CHECK(tracker.config().retries == 2);
        CHECK(tracker.record(false, t0 + 1s) == HealthState::unhealthy);
    }
}
