#include "procsup/units.hpp"

#include <chrono>
#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using procsup::Duration;

TEST_SUITE("units")
{
    TEST_CASE("durations accept every unit and bare seconds")
    {
        CHECK(procsup::parse_duration("250ms") == Duration(250));
        CHECK(procsup::parse_duration("30s") == Duration(30s));
        CHECK(procsup::parse_duration("5m") == Duration(5min));
        CHECK(procsup::parse_duration("1h") == Duration(1h));
        CHECK(procsup::parse_duration("0") == Duration(0));
        CHECK(procsup::parse_duration("0s") == Duration(0));
        CHECK(procsup::parse_duration("42") == Duration(42s));
    }

    TEST_CASE("durations accept a fraction that is a whole number of milliseconds")
    {
        CHECK(procsup::parse_duration("1.5s") == Duration(1500));
        CHECK(procsup::parse_duration("0.25m") == Duration(15s));
        CHECK(procsup::parse_duration("0.001s") == Duration(1));
        CHECK_FALSE(procsup::parse_duration("0.0001s"));
        CHECK_FALSE(procsup::parse_duration("0.5ms"));
        CHECK_FALSE(procsup::parse_duration("1.s"));
        CHECK_FALSE(procsup::parse_duration(".5s"));
        CHECK_FALSE(procsup::parse_duration("1.5"));
    }

    TEST_CASE("durations accept compound forms with decreasing units")
    {
        CHECK(procsup::parse_duration("1h30m") == Duration(90min));
        CHECK(procsup::parse_duration("1m30s") == Duration(90s));
        CHECK(procsup::parse_duration("1s500ms") == Duration(1500));
        CHECK(procsup::parse_duration("2h0m1s") == Duration(2h + 1s));
        CHECK_FALSE(procsup::parse_duration("30s1m"));
        CHECK_FALSE(procsup::parse_duration("1m1m"));
        CHECK_FALSE(procsup::parse_duration("1.5m30s"));
    }

    TEST_CASE("durations reject malformed text")
    {
        for (const char* text : {"", "s", "ms", "-1s", "-1", "+1s", "1 s", " 1s", "1s ", "1sec",
                                 "1S", "1d", "1e3", "1,5s", "abc", "10x"}) {
            CAPTURE(text);
            CHECK_FALSE(procsup::parse_duration(text));
        }
    }

    TEST_CASE("durations that overflow are rejected instead of wrapping")
    {
        CHECK_FALSE(procsup::parse_duration("99999999999999999999"));
        CHECK_FALSE(procsup::parse_duration("18446744073709551615"));
        CHECK_FALSE(procsup::parse_duration("9223372036854775807s"));
        CHECK_FALSE(procsup::parse_duration("5124095576030432h"));
        CHECK(procsup::parse_duration("9223372036854775807ms") ==
              Duration(std::numeric_limits<Duration::rep>::max()));
    }

    TEST_CASE("format_duration prints the shortest exact form and reads back")
    {
        CHECK(procsup::format_duration(Duration(0)) == "0s");
        CHECK(procsup::format_duration(Duration(250)) == "250ms");
        CHECK(procsup::format_duration(30s) == "30s");
        CHECK(procsup::format_duration(5min) == "5m");
        CHECK(procsup::format_duration(90min) == "1h30m");
        CHECK(procsup::format_duration(Duration(1500)) == "1s500ms");
        CHECK(procsup::format_duration(Duration(-2000)) == "-2s");
        for (Duration d : {Duration(1), Duration(61'001), Duration(3'723'004), Duration(25h)}) {
            CAPTURE(d.count());
            CHECK(procsup::parse_duration(procsup::format_duration(d)) == d);
        }
    }

    TEST_CASE("format_uptime shows the two most significant units")
    {
        CHECK(procsup::format_uptime(Duration(0)) == "0s");
        CHECK(procsup::format_uptime(45s) == "45s");
        CHECK(procsup::format_uptime(Duration(45'999)) == "45s");
        CHECK(procsup::format_uptime(3min + 12s) == "3m12s");
        CHECK(procsup::format_uptime(3h + 12min + 5s) == "3h12m");
        CHECK(procsup::format_uptime(48h + 4h + 59min) == "2d4h");
        CHECK(procsup::format_uptime(Duration(-5)) == "0s");
    }

    TEST_CASE("sizes accept decimal and binary units in any case")
    {
        CHECK(procsup::parse_size("0") == 0u);
        CHECK(procsup::parse_size("512") == 512u);
        CHECK(procsup::parse_size("512B") == 512u);
        CHECK(procsup::parse_size("10KB") == 10'000u);
        CHECK(procsup::parse_size("10MB") == 10'000'000u);
        CHECK(procsup::parse_size("10mb") == 10'000'000u);
        CHECK(procsup::parse_size("2GB") == 2'000'000'000u);
        CHECK(procsup::parse_size("1TB") == 1'000'000'000'000u);
        CHECK(procsup::parse_size("512KiB") == 512u * 1024);
        CHECK(procsup::parse_size("3mib") == 3u * 1024 * 1024);
        CHECK(procsup::parse_size("1GiB") == 1024u * 1024 * 1024);
        CHECK(procsup::parse_size("1TiB") == std::uint64_t{1} << 40);
    }

    TEST_CASE("sizes reject malformed text and overflow")
    {
        for (const char* text : {"", "MB", "-1", "1.5MB", "10 MB", "10M", "10K", "10XB", " 1",
                                 "1e6", "18446744073709551616", "20000000000GB"}) {
            CAPTURE(text);
            CHECK_FALSE(procsup::parse_size(text));
        }
        CHECK(procsup::parse_size("18446744073709551615") ==
              std::numeric_limits<std::uint64_t>::max());
    }

    TEST_CASE("signals are read by name with or without SIG, in any case, or by number")
    {
        CHECK(procsup::parse_signal("TERM") == 15);
        CHECK(procsup::parse_signal("SIGTERM") == 15);
        CHECK(procsup::parse_signal("term") == 15);
        CHECK(procsup::parse_signal("sigterm") == 15);
        CHECK(procsup::parse_signal("HUP") == 1);
        CHECK(procsup::parse_signal("KILL") == 9);
        CHECK(procsup::parse_signal("USR1") == 10);
        CHECK(procsup::parse_signal("USR2") == 12);
        CHECK(procsup::parse_signal("INT") == 2);
        CHECK(procsup::parse_signal("QUIT") == 3);
        CHECK(procsup::parse_signal("WINCH") == 28);
        CHECK(procsup::parse_signal("IOT") == 6);
        CHECK(procsup::parse_signal("15") == 15);
        CHECK(procsup::parse_signal("1") == 1);
        CHECK(procsup::parse_signal("64") == 64);
        CHECK(procsup::parse_signal("SIG42") == 42);
    }

    TEST_CASE("signals reject unknown names and numbers out of range")
    {
        for (const char* text : {"", "SIG", "TERMINATE", "SIGSIGTERM", "0", "65", "-15", "15x",
                                 " TERM", "99999999999999999999"}) {
            CAPTURE(text);
            CHECK_FALSE(procsup::parse_signal(text));
        }
    }

    TEST_CASE("signal_name gives the SIG name or SIG and the number")
    {
        CHECK(procsup::signal_name(15) == "SIGTERM");
        CHECK(procsup::signal_name(1) == "SIGHUP");
        CHECK(procsup::signal_name(9) == "SIGKILL");
        CHECK(procsup::signal_name(6) == "SIGABRT");
        CHECK(procsup::signal_name(42) == "SIG42");
        for (int signo = 1; signo <= 64; ++signo) {
            CAPTURE(signo);
            CHECK(procsup::parse_signal(procsup::signal_name(signo)) == signo);
        }
    }

    TEST_CASE("octal modes accept leading zeros and the 0o prefix")
    {
        CHECK(procsup::parse_octal_mode("0022") == 022u);
        CHECK(procsup::parse_octal_mode("022") == 022u);
        CHECK(procsup::parse_octal_mode("22") == 022u);
        CHECK(procsup::parse_octal_mode("0o022") == 022u);
        CHECK(procsup::parse_octal_mode("0") == 0u);
        CHECK(procsup::parse_octal_mode("0600") == 0600u);
        CHECK(procsup::parse_octal_mode("7777") == 07777u);
        CHECK(procsup::parse_octal_mode("07777") == 07777u);
    }

    TEST_CASE("octal modes reject non-octal digits and values above 07777")
    {
        for (const char* text : {"", "0o", "08", "0029", "abc", "-1", "10000", "017777", "0x22",
                                 " 022", "000000022"}) {
            CAPTURE(text);
            CHECK_FALSE(procsup::parse_octal_mode(text));
        }
    }
}
