// The probes against real servers on 127.0.0.1 and real processes, on a real io_context.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "os_test_helpers.hpp"
#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>

#include "procsup/health_check.hpp"
#include "procsup/spawner.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using procsup::HealthCheckConfig;
using procsup::HealthProbe;
using procsup::HealthResult;
using procsup::test::ChildGuard;
using procsup::test::default_timeout;
using procsup::test::TempDir;

// A listening TCP socket on 127.0.0.1 with a port chosen by the kernel.
int listen_on_free_port(std::uint16_t& port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) < 0 ||
        ::listen(fd, 16) < 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) < 0) {
        throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port = ntohs(address.sin_port);
    return fd;
}

// A port on which nothing listens: bound once, then released.
std::uint16_t closed_port()
{
    std::uint16_t port = 0;
    ::close(listen_on_free_port(port));
    return port;
}

bool can_connect(std::uint16_t port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

// A tiny HTTP server in a thread: it reads each request head and answers with `response`,
// or, when `response` is empty, accepts and never answers.
class TestServer {
public:
    explicit TestServer(std::string response) : response_(std::move(response))
    {
        listen_fd_ = listen_on_free_port(port_);
        if (::pipe2(stop_pipe_, O_CLOEXEC) < 0) {
            throw std::runtime_error("pipe2 failed");
        }
        thread_ = std::thread([this] { serve(); });
    }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;
    ~TestServer()
    {
        ::close(stop_pipe_[1]);
        thread_.join();
        ::close(stop_pipe_[0]);
        ::close(listen_fd_);
    }

    std::uint16_t port() const { return port_; }
    int connections() const { return connections_; }
    std::vector<std::string> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void serve()
    {
        // SIGCHLD goes to the test's main thread, whose signal_set expects it, and no
        // blocking call here is interrupted.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);

        std::vector<int> silent;
        while (wait_readable(listen_fd_)) {
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            ++connections_;
            const std::string request = read_head(fd);
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(request);
            }
            if (response_.empty()) {
                silent.push_back(fd);
                continue;
            }
            (void)!::send(fd, response_.data(), response_.size(), MSG_NOSIGNAL);
            ::close(fd);
        }
        for (int fd : silent) {
            ::close(fd);
        }
    }

    // False once the stop pipe closed.
    bool wait_readable(int fd)
    {
        pollfd entries[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        ::poll(entries, 2, -1);
        return entries[1].revents == 0;
    }

    std::string read_head(int fd)
    {
        std::string head;
        char buffer[1024];
        while (head.find("\r\n\r\n") == std::string::npos && wait_readable(fd)) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) {
                break;
            }
            head.append(buffer, static_cast<std::size_t>(n));
        }
        return head;
    }

    std::string response_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    int stop_pipe_[2] = {-1, -1};
    std::atomic<int> connections_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
    std::thread thread_;
};

std::string http_response(const std::string& status_line, const std::string& body,
                          const std::string& extra_headers = "")
{
    return "HTTP/1.1 " + status_line + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra_headers + "Connection: close\r\n\r\n" + body;
}

// The daemon's one reaper in miniature: SIGCHLD, then waitpid(-1) until nothing is left,
// dispatching to watched PIDs.
class TestReaper : public procsup::ChildWatcher {
public:
    explicit TestReaper(boost::asio::io_context& io) : signals_(io, SIGCHLD) { arm(); }

    void watch(pid_t pid, ExitCallback on_exit) override
    {
        watched_.push_back(pid);
        callbacks_[pid] = std::move(on_exit);
    }
    void forget(pid_t pid) override { callbacks_.erase(pid); }

    std::optional<pid_t> last_watched() const
    {
        return watched_.empty() ? std::nullopt : std::optional<pid_t>(watched_.back());
    }
    bool has_reaped(pid_t pid) const { return reaped_.count(pid) > 0; }
    bool is_watching(pid_t pid) const { return callbacks_.count(pid) > 0; }
    bool has_reaped_all() const
    {
        return std::all_of(watched_.begin(), watched_.end(),
                           [this](pid_t pid) { return has_reaped(pid); });
    }

private:
    void arm()
    {
        signals_.async_wait([this](boost::system::error_code ec, int) {
            if (ec) {
                return;
            }
            reap();
            arm();
        });
    }

    void reap()
    {
        int status = 0;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            reaped_.insert(pid);
            const auto it = callbacks_.find(pid);
            if (it != callbacks_.end()) {
                auto callback = std::move(it->second);
                callbacks_.erase(it);
                callback(status);
            }
        }
    }

    boost::asio::signal_set signals_;
    std::map<pid_t, ExitCallback> callbacks_;
    std::vector<pid_t> watched_;
    std::set<pid_t> reaped_;
};

// Runs the loop until `done` holds or the deadline passes.
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds timeout = default_timeout)
{
    const auto deadline = Clock::now() + timeout;
    while (!done() && Clock::now() < deadline) {
        // In slices: `done` may wait on another thread (the test server), not on a handler.
        io.run_one_until(std::min(deadline, Clock::now() + 10ms));
    }
    return done();
}

// One check, start to end; the result is nullopt when it never came.
std::optional<HealthResult> check_once(boost::asio::io_context& io, HealthProbe& probe)
{
    std::optional<HealthResult> result;
    probe.run([&](HealthResult r) { result = std::move(r); });
    run_until(io, [&] { return result.has_value(); });
    return result;
}

HealthCheckConfig http_config(const std::string& url, std::chrono::milliseconds timeout = 3s)
{
    HealthCheckConfig config;
    config.kind = HealthCheckConfig::Kind::http;
    config.http_url = url;
    config.timeout = timeout;
    return config;
}

HealthCheckConfig tcp_config(std::uint16_t port, std::chrono::milliseconds timeout = 3s)
{
    HealthCheckConfig config;
    config.kind = HealthCheckConfig::Kind::tcp;
    config.tcp_host = "127.0.0.1";
    config.tcp_port = port;
    config.timeout = timeout;
    return config;
}

HealthCheckConfig command_config(std::vector<std::string> argv,
                                 std::chrono::milliseconds timeout = 3s)
{
    HealthCheckConfig config;
    config.kind = HealthCheckConfig::Kind::command;
    config.command = std::move(argv);
    config.timeout = timeout;
    return config;
}

procsup::CheckContext test_context()
{
    procsup::CheckContext context;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        context.env.emplace_back(*entry);
    }
    return context;
}

std::string local_url(std::uint16_t port, const std::string& path = "/health")
{
    return "http://127.0.0.1:" + std::to_string(port) + path;
}

// True when `pid` no longer runs: gone from /proc, or a zombie nobody has reaped yet.
bool is_gone(pid_t pid)
{
    const std::string state = procsup::test::proc_status_field(pid, "State");
    return state.empty() || state.starts_with("Z");
}

// The test process: every probe here needs a watcher, and a spare one costs nothing.
struct Fixture {
    boost::asio::io_context io;
    TestReaper reaper{io};

    // Leaves no zombie behind for later tests that count the process's children.
    ~Fixture()
    {
        run_until(io, [this] { return reaper.has_reaped_all(); });
    }
};

}  // namespace

TEST_SUITE("health_probe")
{
    TEST_CASE_FIXTURE(Fixture, "an HTTP check passes on 200 and sends a plain GET with Host")
    {
        TestServer server(http_response("200 OK", "all good\n"));
        auto probe = HealthProbe::create(io, http_config(local_url(server.port())), {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        CHECK(result->output == "HTTP 200: all good");

        const auto requests = server.requests();
        REQUIRE(requests.size() == 1);
        const std::string& request = requests[0];
        CHECK(request.starts_with("GET /health HTTP/1.1\r\n"));
        CHECK(request.find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") !=
              std::string::npos);
        CHECK(request.find("Connection: close\r\n") != std::string::npos);
        CHECK(request.find("User-Agent: procsup-health\r\n") != std::string::npos);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check fails on 500")
    {
        TestServer server(http_response("500 Internal Server Error", "database down"));
        auto probe = HealthProbe::create(io, http_config(local_url(server.port())), {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "HTTP 500: database down");
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP redirect passes as is and is never followed")
    {
        TestServer server(
            http_response("302 Found", "", "Location: http://127.0.0.2:9/elsewhere\r\n"));
        auto probe = HealthProbe::create(io, http_config(local_url(server.port())), {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        CHECK(result->output == "HTTP 302");
        CHECK(server.connections() == 1);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP body over the limit still counts by its status")
    {
        TestServer server(http_response("200 OK", std::string(200'000, 'x')));
        auto probe = HealthProbe::create(io, http_config(local_url(server.port())), {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        // Beast refuses a Content-Length over the limit before reading the body.
        CHECK(result->output == "HTTP 200");
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP URL without port or path means port 80 and '/'")
    {
        // Port 80 on 127.0.0.1 is assumed closed on a test machine; what matters is that the
        // URL is accepted and a connection is tried.
        auto probe = HealthProbe::create(io, http_config("http://127.0.0.1"), {}, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->output.find("invalid") == std::string::npos);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check against an IPv6 literal URL reaches the server")
    {
        // The server listens on IPv4 only, so [::1] is refused: the URL parsed, and the
        // check connected to the literal without a name lookup.
        auto probe = HealthProbe::create(
            io, http_config("http://[::1]:" + std::to_string(closed_port()) + "/x"), {}, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output.find("invalid") == std::string::npos);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check of a bad URL fails and says so")
    {
        for (const char* url : {"https://127.0.0.1/", "http://", "http://host:0/", "ftp://x/",
                                "http://127.0.0.1/a b"}) {
            CAPTURE(url);
            auto probe = HealthProbe::create(io, http_config(url), {}, reaper);
            const auto result = check_once(io, *probe);
            REQUIRE(result);
            CHECK_FALSE(result->passed);
            CHECK(result->output.find("invalid health check URL") != std::string::npos);
        }
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check uses the loader's parsed host, port and path")
    {
        TestServer server(http_response("204 No Content", ""));
        HealthCheckConfig config = http_config("not looked at");
        config.http_host = "127.0.0.1";
        config.http_port = server.port();
        config.http_path = "/ready?deep=1";
        auto probe = HealthProbe::create(io, config, {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        REQUIRE(server.requests().size() == 1);
        CHECK(server.requests()[0].starts_with("GET /ready?deep=1 HTTP/1.1\r\n"));
    }

    TEST_CASE_FIXTURE(Fixture, "a silent HTTP server fails at the timeout and the loop runs on")
    {
        TestServer server("");
        auto probe =
            HealthProbe::create(io, http_config(local_url(server.port()), 300ms), {}, reaper);

        const auto start = Clock::now();
        std::optional<Clock::duration> timer_fired_after;
        boost::asio::steady_timer timer(io, 100ms);
        timer.async_wait(
            [&](boost::system::error_code) { timer_fired_after = Clock::now() - start; });
        const auto result = check_once(io, *probe);
        const auto elapsed = Clock::now() - start;

        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "timed out after 300ms");
        CHECK(elapsed >= 300ms);
        CHECK(elapsed < 2s);
        REQUIRE(timer_fired_after);
        CHECK(*timer_fired_after >= 100ms);
        CHECK(*timer_fired_after < 250ms);
        CHECK(server.connections() == 1);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check of a closed port fails fast as refused")
    {
        auto probe = HealthProbe::create(io, http_config(local_url(closed_port())), {}, reaper);
        const auto start = Clock::now();
        const auto result = check_once(io, *probe);

        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "connection refused");
        CHECK(Clock::now() - start < 1s);
    }

    TEST_CASE_FIXTURE(Fixture, "a host name is resolved before the HTTP check connects")
    {
        TestServer server(http_response("200 OK", "ok"));
        const auto url = "http://localhost:" + std::to_string(server.port()) + "/";
        auto probe = HealthProbe::create(io, http_config(url), {}, reaper);

        const auto result = check_once(io, *probe);
        REQUIRE(result);
        // localhost may resolve to ::1 first, where nothing listens; the IPv4 address follows.
        CHECK(result->passed);
        REQUIRE(server.requests().size() == 1);
        CHECK(server.requests()[0].find("Host: localhost:") != std::string::npos);
    }

    TEST_CASE_FIXTURE(Fixture, "a cancelled HTTP check never reports")
    {
        TestServer server("");
        auto probe =
            HealthProbe::create(io, http_config(local_url(server.port()), 300ms), {}, reaper);
        bool called = false;
        probe->run([&](HealthResult) { called = true; });
        run_until(io, [&] { return server.connections() == 1; });
        probe->cancel();
        io.run_for(500ms);
        CHECK_FALSE(called);

        SUBCASE("and the probe runs again afterwards")
        {
            const auto result = check_once(io, *probe);
            REQUIRE(result);
            CHECK(result->output == "timed out after 300ms");
        }
    }

    TEST_CASE_FIXTURE(Fixture, "destroying a probe with an HTTP check in flight is safe")
    {
        TestServer server("");
        bool called = false;
        {
            auto probe = HealthProbe::create(io, http_config(local_url(server.port())), {}, reaper);
            probe->run([&](HealthResult) { called = true; });
            run_until(io, [&] { return server.connections() == 1; });
        }
        io.run_for(200ms);
        CHECK_FALSE(called);
    }

    TEST_CASE_FIXTURE(Fixture, "an HTTP check against python's http.server passes and 404 fails")
    {
        TempDir root;
        procsup::test::write_file(root / "health", "fine\n");
        std::uint16_t port = closed_port();
        procsup::SpawnRequest request;
        request.argv = {"python3",     "-m",
                        "http.server", "--bind",
                        "127.0.0.1",   std::to_string(port),
                        "--directory", root.path().string()};
        request.env = test_context().env;
        const auto spawned = procsup::spawn(request);
        REQUIRE(std::holds_alternative<pid_t>(spawned));
        // Killed by PID and reaped here even when a check below fails; the test reaper only
        // sees SIGCHLD while the loop runs, and the guard reaps this PID by itself.
        ChildGuard python(std::get<pid_t>(spawned));
        const auto deadline = Clock::now() + 10s;
        while (!can_connect(port) && Clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        REQUIRE(can_connect(port));

        auto ok = HealthProbe::create(io, http_config(local_url(port)), {}, reaper);
        const auto passed = check_once(io, *ok);
        REQUIRE(passed);
        CHECK(passed->passed);
        CHECK(passed->output == "HTTP 200: fine");

        auto missing = HealthProbe::create(io, http_config(local_url(port, "/nope")), {}, reaper);
        const auto failed = check_once(io, *missing);
        REQUIRE(failed);
        CHECK_FALSE(failed->passed);
        CHECK(failed->output.starts_with("HTTP 404"));
    }

    TEST_CASE_FIXTURE(Fixture, "a TCP check passes when the port accepts")
    {
        TestServer server("");
        auto probe = HealthProbe::create(io, tcp_config(server.port()), {}, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        CHECK(result->output == "connected to 127.0.0.1:" + std::to_string(server.port()));
    }

    TEST_CASE_FIXTURE(Fixture, "a TCP check of a closed port fails as refused")
    {
        auto probe = HealthProbe::create(io, tcp_config(closed_port()), {}, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "connection refused");
    }

    TEST_CASE_FIXTURE(Fixture, "a TCP check of an unknown host fails with the lookup error")
    {
        HealthCheckConfig config = tcp_config(80);
        config.tcp_host = "no-such-host.invalid";
        auto probe = HealthProbe::create(io, config, {}, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output.starts_with("cannot resolve 'no-such-host.invalid': "));
    }

    TEST_CASE_FIXTURE(Fixture, "a command check passes on exit 0 and fails otherwise")
    {
        auto passing = HealthProbe::create(io, command_config({"true"}), test_context(), reaper);
        const auto passed = check_once(io, *passing);
        REQUIRE(passed);
        CHECK(passed->passed);
        CHECK(passed->output == "exit 0");

        auto failing = HealthProbe::create(io, command_config({"false"}), test_context(), reaper);
        const auto failed = check_once(io, *failing);
        REQUIRE(failed);
        CHECK_FALSE(failed->passed);
        CHECK(failed->output == "exit 1");
        CHECK(reaper.has_reaped(*reaper.last_watched()));
    }

    TEST_CASE_FIXTURE(Fixture, "a command check reports stdout and stderr together")
    {
        auto probe =
            HealthProbe::create(io, command_config({"sh", "-c", "echo out; echo err >&2; exit 1"}),
                                test_context(), reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "out err");
    }

    TEST_CASE_FIXTURE(Fixture, "a command check keeps at most 1 KiB of a long output")
    {
        auto probe = HealthProbe::create(
            io, command_config({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a"}),
            test_context(), reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        CHECK(result->output == std::string(1024, 'a'));
    }

    TEST_CASE_FIXTURE(Fixture, "a command check runs with the service's environment and directory")
    {
        TempDir dir;
        procsup::CheckContext context = test_context();
        context.env.push_back("HEALTH_TOKEN=sesame");
        context.directory = dir.path();
        context.umask = 077;
        auto probe = HealthProbe::create(
            io, command_config({"sh", "-c", "echo $HEALTH_TOKEN; pwd; umask"}), context, reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->passed);
        CHECK(result->output == "sesame " + dir.path().string() + " 0077");
    }

    TEST_CASE_FIXTURE(Fixture, "a command that cannot start fails without calling back from run")
    {
        auto probe =
            HealthProbe::create(io, command_config({"/nonexistent/check"}), test_context(), reaper);
        std::optional<HealthResult> result;
        probe->run([&](HealthResult r) { result = std::move(r); });
        CHECK_FALSE(result);
        run_until(io, [&] { return result.has_value(); });
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output.find("/nonexistent/check") != std::string::npos);
    }

    TEST_CASE_FIXTURE(Fixture, "a command over its timeout is killed with its group and reaped")
    {
        TempDir dir;
        const auto grandchild_file = (dir / "grandchild").string();
        auto probe = HealthProbe::create(
            io,
            command_config({"sh", "-c", "sleep 100 & echo $! > " + grandchild_file + "; wait"},
                           300ms),
            test_context(), reaper);

        const auto start = Clock::now();
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK_FALSE(result->passed);
        CHECK(result->output == "timed out after 300ms");
        CHECK(Clock::now() - start < 2s);

        const pid_t pid = *reaper.last_watched();
        // The exit is still collected by the one reaper after the check reported.
        CHECK(run_until(io, [&] { return reaper.has_reaped(pid); }));
        CHECK(is_gone(pid));
        const pid_t grandchild = std::stoi(procsup::test::read_file(grandchild_file));
        CHECK(run_until(io, [&] { return is_gone(grandchild); }));
    }

    TEST_CASE_FIXTURE(Fixture, "sleep 100 as a check is killed at the timeout")
    {
        auto probe = HealthProbe::create(io, command_config({"sleep", "100"}, 300ms),
                                         test_context(), reaper);
        const auto result = check_once(io, *probe);
        REQUIRE(result);
        CHECK(result->output == "timed out after 300ms");
        const pid_t pid = *reaper.last_watched();
        CHECK(run_until(io, [&] { return reaper.has_reaped(pid); }));
        CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
    }

    TEST_CASE_FIXTURE(Fixture, "destroying the probe kills a running command's group")
    {
        bool called = false;
        pid_t pid = 0;
        {
            auto probe =
                HealthProbe::create(io, command_config({"sleep", "100"}), test_context(), reaper);
            probe->run([&](HealthResult) { called = true; });
            pid = *reaper.last_watched();
            io.run_for(50ms);
            CHECK_FALSE(is_gone(pid));
        }
        CHECK(reaper.is_watching(pid));  // the exit is still expected, not forgotten
        CHECK(run_until(io, [&] { return reaper.has_reaped(pid); }));
        CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
        CHECK_FALSE(called);
    }

    TEST_CASE_FIXTURE(Fixture, "a cancelled command check never reports and its process ends")
    {
        auto probe = HealthProbe::create(io, command_config({"sleep", "100"}, 300ms),
                                         test_context(), reaper);
        bool called = false;
        probe->run([&](HealthResult) { called = true; });
        const pid_t pid = *reaper.last_watched();
        probe->cancel();
        CHECK(run_until(io, [&] { return reaper.has_reaped(pid); }));
        CHECK_FALSE(called);

        SUBCASE("and the probe runs again afterwards")
        {
            const auto result = check_once(io, *probe);
            REQUIRE(result);
            CHECK(result->output == "timed out after 300ms");
            const pid_t second = *reaper.last_watched();
            CHECK(second != pid);
            // Reaped here: a zombie left behind would confuse later tests that count children.
            CHECK(run_until(io, [&] { return reaper.has_reaped(second); }));
        }
    }
}
