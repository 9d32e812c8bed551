// End-to-end: health checks and dependencies with real servers on 127.0.0.1 (DESIGN §3, §4).
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "harness.hpp"

using namespace procsup::test;

namespace {

std::string server_command(int port, const std::string& mode, const std::string& delay = "0")
{
    return "[\"python3\", \"" + std::string(PROCSUP_SOURCE_DIR) +
           "/tests/fixtures/http_server.py\", \"" + std::to_string(port) + "\", \"" + mode +
           "\", \"" + delay + "\"]";
}

std::string health_of(Fixture& f, const std::string& service)
{
    const auto s = f.status_of(service);
    return s.is_object() ? std::string(s.at("health").as_string()) : std::string();
}

// The PIDs a check wrote to `file`, one per line, oldest first.
std::vector<pid_t> pids_in(const std::filesystem::path& file)
{
    std::vector<pid_t> pids;
    std::istringstream in(read_file(file));
    for (pid_t pid; in >> pid;) {
        pids.push_back(pid);
    }
    return pids;
}

}  // namespace

TEST_SUITE("health")
{
    TEST_CASE("http checks tell a working server from a failing one" * doctest::timeout(60))
    {
        Fixture f;
        const int good = free_port();
        const int bad = free_port();
        f.write_config("[services.good]\ncommand = " + server_command(good, "ok") +
                       "\n[services.good.health]\nhttp = \"http://127.0.0.1:" +
                       std::to_string(good) + "/health\"\ninterval = \"200ms\"\n\n" +
                       "[services.bad]\ncommand = " + server_command(bad, "error") +
                       "\n[services.bad.health]\nhttp = \"http://127.0.0.1:" +
                       std::to_string(bad) + "/\"\ninterval = \"200ms\"\nretries = 2\n" +
                       "on_unhealthy = \"ignore\"\n");
        f.start_daemon();
        CHECK(wait_until([&] { return health_of(f, "good") == "healthy"; }));
        CHECK(wait_until([&] { return health_of(f, "bad") == "unhealthy"; }));
        const auto bad_status = f.status_of("bad");
        CHECK(bad_status.at("health_failures").as_int64() >= 2);
        CHECK(std::string(bad_status.at("health_output").as_string()).find("500") !=
              std::string::npos);
        CHECK(f.cli({"health", "good"}).exit_code == 0);
        CHECK(f.cli({"health", "bad"}).exit_code == 1);
        CHECK(f.cli({"health", "good", "bad"}).exit_code == 1);
        CHECK(f.cli({"health", "nope"}).exit_code == 4);
        // on_unhealthy = "ignore": the process was left alone.
        CHECK(f.status_of("bad").at("restarts").as_int64() == 0);
    }

    TEST_CASE("a check that hangs times out while the daemon keeps answering" *
              doctest::timeout(60))
    {
        Fixture f;
        const int port = free_port();
        f.write_config("[services.hang]\ncommand = " + server_command(port, "hang") +
                       "\n[services.hang.health]\nhttp = \"http://127.0.0.1:" +
                       std::to_string(port) + "/\"\ninterval = \"100ms\"\ntimeout = \"4s\"\n" +
                       "retries = 1\non_unhealthy = \"ignore\"\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("hang") == "running"; }));
        // A check is in flight for 4 s; a blocked loop would make each call wait for it.
        for (int i = 0; i < 5; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            CHECK(f.cli({"status"}).exit_code == 0);
            CHECK(std::chrono::steady_clock::now() - t0 < 1s);
        }
        CHECK(wait_until([&] { return health_of(f, "hang") == "unhealthy"; }, 15s));
        CHECK(std::string(f.status_of("hang").at("health_output").as_string())
                  .find("timed out") != std::string::npos);
    }

    TEST_CASE("a tcp check of a closed port fails fast and restarts the service" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.lonely]\ncommand = [\"sleep\", \"1000\"]\n"
                       "[services.lonely.health]\ntcp = \"127.0.0.1:" +
                       std::to_string(free_port()) +
                       "\"\ninterval = \"100ms\"\nretries = 2\ntimeout = \"5s\"\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("lonely") == "running"; }));
        const auto first = f.pid_of("lonely");
        // Refused connections fail at once, far below the 5 s timeout.
        CHECK(wait_until(
            [&] { return f.status_of("lonely").at("restarts").as_int64() >= 1 &&
                         f.pid_of("lonely") != first && f.pid_of("lonely").has_value(); },
            5s));
        CHECK(std::string(f.status_of("lonely").at("message").as_string()).find("unhealthy") !=
              std::string::npos);
    }

    TEST_CASE("an exec check that hangs is killed at its timeout and the next one runs" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
[services.app.health]
command = ["sh", "-c", "echo $$ >> @DIR@/checks; exec sleep 100"]
interval = "100ms"
timeout = "300ms"
retries = 100
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return pids_in(f.path("checks")).size() >= 3; }));
        CHECK_FALSE(process_alive(pids_in(f.path("checks")).front()));
        CHECK(f.state_of("app") == "running");
        CHECK(f.cli({"stop", "app"}).exit_code == 0);
        CHECK(wait_until([&] { return processes_with_token(f.token()).size() == 1; }));
    }

    // `sh -c 'x &'` as a check used to leave one process behind per interval, for good.
    TEST_CASE("what an exec check leaves running in its group is ended with it" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
[services.app.health]
command = ["sh", "-c", "sleep 1000 & echo $! >> @DIR@/left; exit 0"]
interval = "200ms"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return pids_in(f.path("left")).size() >= 4; }));
        CHECK(wait_until([&] {
            const auto pids = pids_in(f.path("left"));
            return std::none_of(pids.begin(), pids.end() - 1, process_alive);
        }));
        CHECK(health_of(f, "app") == "healthy");
    }

    TEST_CASE("a dependent starts only after its dependency's first passing check" *
              doctest::timeout(60))
    {
        Fixture f;
        const int port = free_port();
        f.write_config("[services.web]\ncommand = " + server_command(port, "ok", "1.5") +
                       "\n[services.web.health]\nhttp = \"http://127.0.0.1:" +
                       std::to_string(port) + "/\"\ninterval = \"100ms\"\n"
                       "start_period = \"10s\"\n\n"
                       "[services.api]\ncommand = [\"sh\", \"-c\", \"python3 -c "
                       "'import urllib.request; urllib.request.urlopen(\\\"http://127.0.0.1:" +
                       std::to_string(port) +
                       "/\\\")' && echo reached > @DIR@/api.first; exec sleep 1000\"]\n"
                       "depends_on = { web = \"healthy\" }\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("web") == "running"; }));
        const auto waiting = f.status_of("api");
        CHECK(waiting.at("state").as_string() == "starting");
        CHECK(std::string(waiting.at("message").as_string()) ==
              "waiting for web to be healthy");
        CHECK(wait_until([&] { return f.state_of("api") == "running"; }, 20s));
        CHECK(wait_until([&] { return read_file(f.path("api.first")) == "reached\n"; }));
    }

    TEST_CASE("a dependent whose dependency is fatal says why it does not start" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.db]
command = ["/nonexistent/db-server"]
restart = "never"
[services.api]
command = ["sleep", "1000"]
depends_on = ["db"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("db") == "fatal"; }));
        CHECK(wait_until([&] {
            const auto s = f.status_of("api");
            return std::string(s.at("message").as_string()).find("dependency 'db' is fatal") !=
                   std::string::npos;
        }));
        CHECK(f.state_of("api") == "stopped");
        const auto start = f.cli({"start", "api"});
        CHECK(start.exit_code == 1);
        CHECK(start.out.find("db") != std::string::npos);
    }
}

TEST_SUITE("health")
{
    TEST_CASE("a one-shot job that ended well counts as healthy" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.migrate]
command = ["true"]
restart = "never"
[services.web]
command = ["sleep", "1000"]
depends_on = { migrate = "completed" }
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("web") == "running"; }));
        const auto r = f.cli({"health"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("migrate: completed (exit 0)") != std::string::npos);
        CHECK(r.out.find("web: running (no health check)") != std::string::npos);
    }
}
