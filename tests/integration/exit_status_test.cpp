// End-to-end: the exit status of a foreground `procsup daemon` and of `procsup run`
// (DESIGN §6), as containers and scripts see it.
#include <signal.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;

TEST_SUITE("exit status")
{
    TEST_CASE("a shutdown that had to SIGKILL a service exits 137" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.stubborn]
command = ["sh", "-c", "trap '' TERM INT; sleep 1000 & wait"]
stop_timeout = "500ms"
)");
        const pid_t daemon = f.start_foreground_daemon();
        REQUIRE(wait_until([&] { return f.state_of("stubborn") == "running"; }));
        ::kill(daemon, SIGTERM);
        CHECK(f.wait_exit_of(daemon) == 137);
        CHECK(processes_with_token(f.token()).empty());
    }

    TEST_CASE("a clean shutdown exits 0" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.polite]
command = ["sleep", "1000"]
)");
        const pid_t daemon = f.start_foreground_daemon();
        REQUIRE(wait_until([&] { return f.state_of("polite") == "running"; }));
        ::kill(daemon, SIGINT);
        CHECK(f.wait_exit_of(daemon) == 0);
    }

    TEST_CASE("an essential service that ends for good ends the daemon with its status" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.other]
command = ["sleep", "1000"]
[services.job]
command = ["sh", "-c", "sleep 0.2; exit 7"]
restart = "never"
essential = true
)");
        const pid_t daemon = f.start_foreground_daemon();
        CHECK(f.wait_exit_of(daemon) == 7);
        CHECK(processes_with_token(f.token()).empty());
    }

    TEST_CASE("procsup run exits with its command's status" * doctest::timeout(60))
    {
        Fixture f;
        const std::string procsup = procsup_binary().string();
        const pid_t seven = f.start_background({procsup, "run", "--", "sh", "-c", "exit 7"});
        CHECK(f.wait_exit_of(seven) == 7);

        const pid_t killed =
            f.start_background({procsup, "run", "--", "sh", "-c", "kill -TERM $$; sleep 5"});
        CHECK(f.wait_exit_of(killed) == 143);
    }

    TEST_CASE("procsup run passes SIGTERM on and returns the command's answer" *
              doctest::timeout(60))
    {
        Fixture f;
        const std::string marker = f.path("started").string();
        const pid_t run = f.start_background(
            {procsup_binary().string(), "run", "--", "sh", "-c",
             "trap 'exit 0' TERM; touch " + marker + "; while :; do sleep 0.05; done"});
        REQUIRE(wait_until([&] { return std::filesystem::exists(marker); }));
        ::kill(run, SIGTERM);
        CHECK(f.wait_exit_of(run) == 0);
    }

    TEST_CASE("update to procsup run is a rejected request: exit 2" * doctest::timeout(60))
    {
        Fixture f;
        const std::string procsup = procsup_binary().string();
        const std::string socket = f.path("run.sock").string();
        const pid_t run = f.start_background({procsup, "run", "--socket", socket, "--", "sleep",
                                              "1000"});
        REQUIRE(wait_until(
            [&] { return run_command({procsup, "-s", socket, "status"}).exit_code == 0; }));
        const auto update = run_command({procsup, "-s", socket, "update"});
        CHECK(update.exit_code == 2);
        CHECK(update.err.find("no config file to re-read") != std::string::npos);
        ::kill(run, SIGTERM);
        CHECK(f.wait_exit_of(run) == 143);
    }

    // It used to stay up with nothing to supervise until `shutdown`.
    TEST_CASE("procsup run ends when its command is stopped through the socket" *
              doctest::timeout(60))
    {
        Fixture f;
        const std::string procsup = procsup_binary().string();
        const std::string socket = f.path("run.sock").string();
        const pid_t run = f.start_background({procsup, "run", "--socket", socket, "--", "sleep",
                                              "1000"});
        REQUIRE(wait_until(
            [&] { return run_command({procsup, "-s", socket, "status"}).exit_code == 0; }));
        CHECK(run_command({procsup, "-s", socket, "stop", "sleep"}).exit_code == 0);
        CHECK(f.wait_exit_of(run, 10s) == 143);  // sleep's own end: killed by SIGTERM
        CHECK(processes_with_token(f.token()).empty());
    }

    TEST_CASE("procsup run passes its own output through and rejects bad options" *
              doctest::timeout(30))
    {
        const auto out = run_command({procsup_binary().string(), "run", "--", "echo", "hello"});
        CHECK(out.exit_code == 0);
        CHECK(out.out == "hello\n");
        const auto bad = run_command(
            {procsup_binary().string(), "run", "--stop-timeout", "soon", "--", "true"});
        CHECK(bad.exit_code == 2);
        CHECK(bad.err.find("--stop-timeout") != std::string::npos);
        const auto missing = run_command({procsup_binary().string(), "run", "--",
                                          "/nonexistent/procsup-command"});
        CHECK(missing.exit_code == 127);
        CHECK(missing.err.find("/nonexistent/procsup-command") != std::string::npos);
    }
}

TEST_SUITE("exit status")
{
    TEST_CASE("a second SIGINT during shutdown kills what is still stopping" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.slow]
command = ["sh", "-c", "trap '' TERM INT; sleep 1000 & wait"]
stop_timeout = "60s"
)");
        const pid_t daemon = f.start_foreground_daemon();
        REQUIRE(wait_until([&] { return f.state_of("slow") == "running"; }));
        ::kill(daemon, SIGINT);
        REQUIRE(wait_until([&] { return f.state_of("slow") == "stopping"; }));
        ::kill(daemon, SIGINT);
        CHECK(f.wait_exit_of(daemon, 10s) == 137);
        CHECK(processes_with_token(f.token()).empty());
        const std::string log = read_file(f.log_path());
        CHECK(log.find("sending SIGKILL to its process group (a second stop signal") !=
              std::string::npos);
        CHECK(log.find("did not stop within") == std::string::npos);
    }
}
