#include <doctest/doctest.h>

#include "procsup/run_command.hpp"

using namespace procsup;

TEST_SUITE("run_command")
{
    TEST_CASE("procsup run builds one essential service that passes its output through")
    {
        RunOptions o;
        o.command = {"/usr/bin/python3", "app.py"};
        o.env = {"A=1", "B=x=y"};
        const auto result = make_run_config(o);
        REQUIRE(std::holds_alternative<Config>(result));
        const Config& config = std::get<Config>(result);
        REQUIRE(config.services.size() == 1);
        const ServiceConfig& s = config.services.front();
        CHECK(s.name == "python3");
        CHECK(s.essential);
        CHECK(s.restart == RestartPolicy::never);
        CHECK(s.stdout_target.kind == OutputTarget::Kind::passthrough);
        CHECK(s.environment == std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}});
        CHECK(config.supervisor.socket.empty());
        CHECK_FALSE(s.health.has_value());
    }

    TEST_CASE("procsup run options are checked and named when wrong")
    {
        auto error_of = [](RunOptions o) {
            o.command = {"true"};
            const auto r = make_run_config(o);
            return std::holds_alternative<std::string>(r) ? std::get<std::string>(r)
                                                          : std::string();
        };
        RunOptions o;
        o.stop_timeout = "soon";
        CHECK(error_of(o).find("--stop-timeout") == 0);
        o = {};
        o.restart = "sometimes";
        CHECK(error_of(o).find("--restart") == 0);
        o = {};
        o.health_tcp = "nohost";
        CHECK(error_of(o).find("--health-tcp") == 0);
        o = {};
        o.health_cmd = "true";
        o.health_http = "http://x/";
        CHECK(error_of(o).find("exclude each other") != std::string::npos);
        o = {};
        o.env = {"=1"};
        CHECK(error_of(o).find("--env") == 0);
        CHECK(std::get<std::string>(make_run_config(RunOptions{})).find("after '--'") !=
              std::string::npos);
    }

    TEST_CASE("procsup run --log writes both streams to one rotated file")
    {
        RunOptions o;
        o.command = {"app"};
        o.log = "/var/log/app.log";
        o.log_max_size = "1MB";
        o.health_tcp = "127.0.0.1:80";
        const Config config = std::get<Config>(make_run_config(o));
        const ServiceConfig& s = config.services.front();
        CHECK(s.stdout_target.kind == OutputTarget::Kind::file);
        CHECK(s.stdout_target.path == "/var/log/app.log");
        CHECK(s.stderr_target.kind == OutputTarget::Kind::merge_into_stdout);
        CHECK(s.log_max_size == 1'000'000);
        REQUIRE(s.health.has_value());
        CHECK(s.health->tcp_port == 80);
    }
}
