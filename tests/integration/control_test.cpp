// End-to-end: the control plane (DESIGN §2, §7): verbs, events, access control and a daemon
// that hostile clients cannot stall.
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstring>
#include <sstream>

#include "harness.hpp"

using namespace procsup::test;

namespace {

int connect_to(const std::filesystem::path& socket)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void send_all(int fd, const std::string& data)
{
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        sent += static_cast<std::size_t>(n);
    }
}

// One line of reply, or "" when none comes within `limit`.
std::string read_line(int fd, std::chrono::milliseconds limit = 5s)
{
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        if (::read(fd, &c, 1) != 1) {
            break;
        }
        if (c == '\n') {
            return line;
        }
        line.push_back(c);
    }
    return line;
}

long rss_kib(pid_t pid)
{
    std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string key;
    long value = 0;
    while (status >> key) {
        if (key == "VmRSS:") {
            status >> value;
            return value;
        }
    }
    return 0;
}

// Runs the client as user nobody, with the given supplementary groups.
CommandResult as_nobody(const std::filesystem::path& copy, const std::vector<std::string>& args,
                        const std::string& groups = "")
{
    std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534"};
    argv.push_back(groups.empty() ? "--clear-groups" : "--groups=" + groups);
    argv.push_back(copy.string());
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 10s);
}

}  // namespace

TEST_SUITE("control")
{
    TEST_CASE("reload and signal reach the service, by name or number" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sh", "-c", "trap 'echo hup >> @DIR@/got' HUP; trap 'echo usr1 >> @DIR@/got' USR1; echo ready > @DIR@/ready; while :; do sleep 0.05; done"]
[services.idle]
command = ["sleep", "1000"]
autostart = false
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return read_file(f.path("ready")) == "ready\n"; }));
        CHECK(f.cli({"reload", "app"}).exit_code == 0);
        CHECK(wait_until([&] { return read_file(f.path("got")) == "hup\n"; }));
        CHECK(f.cli({"signal", "USR1", "app"}).exit_code == 0);
        CHECK(wait_until([&] { return read_file(f.path("got")) == "hup\nusr1\n"; }));
        CHECK(f.cli({"signal", "10", "app"}).exit_code == 0);  // SIGUSR1 by number
        CHECK(wait_until([&] { return read_file(f.path("got")) == "hup\nusr1\nusr1\n"; }));
        // A stopped service cannot be signalled: that is a failure, reported per service.
        const auto idle = f.cli({"signal", "SIGUSR1", "app", "idle"});
        CHECK(idle.exit_code == 1);
        CHECK(idle.out.find("idle: not signalled: not running") != std::string::npos);
    }

    // gunicorn's graceful reload: HUP to the master only. Sent to the whole group (kill_group
    // is on by default) it killed the workers, which do not handle SIGHUP.
    TEST_CASE("reload signals the main process only, not the workers in its group" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sh", "-c", "sleep 1000 & echo $! > @DIR@/worker; trap 'echo hup >> @DIR@/got' HUP; echo ready > @DIR@/ready; while :; do sleep 0.05; done"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return read_file(f.path("ready")) == "ready\n"; }));
        const pid_t worker = std::stoi(read_file(f.path("worker")));
        CHECK(f.cli({"reload", "app"}).exit_code == 0);
        CHECK(wait_until([&] { return read_file(f.path("got")) == "hup\n"; }));
        CHECK(process_alive(worker));
        // `signal` still follows kill_group: the whole group gets it.
        CHECK(f.cli({"signal", "TERM", "app"}).exit_code == 0);
        CHECK(wait_until([&] { return !process_alive(worker); }));
    }

    // A stop waiting for its service to come to rest used to wait forever when a start came
    // in meanwhile: the service never rested, and the client held its connection for good.
    TEST_CASE("a stop overtaken by a start returns instead of waiting forever" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.slowstop]
command = ["sh", "-c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.1; done"]
start_seconds = "0s"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("slowstop") == "running"; }));
        const pid_t stopper = spawn_background(
            {procsup_binary().string(), "-s", f.socket_path().string(), "stop", "slowstop"},
            f.path("stop.out"), f.path("stop.err"));
        REQUIRE(wait_until([&] { return f.state_of("slowstop") == "stopping"; }));
        CHECK(f.cli({"start", "slowstop"}).exit_code == 0);
        CHECK(wait_exit(stopper, 10s) == 1);
        CHECK(read_file(f.path("stop.out")).find("superseded by a later start") !=
              std::string::npos);
        CHECK(f.state_of("slowstop") == "running");
    }

    TEST_CASE("--all and --no-wait act on every service" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.a]
command = ["sleep", "1000"]
autostart = false
[services.b]
command = ["sleep", "1000"]
autostart = false
)");
        f.start_daemon();
        const auto started = f.cli({"start", "--all"});
        CHECK(started.exit_code == 0);
        CHECK(f.state_of("a") == "running");
        CHECK(f.state_of("b") == "running");
        const auto stopped = f.cli({"stop", "--all", "--no-wait"});
        CHECK(stopped.exit_code == 0);
        CHECK(wait_until(
            [&] { return f.state_of("a") == "stopped" && f.state_of("b") == "stopped"; }));
    }

    TEST_CASE("start waits through a failed attempt to the retry that succeeds" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.flaky]
command = ["sh", "-c", "[ -e @DIR@/tried ] || { touch @DIR@/tried; exit 1; }; exec sleep 1000"]
autostart = false
start_seconds = "300ms"
backoff = "200ms"
)");
        f.start_daemon();
        const auto r = f.cli({"start", "flaky"});
        INFO("start: ", r.out, r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("flaky: running") != std::string::npos);
        CHECK(std::filesystem::exists(f.path("tried")));
    }

    TEST_CASE("a service stopped during its backoff no longer says it is retrying" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.crashy]
command = ["sh", "-c", "exit 1"]
backoff = "30s"
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("crashy") == "backoff"; }));
        CHECK(f.cli({"stop", "crashy"}).exit_code == 0);
        const auto status = f.status_of("crashy");
        CHECK(status.at("state").as_string() == "stopped");
        const std::string message(status.at("message").as_string());
        CAPTURE(message);
        CHECK(message.find("retrying") == std::string::npos);
        CHECK(message == "stopped during backoff");
    }

    TEST_CASE("a failed start shows the service's last output" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.broken]
command = ["sh", "-c", "echo 'config error: port missing' >&2; exit 2"]
restart = "never"
autostart = false
)");
        f.start_daemon();
        const auto r = f.cli({"start", "broken"});
        CHECK(r.exit_code == 1);
        CHECK(r.out.find("exited with status 2") != std::string::npos);
        CHECK(r.out.find("| config error: port missing") != std::string::npos);
    }

    // The tail shown is that run's: the log file also holds what earlier runs said.
    TEST_CASE("a failed start shows only the output of its own run" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.broken]
command = ["sh", "-c", "n=$(cat @DIR@/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > @DIR@/n; echo \"attempt $n failed\" >&2; exit 2"]
restart = "never"
autostart = false
stderr = "broken.err"
)");
        f.start_daemon();
        const auto first = f.cli({"start", "broken"});
        CHECK(first.exit_code == 1);
        CHECK(first.out.find("| attempt 1 failed") != std::string::npos);
        const auto second = f.cli({"start", "broken"});
        INFO("second start: ", second.out);
        CHECK(second.exit_code == 1);
        CHECK(second.out.find("| attempt 2 failed") != std::string::npos);
        CHECK(second.out.find("attempt 1") == std::string::npos);
        CHECK(read_file(f.path("broken.err")) == "attempt 1 failed\nattempt 2 failed\n");
    }

    TEST_CASE("events follow every state change" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
autostart = false
start_seconds = "100ms"
)");
        f.start_daemon();
        const pid_t follower = spawn_background(
            {procsup_binary().string(), "-s", f.socket_path().string(), "events", "--json"},
            f.path("events.out"), f.path("events.err"));
        // The stream is open once the daemon has answered; a status round trip after a
        // moment is not enough to know, so wait until the first start shows in the stream.
        bool seen = false;
        for (int attempt = 0; attempt < 50 && !seen; ++attempt) {
            f.cli({"start", "app"});
            f.cli({"stop", "app"});
            seen = read_file(f.path("events.out"))
                       .find("\"from\":\"stopped\",\"to\":\"starting\"") != std::string::npos;
        }
        ::kill(follower, SIGTERM);
        CHECK(wait_exit(follower, 5s) == 0);  // Interrupting a follow is its normal end.
        const std::string events = read_file(f.path("events.out"));
        CHECK(seen);
        CHECK(events.find("\"service\":\"app\"") != std::string::npos);
        CHECK(events.find("\"from\":\"stopped\",\"to\":\"starting\"") != std::string::npos);
        CHECK(events.find("\"to\":\"running\"") != std::string::npos);
    }

    TEST_CASE("hostile clients neither crash nor stall the daemon" * doctest::timeout(120))
    {
        Fixture f;
        f.write_config(R"(
[services.app]
command = ["sleep", "1000"]
)");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        const pid_t daemon = *f.daemon_pid();
        const long rss_before = rss_kib(daemon);

        std::vector<int> junk;
        const std::vector<std::string> payloads{
            "",                                          // sends nothing
            "{\"version\":1,\"command\":\"sta",          // half a line
            "\xff\xfe\x80 not utf-8\n",                  // invalid UTF-8
            "{}\n",                                      // no version, no command
            "[1,2,3]\n",                                 // not an object
            "{\"version\":\"1\",\"command\":\"status\"}\n",  // wrong type
            "{\"version\":1,\"command\":\"status\",\"services\":\"app\"}\n",
            "{\"version\":1,\"command\":\"status\",\"bogus\":true}\n",
            "{\"version\":1,\"command\":\"explode\"}\n",
        };
        for (const std::string& p : payloads) {
            const int fd = connect_to(f.socket_path());
            REQUIRE(fd >= 0);
            send_all(fd, p);
            junk.push_back(fd);
        }
        // Each complete line gets a JSON error, and the connection stays usable.
        for (std::size_t i = 2; i < junk.size(); ++i) {
            CAPTURE(payloads[i]);
            const std::string reply = read_line(junk[i]);
            CHECK(reply.find("\"ok\":false") != std::string::npos);
            send_all(junk[i], "{\"version\":1,\"command\":\"ping\"}\n");
            CHECK(read_line(junk[i]).find("\"ok\":true") != std::string::npos);
        }
        // 16 MiB without a newline: refused after 64 KiB, not buffered.
        const int big = connect_to(f.socket_path());
        send_all(big, std::string(16 << 20, 'x'));
        CHECK(read_line(big).find("larger than") != std::string::npos);
        ::close(big);

        // Meanwhile 200 clients at once all get their status.
        std::vector<int> clients;
        for (int i = 0; i < 200; ++i) {
            const int fd = connect_to(f.socket_path());
            REQUIRE(fd >= 0);
            clients.push_back(fd);
        }
        const auto t0 = std::chrono::steady_clock::now();
        for (int fd : clients) {
            send_all(fd, "{\"version\":1,\"command\":\"status\"}\n");
        }
        int answered = 0;
        for (int fd : clients) {
            answered += read_line(fd).find("\"schema_version\":1") != std::string::npos;
            ::close(fd);
        }
        CHECK(answered == 200);
        // Generous: 200 answers in a few ms each; a stalled loop would take seconds.
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        for (int fd : junk) {
            ::close(fd);
        }
        CHECK(f.cli({"status", "app"}).exit_code == 0);
        CHECK(rss_kib(daemon) - rss_before < 8 * 1024);
    }

    TEST_CASE("only root, the daemon's user or socket_group members may control it" *
              doctest::timeout(60))
    {
        if (::geteuid() != 0 ||
            run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true"})
                    .exit_code != 0) {
            MESSAGE("needs root and setpriv; skipping");
            return;
        }
        const group* users = ::getgrnam("users");
        REQUIRE(users != nullptr);
        const std::string gid = std::to_string(users->gr_gid);

        Fixture f;
        const auto copy = f.path("procsup-copy");
        std::filesystem::copy_file(procsup_binary(), copy);
        std::filesystem::permissions(copy, std::filesystem::perms(0755));

        // 0600: the kernel refuses nobody before procsup hears of it.
        f.write_config("[services.app]\ncommand = [\"sleep\", \"1000\"]\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        CHECK((std::filesystem::status(f.socket_path()).permissions() &
               std::filesystem::perms::all) == std::filesystem::perms(0600));
        const auto refused = as_nobody(copy, {"-s", f.socket_path().string(), "stop", "app"});
        CHECK(refused.exit_code != 0);
        CHECK(refused.err.find("Permission denied") != std::string::npos);
        f.cleanup();

        // A socket opened wide by mistake: procsup's own check still refuses strangers.
        Fixture g;
        g.write_config("[supervisor]\n");
        const std::string text = "[supervisor]\nsocket = \"" + g.socket_path().string() +
                                 "\"\nlog = \"" + g.log_path().string() +
                                 "\"\nsocket_mode = \"0666\"\nsocket_group = \"users\"\n"
                                 "[services.app]\ncommand = [\"sleep\", \"1000\"]\n";
        write_file(g.config_path(), text);
        const auto copy2 = g.path("procsup-copy");
        std::filesystem::copy_file(procsup_binary(), copy2);
        std::filesystem::permissions(copy2, std::filesystem::perms(0755));
        g.start_daemon();
        REQUIRE(wait_until([&] { return g.state_of("app") == "running"; }));
        const auto pid = g.pid_of("app");
        const auto stranger = as_nobody(copy2, {"-s", g.socket_path().string(), "stop", "app"});
        CHECK(stranger.exit_code == 1);
        CHECK(stranger.err.find("permission denied") != std::string::npos);
        CHECK(g.pid_of("app") == pid);
        CHECK(read_file(g.log_path()).find("refused control connection from uid 65534") !=
              std::string::npos);
        const auto member =
            as_nobody(copy2, {"-s", g.socket_path().string(), "status", "app"}, gid);
        CHECK(member.exit_code == 0);
    }
}

TEST_SUITE("control")
{
    TEST_CASE("a query to a daemon that does not answer gives up with exit 5" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.app]\ncommand = [\"sleep\", \"1000\"]\n");
        f.start_daemon();
        const pid_t daemon = *f.daemon_pid();
        ::kill(daemon, SIGSTOP);
        const auto r = f.cli({"status"}, 30s);
        ::kill(daemon, SIGCONT);
        CHECK(r.exit_code == 5);
        CHECK(r.err.find("did not answer within 10s") != std::string::npos);
        CHECK(f.cli({"status"}).exit_code == 0);
    }
}

TEST_SUITE("control")
{
    // A client needs only [supervisor] from the config. It used to validate the whole file,
    // and when a service did not validate it fell back to the raw socket value, with no
    // ${VAR} expansion: an edit in progress cut the operator off from the running daemon.
    TEST_CASE("-c finds the socket of a config whose services do not validate" *
              doctest::timeout(60))
    {
        Fixture f;
        const std::string supervisor = "[supervisor]\nsocket = \"ctl-${PROCSUP_TEST_TOKEN}.sock\"\n"
                                       "log = \"" + f.log_path().string() + "\"\n"
                                       "log_dir = \"" + f.dir().string() + "\"\n\n";
        const std::string app = "[services.app]\ncommand = [\"sleep\", \"1000\"]\n"
                                "environment = { PROCSUP_TEST_TOKEN = \"" + f.token() + "\" }\n";
        write_file(f.config_path(), supervisor + app);
        f.start_daemon();
        const auto socket = f.path("ctl-" + f.token() + ".sock");
        const std::string binary = procsup_binary().string();
        REQUIRE(wait_until([&] {
            return run_command({binary, "-s", socket.string(), "status", "app"}).exit_code == 0;
        }));

        write_file(f.config_path(), supervisor + app + "[services.half]\ncommand = 5\n");
        const std::vector<std::string> env{"PROCSUP_TEST_TOKEN=" + f.token()};
        const auto status =
            run_command({binary, "-c", f.config_path().string(), "status", "app"}, 20s, env);
        INFO("stdout: ", status.out, " stderr: ", status.err);
        CHECK(status.exit_code == 0);
        CHECK(status.out.find("app") != std::string::npos);
        CHECK(run_command({binary, "-c", f.config_path().string(), "check-config"}, 20s, env)
                  .exit_code == 2);

        // Not even TOML: the socket is still found, and update is refused by the daemon, with
        // the error, as for any bad config (exit 2), instead of "cannot reach" (exit 5).
        write_file(f.config_path(), supervisor + app + "x = [\n");
        const std::string file = f.config_path().string();
        const auto broken = run_command({binary, "-c", file, "status", "app"}, 20s, env);
        INFO("stdout: ", broken.out, " stderr: ", broken.err);
        CHECK(broken.exit_code == 0);
        const auto update = run_command({binary, "-c", file, "update"}, 20s, env);
        INFO("update stdout: ", update.out, " stderr: ", update.err);
        CHECK(update.exit_code == 2);
        CHECK(update.err.find(file + ":9:") != std::string::npos);
        run_command({binary, "-s", socket.string(), "shutdown"}, 20s);
    }

    // Which daemon is meant cannot be told: the default socket may be another daemon's, and
    // a command sent there would act on the wrong services.
    TEST_CASE("a config that cannot be read or parsed, with no socket line, is not guessed at" *
              doctest::timeout(30))
    {
        Fixture f;
        const std::string binary = procsup_binary().string();
        const auto missing = run_command(
            {binary, "-c", f.path("missing.toml").string(), "stop", "web"});
        CHECK(missing.exit_code == 2);
        CHECK(missing.err.find("missing.toml") != std::string::npos);

        write_file(f.path("broken.toml"), "[services.web]\ncommand = [\n");
        const auto broken =
            run_command({binary, "-c", f.path("broken.toml").string(), "stop", "web"});
        CHECK(broken.exit_code == 2);
        CHECK(broken.err.find("cannot tell the daemon's socket") != std::string::npos);
        CHECK(broken.err.find(f.path("broken.toml").string() + ":") != std::string::npos);
    }
}
