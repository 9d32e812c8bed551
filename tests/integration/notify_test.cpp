// End-to-end: services of type = "notify" that report READY=1, STATUS= and WATCHDOG=1 to
// procsup's notify socket (DESIGN §9, issue 8).
#include <signal.h>

#include "harness.hpp"
#include <doctest/doctest.h>

using namespace procsup::test;

namespace {

std::string notify_service(const std::string& args)
{
    std::string command = "[\"python3\", \"" + std::string(PROCSUP_SOURCE_DIR) +
                          "/tests/fixtures/notify_service.py\"";
    std::size_t start = 0;
    while (start < args.size()) {
        const std::size_t end = args.find(' ', start);
        command += ", \"" + args.substr(start, end - start) + "\"";
        start = end == std::string::npos ? args.size() : end + 1;
    }
    return command + "]";
}

std::string text_of(const boost::json::value& service, const char* key)
{
    return service.is_object() ? std::string(service.at(key).as_string()) : std::string();
}

std::int64_t restarts_of(Fixture& f, const std::string& name)
{
    const auto s = f.status_of(name);
    return s.is_object() ? s.at("restarts").as_int64() : -1;
}

std::filesystem::path notify_socket_of(Fixture& f)
{
    std::filesystem::path path = f.socket_path();
    path += ".notify";
    return path;
}

}  // namespace

TEST_SUITE("notify")
{
    TEST_CASE("a service is starting until READY=1, and start returns once it came" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(
            "[services.slow]\ncommand = " + notify_service("--ready-after 1.5 --status Serving") +
            "\ntype = \"notify\"\nautostart = false\n");
        f.start_daemon();
        const auto t0 = std::chrono::steady_clock::now();
        const pid_t start = f.start_background(
            {procsup_binary().string(), "-s", f.socket_path().string(), "start", "slow"});
        REQUIRE(wait_until([&] { return f.pid_of("slow").has_value(); }));
        CHECK(f.state_of("slow") == "starting");
        CHECK(text_of(f.status_of("slow"), "notify_status").empty());

        CHECK(f.wait_exit_of(start) == 0);
        CHECK(std::chrono::steady_clock::now() - t0 >= 1400ms);
        CHECK(f.state_of("slow") == "running");
        CHECK(text_of(f.status_of("slow"), "notify_status") == "Serving");
        CHECK(f.cli({"status"}).out.find("Serving") != std::string::npos);
        CHECK(read_file(f.log_path()).find("service 'slow' is ready (READY=1 after") !=
              std::string::npos);
    }

    TEST_CASE("READY=1 from a process in the service's group counts" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.forks]\ncommand = " +
                       notify_service("--ready-from-child --status {NOTIFY_SOCKET}") +
                       "\ntype = \"notify\"\nstart_timeout = \"20s\"\n");
        f.start_daemon();
        CHECK(wait_until([&] { return f.state_of("forks") == "running"; }));
        // The service found procsup's socket, not the daemon's own NOTIFY_SOCKET.
        CHECK(text_of(f.status_of("forks"), "notify_status") == notify_socket_of(f).string());
    }

    TEST_CASE("a service that never sends READY=1 fails at start_timeout" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.mute]\ncommand = " + notify_service("--never-ready") +
                       "\ntype = \"notify\"\nstart_timeout = \"1s\"\nrestart = \"never\"\n"
                       "autostart = false\n");
        f.start_daemon();
        const auto t0 = std::chrono::steady_clock::now();
        const CommandResult r = f.cli({"start", "mute"});
        CHECK(r.exit_code == 1);
        CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
        INFO("out: ", r.out, " err: ", r.err);
        CHECK((r.out + r.err).find("mute: did not send READY=1 within 1s") != std::string::npos);
        const auto s = f.status_of("mute");
        CHECK(text_of(s, "state") == "fatal");
        CHECK(text_of(s, "message") == "did not send READY=1 within 1s");
        CHECK(s.at("pid").is_null());
        CHECK(read_file(f.log_path())
                  .find("service 'mute' is fatal: did not send READY=1 "
                        "within 1s") != std::string::npos);
    }

    TEST_CASE("a start that times out backs off and retries like a crash" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.mute]\ncommand = " + notify_service("--never-ready") +
                       "\ntype = \"notify\"\nstart_timeout = \"500ms\"\nbackoff = \"200ms\"\n"
                       "start_retries = 1\n");
        f.start_daemon();
        CHECK(wait_until([&] { return f.state_of("mute") == "fatal"; }, 15s));
        CHECK(restarts_of(f, "mute") == 1);
        CHECK(read_file(f.log_path())
                  .find("did not send READY=1 within 500ms; retrying in "
                        "200ms (attempt 2 of 2)") != std::string::npos);
    }

    TEST_CASE("a service that stops sending WATCHDOG=1 is restarted" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.dog]\ncommand = " +
                       notify_service("--pings 4 --status usec={WATCHDOG_USEC}") +
                       "\ntype = \"notify\"\nwatchdog = \"600ms\"\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("dog") == "running"; }));
        CHECK(text_of(f.status_of("dog"), "notify_status") == "usec=600000");
        const auto first = f.pid_of("dog");
        // Four pings every 300 ms keep it alive for 1.2 s; then 600 ms of silence.
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(wait_until([&] { return restarts_of(f, "dog") >= 1; }, 15s));
        CHECK(std::chrono::steady_clock::now() - t0 >= 1200ms);
        CHECK(wait_until([&] { return f.state_of("dog") == "running"; }));
        CHECK(f.pid_of("dog") != first);
        CHECK(read_file(f.log_path())
                  .find("service 'dog' stopped sending WATCHDOG=1 for "
                        "600ms; restarting it") != std::string::npos);
        CHECK(text_of(f.status_of("dog"), "message").find("no WATCHDOG=1 for 600ms") !=
              std::string::npos);
    }

    TEST_CASE("a message from a foreign process is ignored" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(
            "[services.waits]\ncommand = " + notify_service("--never-ready --status waiting") +
            "\ntype = \"notify\"\nstart_timeout = \"60s\"\n");
        f.start_daemon();
        // Its own STATUS= also shows that its SIGUSR1 handler is in place.
        REQUIRE(wait_until(
            [&] { return text_of(f.status_of("waits"), "notify_status") == "waiting"; }));
        const CommandResult foreign =
            run_command({"python3", "-c",
                         "import socket,sys\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                         "s.sendto(b'READY=1\\nSTATUS=forged', sys.argv[1])",
                         notify_socket_of(f).string()});
        REQUIRE(foreign.exit_code == 0);
        // Datagrams are read in order: once the service's own message after the forged one
        // shows, the forged one has been read and dropped.
        ::kill(*f.pid_of("waits"), SIGUSR1);
        REQUIRE(wait_until(
            [&] { return text_of(f.status_of("waits"), "notify_status") == "got SIGUSR1"; }));
        CHECK(f.state_of("waits") == "starting");
        CHECK(read_file(f.log_path()).find("ignoring a notify message from pid") !=
              std::string::npos);
    }

    TEST_CASE("the notify socket exists only while a notify service is configured" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.plain]\ncommand = [\"sleep\", \"1000\"]\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("plain") == "running"; }));
        CHECK_FALSE(std::filesystem::exists(notify_socket_of(f)));

        f.write_config(
            "[services.plain]\ncommand = [\"sleep\", \"1000\"]\n"
            "[services.added]\ncommand = " +
            notify_service("") + "\ntype = \"notify\"\n");
        CHECK(f.cli({"update"}).exit_code == 0);
        CHECK(wait_until([&] { return f.state_of("added") == "running"; }));
        CHECK(std::filesystem::exists(notify_socket_of(f)));

        const auto daemon = f.daemon_pid();
        REQUIRE(daemon);
        CHECK(f.cli({"shutdown"}).exit_code == 0);
        CHECK(wait_until([&] { return !process_alive(*daemon); }));
        CHECK_FALSE(std::filesystem::exists(notify_socket_of(f)));
    }
}
