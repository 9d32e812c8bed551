// End-to-end: `procsup update` applies exactly the difference (DESIGN §2, issue 4).
#include <signal.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;

TEST_SUITE("update")
{
    TEST_CASE("update adds, removes and restarts exactly what changed" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.keep]
command = ["sleep", "1000"]
[services.tune]
command = ["sleep", "1001"]
log_max_size = "1MB"
[services.change]
command = ["sleep", "1002"]
[services.drop]
command = ["sleep", "1003"]
)");
        f.start_daemon();
        for (const char* s : {"keep", "tune", "change", "drop"}) {
            REQUIRE(wait_until([&] { return f.state_of(s) == "running"; }));
        }
        const auto keep = f.pid_of("keep");
        const auto tune = f.pid_of("tune");
        const auto change = f.pid_of("change");
        const auto drop = f.pid_of("drop");

        f.write_config(R"(
[services.keep]
command = ["sleep", "1000"]
[services.tune]
command = ["sleep", "1001"]
log_max_size = "2MB"
restart = "always"
[services.change]
command = ["sleep", "1012"]
[services.add]
command = ["sleep", "1004"]
)");
        const auto dry = f.cli({"update", "--dry-run"});
        CHECK(dry.exit_code == 0);
        CHECK(dry.out.find("added: add; removed: drop; restarted: change; updated: tune; "
                           "unchanged: 1") != std::string::npos);
        CHECK(f.pid_of("drop") == drop);
        CHECK(f.state_of("add").empty());

        const auto r = f.cli({"update"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("added: add; removed: drop; restarted: change") != std::string::npos);
        CHECK(wait_until([&] { return f.state_of("add") == "running"; }));
        CHECK(wait_until([&] { return f.state_of("change") == "running"; }));
        CHECK(f.pid_of("keep") == keep);
        CHECK(f.pid_of("tune") == tune);
        CHECK(f.pid_of("change") != change);
        CHECK(wait_until([&] { return f.status_of("drop").is_null(); }));
        CHECK_FALSE(process_alive(*drop));
    }

    TEST_CASE("a removed service shows as stopping until its processes are gone" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.keep]
command = ["sleep", "1000"]
[services.slow]
command = ["sh", "-c", "trap 'sleep 1.5; exit 0' TERM; while :; do sleep 0.1; done"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("slow") == "running"; }));
        f.write_config("[services.keep]\ncommand = [\"sleep\", \"1000\"]\n");
        CHECK(f.cli({"update"}).exit_code == 0);
        const auto slow = f.status_of("slow");
        REQUIRE(slow.is_object());
        CHECK(slow.at("state").as_string() == "stopping");
        CHECK(std::string(slow.at("message").as_string()).find("removed from the config") == 0);
        CHECK(wait_until([&] { return f.status_of("slow").is_null(); }));
    }

    TEST_CASE("a broken config on update changes nothing and says where it is broken" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        const auto pid = f.pid_of("app");
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
stop_timeout = "soon"
[services.other]
command = ["sleep", "1000"]
)");
        const auto r = f.cli({"update"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("procsup.toml:10:") != std::string::npos);
        CHECK(r.err.find("stop_timeout") != std::string::npos);
        CHECK(f.pid_of("app") == pid);
        CHECK(f.state_of("other").empty());
    }

    TEST_CASE("SIGUSR1 re-reads the config like update" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.a]
command = ["sleep", "1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("a") == "running"; }));
        f.write_config(R"(
[services.a]
command = ["sleep", "1000"]
[services.b]
command = ["sleep", "1000"]
)");
        ::kill(*f.daemon_pid(), SIGUSR1);
        CHECK(wait_until([&] { return f.state_of("b") == "running"; }));
    }
}

TEST_SUITE("update")
{
    TEST_CASE("update leaves an unchanged fatal service alone and revives a changed one" *
              doctest::timeout(60))
    {
        Fixture f;
        const std::string config = R"(
[services.broken]
command = ["sh", "-c", "echo run >> @DIR@/broken.runs; exit 3"]
start_retries = 1
backoff = "50ms"
[services.fixable]
command = ["sh", "-c", "exit 3"]
start_retries = 0
)";
        f.write_config(config);
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("broken") == "fatal"; }));
        REQUIRE(wait_until([&] { return f.state_of("fixable") == "fatal"; }));
        const std::string runs = read_file(f.path("broken.runs"));

        std::string changed = config;
        changed.replace(changed.find("[\"sh\", \"-c\", \"exit 3\"]"),
                        std::string("[\"sh\", \"-c\", \"exit 3\"]").size(),
                        "[\"sleep\", \"1000\"]");
        f.write_config(changed);
        const auto r = f.cli({"update"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("restarted: fixable") != std::string::npos);
        CHECK(wait_until([&] { return f.state_of("fixable") == "running"; }));
        CHECK(f.state_of("broken") == "fatal");
        CHECK(read_file(f.path("broken.runs")) == runs);
    }
}
