// End-to-end: bad input is a clear error for the one service it concerns, and the CLI's
// exit codes follow DESIGN §2.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;

namespace {

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("bad input")
{
    TEST_CASE("a broken service fails alone with a clear reason" * doctest::timeout(60))
    {
        Fixture f;
        // A regular file where the PID file's folder should be: nothing can create it.
        write_file(f.path("a-file"), "");
        f.write_config(R"(
[services.good]
command = ["sleep", "1000"]

[services.nobinary]
command = ["/nonexistent/bin/app"]
restart = "never"

[services.notinpath]
command = ["no-such-program-procsup"]
restart = "never"

[services.nouser]
command = ["sleep", "1000"]
user = "no-such-user-procsup"
restart = "never"

[services.nodir]
command = ["sleep", "1000"]
directory = "@DIR@/no-such-dir"
restart = "never"

[services.badpidfile]
command = ["sleep", "1000"]
pidfile = "@DIR@/a-file/app.pid"
restart = "never"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("good") == "running"; }));
        struct Expect {
            std::string service;
            std::string reason;
        };
        for (const Expect& e : {Expect{"nobinary", "/nonexistent/bin/app"},
                                Expect{"notinpath", "not found"},
                                Expect{"nouser", "no-such-user-procsup"},
                                Expect{"nodir", "no-such-dir"},
                                Expect{"badpidfile", "a-file/app.pid"}}) {
            CAPTURE(e.service);
            REQUIRE(wait_until([&] { return f.state_of(e.service) == "fatal"; }));
            const std::string message(f.status_of(e.service).at("message").as_string());
            CHECK(contains(message, e.reason));
            const auto start = f.cli({"start", e.service});
            CHECK(start.exit_code == 1);
            CHECK(contains(start.out, e.reason));
        }
        CHECK(f.state_of("good") == "running");
    }

    TEST_CASE("the CLI exit codes follow the contract" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.up]
command = ["sleep", "1000"]
[services.down]
command = ["sleep", "1000"]
autostart = false
)");
        // 5: no daemon answers.
        CHECK(f.cli({"status"}).exit_code == 5);
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("up") == "running"; }));
        CHECK(f.cli({"status"}).exit_code == 0);
        CHECK(f.cli({"status", "up"}).exit_code == 0);
        // 3: a named service is not running.
        CHECK(f.cli({"status", "down"}).exit_code == 3);
        // 4: unknown service, for queries and actions.
        const auto unknown = f.cli({"status", "nope"});
        CHECK(unknown.exit_code == 4);
        CHECK(contains(unknown.err, "nope"));
        CHECK(f.cli({"start", "nope"}).exit_code == 4);
        // 2: usage errors.
        CHECK(f.cli({"start"}).exit_code == 2);
        CHECK(f.cli({"frobnicate"}).exit_code == 2);
        CHECK(run_command({procsup_binary().string(), "signal", "NOPE", "up", "-s",
                           f.socket_path().string()})
                  .exit_code == 2);
        // 0: actions that worked.
        CHECK(f.cli({"start", "down"}).exit_code == 0);
        CHECK(f.cli({"status", "down", "up"}).exit_code == 0);
    }

    TEST_CASE("check-config reports every error with file, line and column" *
              doctest::timeout(30))
    {
        Fixture f;
        write_file(f.path("bad.toml"), "[services.a]\ncommand = 5\nrestart = \"sometimes\"\n");
        const auto r = run_command(
            {procsup_binary().string(), "-c", f.path("bad.toml").string(), "check-config"});
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "bad.toml:2:"));
        CHECK(contains(r.err, "bad.toml:3:"));

        write_file(f.path("good.toml"), "[services.a]\ncommand = [\"true\"]\n");
        const auto ok = run_command(
            {procsup_binary().string(), "-c", f.path("good.toml").string(), "check-config"});
        CHECK(ok.exit_code == 0);

        // A bad config never starts a daemon.
        const auto d = run_command({procsup_binary().string(), "daemon", "-c",
                                    f.path("bad.toml").string(), "--detach"});
        CHECK(d.exit_code == 2);
    }
}

TEST_SUITE("bad input")
{
    TEST_CASE("a service without directory runs in the config file's folder, even detached" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.here]
command = ["sh", "-c", "pwd > here.txt; exec sleep 1000"]
)");
        f.start_daemon();  // --detach: the daemon itself runs in /
        CHECK(wait_until([&] { return read_file(f.path("here.txt")) == f.dir().string() + "\n"; }));
    }

    // bind(2) cannot take it; the daemon used to die with "fatal: File name too long" and,
    // detached, with no reason at all.
    TEST_CASE("a socket path too long for bind is refused, naming the path" *
              doctest::timeout(30))
    {
        Fixture f;
        f.write_config("[services.app]\ncommand = [\"sleep\", \"1000\"]\n");
        const std::string socket = f.path(std::string(120, 's') + ".sock").string();
        for (const bool detach : {false, true}) {
            std::vector<std::string> argv{procsup_binary().string(), "daemon", "-c",
                                          f.config_path().string(), "--socket", socket};
            if (detach) {
                argv.insert(argv.end(), {"--detach", "--pidfile", f.pidfile_path().string()});
            }
            const auto r = run_command(argv);
            CAPTURE(detach);
            CHECK(r.exit_code == 1);
            CHECK(r.err.find("socket path '" + socket + "' is too long") != std::string::npos);
        }
        CHECK(processes_with_token(f.token()).empty());
    }

    TEST_CASE("an unknown signal is a usage error named on the client" * doctest::timeout(30))
    {
        Fixture f;
        const auto r = f.cli({"signal", "SIGFOO", "app"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("unknown signal 'SIGFOO'") != std::string::npos);
    }
}
