// End-to-end: the real binary supervising real processes (DESIGN §4, §6, §8).
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <thread>

#include "harness.hpp"

using namespace procsup::test;

TEST_SUITE("daemon")
{
    TEST_CASE("a service runs in its own session with stdin on /dev/null" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sh", "-c", "readlink /proc/self/fd/0 > @DIR@/stdin.txt; exec sleep 1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        const auto pid = f.pid_of("app");
        REQUIRE(pid);
        CHECK(::getsid(*pid) == *pid);
        CHECK(::getpgid(*pid) == *pid);
        REQUIRE(wait_until([&] { return !read_file(f.path("stdin.txt")).empty(); }));
        CHECK(read_file(f.path("stdin.txt")) == "/dev/null\n");
    }

    TEST_CASE("a SIGKILLed service is replaced at once" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
restart = "always"
start_seconds = "200ms"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        const auto first = f.pid_of("app");
        REQUIRE(first);
        // Past the stability window, a crash is not a failed start: no backoff applies.
        std::this_thread::sleep_for(1100ms);
        ::kill(*first, SIGKILL);
        REQUIRE(wait_until([&] {
            const auto now = f.pid_of("app");
            return now && *now != *first && f.state_of("app") == "running";
        }));
        const auto s = f.status_of("app");
        CHECK(s.at("restarts").as_int64() == 1);
        CHECK(s.at("last_exit").at("signal").as_string() == "SIGKILL");
        // The log tells the story in order: the exit and the decision, then the new start.
        const std::string log = read_file(f.log_path());
        const auto exit_line = log.find("was killed by SIGKILL");
        const std::string started = "service 'app' started (pid";
        const auto second_start = log.find(started, log.find(started) + 1);
        CHECK(exit_line != std::string::npos);
        CHECK(log.find("restarting now", exit_line) != std::string::npos);
        CHECK(exit_line < second_start);
    }

    TEST_CASE("a crash loop ends in fatal after start_retries" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.crash]
command = ["sh", "-c", "echo attempt >> @DIR@/attempts; exit 3"]
restart = "always"
start_retries = 2
backoff = "100ms"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("crash") == "fatal"; }, 20s));
        // One first attempt and two retries.
        CHECK(read_file(f.path("attempts")) == "attempt\nattempt\nattempt\n");
        const auto s = f.status_of("crash");
        CHECK(s.at("last_exit").at("code").as_int64() == 3);
        const auto start = f.cli({"start", "crash"});
        CHECK(start.exit_code == 1);
        CHECK(start.out.find("exited with status 3") != std::string::npos);
    }

    TEST_CASE("stop leaves no grandchild behind" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.tree]
command = ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("tree") == "running"; }));
        // The shell and its two sleeps; the daemon carries the token too.
        REQUIRE(wait_until([&] { return processes_with_token(f.token()).size() == 4; }));
        const auto stop = f.cli({"stop", "tree"});
        CHECK(stop.exit_code == 0);
        CHECK(processes_with_token(f.token()).size() == 1);
        CHECK(f.state_of("tree") == "stopped");
    }

    TEST_CASE("a service that ignores SIGTERM is SIGKILLed after stop_timeout" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.stubborn]
command = ["sh", "-c", "trap '' TERM; sleep 1000 & wait"]
stop_timeout = "1s"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("stubborn") == "running"; }));
        const auto pid = f.pid_of("stubborn");
        const auto t0 = std::chrono::steady_clock::now();
        const auto stop = f.cli({"stop", "stubborn"});
        const auto took = std::chrono::steady_clock::now() - t0;
        CHECK(stop.exit_code == 0);
        CHECK(took >= 900ms);
        CHECK_FALSE(process_alive(*pid));
        CHECK(processes_with_token(f.token()).size() == 1);
        CHECK(f.status_of("stubborn").at("last_exit").at("signal").as_string() == "SIGKILL");
    }

    TEST_CASE("a manual stop is not undone by restart = always" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
restart = "always"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        CHECK(f.cli({"stop", "app"}).exit_code == 0);
        // Watch for a while: nothing may bring it back.
        const bool came_back = wait_until([&] { return f.state_of("app") != "stopped"; }, 1500ms);
        CHECK_FALSE(came_back);
        CHECK(processes_with_token(f.token()).size() == 1);
    }

    TEST_CASE("PID files name the right processes and a second daemon refuses to start" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
pidfile = "@DIR@/app.pid"
start_seconds = "100ms"
)");
        f.start_daemon();
        const auto daemon = f.daemon_pid();
        REQUIRE(daemon);
        CHECK(process_alive(*daemon));
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        CHECK(read_pid(f.path("app.pid")) == f.pid_of("app"));

        const auto second = run_command({procsup_binary().string(), "daemon", "-c",
                                         f.config_path().string(), "--detach", "--pidfile",
                                         f.pidfile_path().string()});
        CHECK(second.exit_code != 0);
        CHECK(second.err.find(std::to_string(*daemon)) != std::string::npos);
        CHECK(f.daemon_pid() == daemon);
        CHECK(f.cli({"status"}).exit_code == 0);
        // The refused daemon looked at nothing before it knew it was second: no warning that
        // the first daemon's service "was not started by this daemon" in the shared log.
        CHECK(read_file(f.log_path()).find("was not started by this daemon") ==
              std::string::npos);

        CHECK(f.cli({"restart", "app"}).exit_code == 0);
        CHECK(read_pid(f.path("app.pid")) == f.pid_of("app"));
        CHECK(f.cli({"stop", "app"}).exit_code == 0);
        CHECK_FALSE(std::filesystem::exists(f.path("app.pid")));
    }

    TEST_CASE("daemon --detach returns only once the socket answers" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
)");
        for (int round = 0; round < 3; ++round) {
            f.start_daemon();
            CHECK(std::filesystem::exists(f.pidfile_path()));
            CHECK(f.cli({"status"}).exit_code == 0);
            const auto daemon = f.daemon_pid();
            CHECK(f.cli({"shutdown"}).exit_code == 0);
            CHECK_FALSE(process_alive(*daemon));
            CHECK_FALSE(std::filesystem::exists(f.pidfile_path()));
            CHECK_FALSE(std::filesystem::exists(f.socket_path()));
        }
    }

    TEST_CASE("SIGTERM to the daemon stops every service and exits 0" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.a]
command = ["sh", "-c", "sleep 1000 & wait"]
[services.b]
command = ["sleep", "1000"]
depends_on = ["a"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("b") == "running"; }));
        const auto daemon = f.daemon_pid();
        REQUIRE(daemon);
        ::kill(*daemon, SIGTERM);
        CHECK(wait_until([&] { return !process_alive(*daemon); }));
        CHECK(processes_with_token(f.token()).empty());
        const std::string log = read_file(f.log_path());
        CHECK(log.find("exit status 0") != std::string::npos);
        // b depends on a, so b stops first.
        CHECK(log.find("service 'b' stopped") < log.find("service 'a' stopped"));
    }

    TEST_CASE("an orphaned grandchild is reaped, not left a zombie" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.parent]
command = ["sh", "-c", "(sleep 0.3 &); exec sleep 1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("parent") == "running"; }));
        const auto daemon = f.daemon_pid();
        REQUIRE(daemon);
        // The subshell exits at once, so the short sleep is re-parented to the daemon.
        // Zombies do not count as processes here: 2 means the short sleep has ended.
        REQUIRE(wait_until([&] { return processes_with_token(f.token()).size() == 2; }, 5s));
        CHECK(wait_until([&] { return zombie_children(*daemon).empty(); }, 2s));
        CHECK(f.state_of("parent") == "running");
    }
}

TEST_SUITE("daemon")
{
    TEST_CASE("a service PID file naming someone else's process is replaced, never signalled" *
              doctest::timeout(60))
    {
        Fixture f;
        // An unrelated program whose PID sits in a stale PID file.
        const pid_t stranger = f.start_background({"sleep", "1000"});
        write_file(f.path("app.pid"), std::to_string(stranger) + "\n");
        f.write_config(R"(
[services.app]
command = ["sleep", "1001"]
pidfile = "@DIR@/app.pid"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        CHECK(read_pid(f.path("app.pid")) == f.pid_of("app"));
        CHECK(read_file(f.log_path()).find("was not started by this daemon") !=
              std::string::npos);
        CHECK(f.cli({"stop", "app"}).exit_code == 0);
        CHECK(process_alive(stranger));
    }

    TEST_CASE("under journald a service without a stdout key writes to the daemon's stdout" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.chatty]
command = ["sh", "-c", "echo hello from chatty; exec sleep 1000"]
[services.filed]
command = ["sh", "-c", "echo to the file; exec sleep 1000"]
stdout = "@DIR@/filed.log"
)");
        f.start_foreground_daemon({}, {"JOURNAL_STREAM=8:1234"});
        CHECK(wait_until([&] {
            return read_file(f.path("daemon.out")).find("chatty | hello from chatty") !=
                   std::string::npos;
        }));
        CHECK(wait_until([&] { return read_file(f.path("filed.log")) == "to the file\n"; }));
        CHECK(read_file(f.path("daemon.out")).find("to the file") == std::string::npos);
    }
}

TEST_SUITE("daemon")
{
    TEST_CASE("a service in a tight crash loop does not flood the daemon's log" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.flapper]
command = ["false"]
restart = "always"
start_seconds = 0
backoff = "1ms"
backoff_max = "1ms"
start_retries = "unlimited"
)");
        f.start_daemon();
        // Past one throttle window, so the summary of what was left out has been written.
        REQUIRE(wait_until([&] {
            return read_file(f.log_path()).find("lifecycle log lines left out") !=
                   std::string::npos;
        }, 30s));
        const auto s = f.status_of("flapper");
        const std::string log = read_file(f.log_path());
        std::size_t lines = 0;
        for (std::size_t at = log.find("service 'flapper'"); at != std::string::npos;
             at = log.find("service 'flapper'", at + 1)) {
            ++lines;
        }
        CHECK(s.at("failed_starts").as_int64() > 200);
        CHECK(lines < 40);
    }
}
