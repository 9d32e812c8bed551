#include <doctest/doctest.h>

#include "procsup/log_throttle.hpp"

using namespace procsup;
using namespace std::chrono_literals;

TEST_SUITE("log_throttle")
{
    TEST_CASE("a burst is logged, the rest counted and summed up in the next window")
    {
        LogThrottle throttle(3, 10s);
        const LogThrottle::Clock::time_point t0{100s};
        int logged = 0;
        for (int i = 0; i < 10; ++i) {
            const auto v = throttle.check(t0 + std::chrono::milliseconds(i));
            logged += v.log;
            CHECK_FALSE(v.suppressed.has_value());
        }
        CHECK(logged == 3);
        const auto next = throttle.check(t0 + 11s);
        CHECK(next.log);
        REQUIRE(next.suppressed.has_value());
        CHECK(*next.suppressed == 7);
        CHECK_FALSE(throttle.check(t0 + 12s).suppressed.has_value());
    }

    TEST_CASE("a calm service is never throttled")
    {
        LogThrottle throttle(3, 10s);
        for (int i = 0; i < 20; ++i) {
            const auto v =
                throttle.check(LogThrottle::Clock::time_point{std::chrono::seconds(4 * i)});
            CHECK(v.log);
            CHECK_FALSE(v.suppressed.has_value());
        }
    }
}
