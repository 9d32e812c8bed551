#include "procsup/notify_message.hpp"

#include <string>

#include <doctest/doctest.h>

using procsup::NotifyMessage;
using procsup::parse_notify_message;

TEST_SUITE("notify_message")
{
    TEST_CASE("READY, WATCHDOG, STATUS and MAINPID are read from one datagram")
    {
        const NotifyMessage m =
            parse_notify_message("READY=1\nSTATUS=Serving 3 clients\nWATCHDOG=1\nMAINPID=42");
        CHECK(m.ready);
        CHECK(m.watchdog);
        CHECK(m.status == "Serving 3 clients");
        CHECK(m.main_pid == "42");
    }

    TEST_CASE("a message says only what it names")
    {
        CHECK(parse_notify_message("") == NotifyMessage{});
        CHECK(parse_notify_message("STOPPING=1\nRELOADING=1\nFDSTORE=1\n") == NotifyMessage{});
        CHECK(parse_notify_message("WATCHDOG=trigger") == NotifyMessage{});
        CHECK(parse_notify_message("READY=0\nREADY=10\nready=1") == NotifyMessage{});
        const NotifyMessage watchdog = parse_notify_message("WATCHDOG=1\n");
        CHECK(watchdog.watchdog);
        CHECK_FALSE(watchdog.ready);
        CHECK_FALSE(watchdog.status);
    }

    TEST_CASE("an empty STATUS clears the status and the last STATUS wins")
    {
        CHECK(parse_notify_message("STATUS=").status == "");
        CHECK(parse_notify_message("STATUS=one\nSTATUS=two").status == "two");
    }

    TEST_CASE("control characters in STATUS become spaces")
    {
        CHECK(parse_notify_message("STATUS=a\tb\rc\x1b[31m\x7f").status ==
              "a b c [31m ");
    }

    TEST_CASE("a long STATUS is cut at the limit without splitting a UTF-8 character")
    {
        const std::string ascii(500, 'x');
        const auto cut = parse_notify_message("STATUS=" + ascii).status.value();
        CHECK(cut.size() == procsup::max_notify_status);
        CHECK(cut.ends_with("..."));

        std::string wide;
        for (int i = 0; i < 200; ++i) {
            wide += "\u00e9";  // two bytes each
        }
        const auto cut_wide = parse_notify_message("STATUS=x" + wide).status.value();
        CHECK(cut_wide.size() <= procsup::max_notify_status);
        CHECK(cut_wide.ends_with("\u00e9..."));
    }
}
