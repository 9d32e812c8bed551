// End-to-end under a real PID namespace (`unshare --pid --fork --mount-proc`, root only):
// procsup as a container's PID 1, checked for what tini's and dumb-init's own suites check.
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;
namespace fs = std::filesystem;

namespace {

bool can_unshare()
{
    static const bool ok =
        ::geteuid() == 0 &&
        run_command({"unshare", "--pid", "--fork", "--mount-proc", "true"}, 10s).exit_code == 0;
    return ok;
}

// The namespace's PID 1, seen from here: the only child of the `unshare` process.
std::optional<pid_t> namespace_init(pid_t unshare_pid)
{
    std::optional<pid_t> found;
    wait_until([&] {
        const std::string children = read_file("/proc/" + std::to_string(unshare_pid) +
                                               "/task/" + std::to_string(unshare_pid) +
                                               "/children");
        if (children.empty()) {
            return false;
        }
        found = std::stoi(children);
        return true;
    });
    return found;
}

std::string fixture(const std::string& name)
{
    return (fs::path(PROCSUP_SOURCE_DIR) / "tests/fixtures" / name).string();
}

}  // namespace

TEST_SUITE("pid 1")
{
    TEST_CASE("2000 orphans exiting at once are all reaped within a second" *
              doctest::timeout(120))
    {
        if (!can_unshare()) {
            MESSAGE("needs root and unshare(1); skipping");
            return;
        }
        Fixture f;
        const auto r = run_command({"unshare", "--pid", "--fork", "--mount-proc",
                                    procsup_binary().string(), "run", "--", "python3",
                                    fixture("orphans.py"), "2000",
                                    f.path("zombies").string()},
                                   90s);
        CHECK(r.exit_code == 0);
        CHECK(read_file(f.path("zombies")) == "0\n");
    }

    TEST_CASE("SIGTERM to PID 1 stops the services and exits 0" * doctest::timeout(60))
    {
        if (!can_unshare()) {
            MESSAGE("needs root and unshare(1); skipping");
            return;
        }
        Fixture f;
        f.write_config(R"(
[services.web]
command = ["sh", "-c", "trap 'echo term > @DIR@/web.term; exit 0' TERM; while :; do sleep 0.05; done"]
)");
        const pid_t unshare = f.start_background({"unshare", "--pid", "--fork", "--mount-proc",
                                                  procsup_binary().string(), "daemon", "-c",
                                                  f.config_path().string()});
        REQUIRE(wait_until([&] { return f.state_of("web") == "running"; }));
        const auto init = namespace_init(unshare);
        REQUIRE(init);
        ::kill(*init, SIGTERM);
        CHECK(f.wait_exit_of(unshare) == 0);
        CHECK(read_file(f.path("web.term")) == "term\n");
    }

    TEST_CASE("an essential service's end stops the rest and a slow grandchild is waited for" *
              doctest::timeout(60))
    {
        if (!can_unshare()) {
            MESSAGE("needs root and unshare(1); skipping");
            return;
        }
        Fixture f;
        f.write_config(R"(
[services.worker]
command = ["sh", "-c", "sh -c 'trap \"sleep 2; echo done > @DIR@/grandchild.done; exit 0\" TERM; while :; do sleep 0.05; done' & wait"]
stop_timeout = "10s"

[services.job]
command = ["sh", "-c", "sleep 1.5; exit 5"]
restart = "never"
essential = true
)");
        const pid_t unshare = f.start_background({"unshare", "--pid", "--fork", "--mount-proc",
                                                  procsup_binary().string(), "daemon", "-c",
                                                  f.config_path().string()});
        CHECK(f.wait_exit_of(unshare, 30s) == 5);
        CHECK(read_file(f.path("grandchild.done")) == "done\n");
    }

    TEST_CASE("a daemon that double-forks and calls setsid is still stopped" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.forker]
command = ["sh", "-c", "setsid sh -c 'echo $$ > @DIR@/escaped.pid; exec sleep 1000' & sleep 1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("forker") == "running"; }));
        REQUIRE(wait_until([&] { return read_pid(f.path("escaped.pid")).has_value(); }));
        const pid_t escaped = *read_pid(f.path("escaped.pid"));
        REQUIRE(process_alive(escaped));
        CHECK(::getsid(escaped) == escaped);  // It really left the service's session.
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(f.cli({"stop", "forker"}).exit_code == 0);
        // It got the stop signal, not the SIGKILL at stop_timeout (10 s).
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        CHECK_FALSE(process_alive(escaped));
        CHECK(processes_with_token(f.token()).size() == 1);
    }

    TEST_CASE("run --detach survives the hang-up of its terminal and stops by its PID file" *
              doctest::timeout(60))
    {
        Fixture f;
        const std::string pidfile = f.path("p.pid").string();
        const std::string log = f.path("out.log").string();
        const std::string command =
            procsup_binary().string() + " run --detach --log " + log + " --pidfile " + pidfile +
            " -- python3 -c 'import time,sys\nfor i in range(100000):\n print(i, flush=True); "
            "time.sleep(0.01)'";
        // A pseudo-terminal session like an ssh login: script(1) under setsid.
        const pid_t session = f.start_background(
            {"setsid", "script", "-qec", command + "; sleep 1000", "/dev/null"});
        REQUIRE(wait_until([&] { return read_pid(pidfile).has_value(); }));
        const pid_t command_pid = *read_pid(pidfile);
        CHECK(::getsid(command_pid) != ::getsid(session));
        // The terminal goes away: its session is hung up and the pty closes.
        ::kill(-session, SIGHUP);
        ::kill(session, SIGKILL);
        CHECK(f.wait_exit_of(session, 10s).has_value());
        const auto lines_before = read_file(log).size();
        CHECK(wait_until([&] { return read_file(log).size() > lines_before + 50; }));
        CHECK(process_alive(command_pid));

        ::kill(command_pid, SIGTERM);  // `kill $(cat p.pid)`
        CHECK(wait_until([&] { return !process_alive(command_pid); }));
        CHECK(wait_until([&] { return processes_with_token(f.token()).empty(); }));
        CHECK(read_file(log).find("0\n1\n2\n") == 0);
    }
}
