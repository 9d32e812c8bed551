// End-to-end: the README's main job. The Flask demo from conf/examples runs under gunicorn,
// supervised, health-checked and logged, from a copy of its folder on a free port.
#include <unistd.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;
namespace fs = std::filesystem;

TEST_SUITE("demo")
{
    TEST_CASE("the Flask demo runs healthy and stops without leaving gunicorn behind" *
              doctest::timeout(120))
    {
        if (::access("/usr/bin/gunicorn", X_OK) != 0) {
            MESSAGE("gunicorn is not installed (scripts/install-deps installs it); skipping");
            return;
        }
        Fixture f;
        const fs::path demo = f.path("flask-app");
        fs::create_directories(demo / "run");
        for (const char* file : {"app.py", "procsup.toml"}) {
            fs::copy_file(fs::path(PROCSUP_SOURCE_DIR) / "conf/examples/flask-app" / file,
                          demo / file);
        }
        const std::string port = std::to_string(free_port());
        const std::string config = (demo / "procsup.toml").string();
        const std::string procsup = procsup_binary().string();
        const pid_t daemon = spawn_background(
            {procsup, "daemon", "-c", config}, f.path("demo.out"), f.path("demo.err"),
            {"FLASK_PORT=" + port, "PROCSUP_TEST_TOKEN=" + f.token()});
        auto cli = [&](std::vector<std::string> args) {
            args.insert(args.begin(), {procsup, "-c", config});
            return run_command(args);
        };

        const bool healthy = wait_until(
            [&] { return cli({"health", "flask-app"}).exit_code == 0; }, 60s);
        INFO("daemon log: ", read_file(f.path("demo.err")));
        REQUIRE(healthy);
        const auto status = cli({"status", "flask-app"});
        CHECK(status.exit_code == 0);
        CHECK(status.out.find("running") != std::string::npos);
        CHECK(status.out.find("healthy") != std::string::npos);

        const auto get = run_command(
            {"python3", "-c",
             "import urllib.request,sys; r=urllib.request.urlopen(sys.argv[1], timeout=5); "
             "print(r.status, r.read().decode())",
             "http://127.0.0.1:" + port + "/health"});
        CHECK(get.out.find("200") == 0);
        CHECK(get.out.find("\"ok\"") != std::string::npos);
        CHECK(fs::exists(demo / "logs/flask-app.log"));
        CHECK(read_pid(demo / "run/flask-app.pid").has_value());

        // A graceful reload: the master stays and replaces its workers. (That the signal
        // reaches the master alone is checked in control_test with workers of our own:
        // gunicorn 20.1 itself lets a worker die of SIGHUP now and then, even when the
        // master alone is signalled by hand.)
        const fs::path log = demo / "logs/flask-app.log";
        const auto count = [&](const std::string& needle) {
            const std::string text = read_file(log);
            std::size_t n = 0;
            for (auto pos = text.find(needle); pos != std::string::npos;
                 pos = text.find(needle, pos + 1)) {
                ++n;
            }
            return n;
        };
        const std::size_t booted = count("Booting worker");
        const auto master = read_pid(demo / "run/flask-app.pid");
        CHECK(cli({"reload", "flask-app"}).exit_code == 0);
        CHECK(wait_until([&] { return count("Booting worker") >= booted + 2; }, 30s));
        CHECK(read_pid(demo / "run/flask-app.pid") == master);
        CHECK(cli({"status", "flask-app"}).out.find("running") != std::string::npos);
        CHECK(wait_until([&] { return cli({"health", "flask-app"}).exit_code == 0; }, 30s));

        CHECK(cli({"stop", "flask-app"}).exit_code == 0);
        // The daemon (and no gunicorn master or worker) is all that carries the token.
        CHECK(processes_with_token(f.token()) == std::vector<pid_t>{daemon});
        CHECK(cli({"health", "flask-app"}).exit_code == 3);
        CHECK(cli({"shutdown"}).exit_code == 0);
        CHECK(wait_exit(daemon, 10s) == 0);
    }
}
