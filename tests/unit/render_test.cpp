#include <doctest/doctest.h>

#include "procsup/protocol.hpp"
#include "procsup/render.hpp"

using namespace procsup;
namespace json = boost::json;

TEST_SUITE("render")
{
    TEST_CASE("the status table aligns columns and shows uptime and last exit for people")
    {
        ServiceStatus web;
        web.name = "web";
        web.state = ServiceState::running;
        web.pid = 4242;
        web.uptime = std::chrono::hours(3) + std::chrono::minutes(12);
        web.health = HealthState::healthy;
        ServiceStatus worker;
        worker.name = "background-worker";
        worker.state = ServiceState::fatal;
        worker.restarts = 5;
        worker.last_exit = ExitStatus{std::nullopt, 9};
        worker.message = "exited with status 1";
        const json::array services{protocol::to_json(web), protocol::to_json(worker)};

        const std::string table = render_status_table(services, RenderOptions{false});
        CHECK(table ==
              "NAME               STATE    PID   UPTIME  HEALTH   RESTARTS  LAST EXIT          "
              "INFO\n"
              "web                running  4242  3h12m   healthy  0         -\n"
              "background-worker  fatal    -     -       none     5         killed by SIGKILL  "
              "exited with status 1\n");
    }

    TEST_CASE("INFO shows a notify service's STATUS= after the message, or alone")
    {
        ServiceStatus ready;
        ready.name = "api";
        ready.state = ServiceState::running;
        ready.notify_status = "Serving 3 clients";
        ServiceStatus restarting = ready;
        restarting.name = "db";
        restarting.message = "restarting: no WATCHDOG=1 for 10s";
        const json::array services{protocol::to_json(ready), protocol::to_json(restarting)};

        const std::string table = render_status_table(services, RenderOptions{false});
        CHECK(table.find("api   running  -    -       none    0         -          "
                         "Serving 3 clients\n") != std::string::npos);
        CHECK(table.find("restarting: no WATCHDOG=1 for 10s; Serving 3 clients\n") !=
              std::string::npos);
    }

    TEST_CASE("colour marks the state only when asked for")
    {
        ServiceStatus s;
        s.name = "a";
        s.state = ServiceState::running;
        const json::array services{protocol::to_json(s)};
        CHECK(render_status_table(services, RenderOptions{true}).find("\033[32mrunning\033[0m") !=
              std::string::npos);
        CHECK(render_status_table(services, RenderOptions{false}).find('\033') ==
              std::string::npos);
    }

    TEST_CASE("last exit reads as exit N or killed by a signal name")
    {
        CHECK(render_last_exit(json::value(nullptr)) == "-");
        CHECK(render_last_exit(json::parse(R"({"code":3,"signal":null})")) == "exit 3");
        CHECK(render_last_exit(json::parse(R"({"code":null,"signal":"SIGTERM"})")) ==
              "killed by SIGTERM");
    }

    TEST_CASE("action results name the service, the outcome, the PID and the last output")
    {
        const json::array results = json::parse(R"([
            {"name":"web","ok":true,"message":"running","status":{"pid":7},"output_tail":[]},
            {"name":"db","ok":false,"message":"exited with status 2 after 0.1s",
             "status":{"pid":null},"output_tail":["port missing"]}])")
                                        .as_array();
        CHECK(render_action_results(results) ==
              "web: running (pid 7)\n"
              "db: exited with status 2 after 0.1s\n"
              "  last output:\n"
              "  | port missing\n");
    }

    TEST_CASE("status JSON has the documented fields with stable types")
    {
        ServiceStatus s;
        s.name = "web";
        s.uptime = std::chrono::milliseconds(1999);
        s.pid = 1;
        s.last_exit = ExitStatus{0, std::nullopt};
        const json::object o = protocol::to_json(s);
        CHECK(o.at("uptime_s").as_int64() == 1);
        CHECK(o.at("state").as_string() == "stopped");
        CHECK(o.at("last_exit").at("code").as_int64() == 0);
        CHECK(o.at("last_exit").at("signal").is_null());
        CHECK(protocol::format_rfc3339(std::chrono::system_clock::time_point(
                  std::chrono::milliseconds(1700000000123))) == "2023-11-14T22:13:20.123Z");
    }
}
