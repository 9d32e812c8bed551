// End-to-end: procsup as a Type=notify service, against a fake NOTIFY_SOCKET the test owns
// (DESIGN §9, issue 8).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstring>

#include "harness.hpp"

using namespace procsup::test;

namespace {

// The systemd side: a datagram socket that collects what procsup sends, with timestamps.
class NotifyListener {
public:
    explicit NotifyListener(const std::filesystem::path& path) : path_(path)
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    ~NotifyListener() { ::close(fd_); }

    struct Message {
        std::chrono::steady_clock::time_point at;
        std::string text;
    };

    // Collects messages until `condition` holds on what was received, or `limit` passes.
    bool collect_until(const std::function<bool(const std::vector<Message>&)>& condition,
                       std::chrono::milliseconds limit = 10s)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                char buffer[4096];
                const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
                if (n > 0) {
                    messages_.push_back({std::chrono::steady_clock::now(),
                                         std::string(buffer, static_cast<std::size_t>(n))});
                }
            }
            if (condition(messages_)) {
                return true;
            }
        }
        return condition(messages_);
    }

    const std::vector<Message>& messages() const { return messages_; }
    std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

    static bool has(const std::vector<Message>& messages, const std::string& part)
    {
        for (const auto& m : messages) {
            if (m.text.find(part) != std::string::npos) {
                return true;
            }
        }
        return false;
    }

private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::vector<Message> messages_;
};

}  // namespace

TEST_SUITE("systemd")
{
    TEST_CASE("READY=1 comes once the autostart services are up, then STATUS and STOPPING" *
              doctest::timeout(60))
    {
        Fixture f;
        NotifyListener systemd(f.path("notify.sock"));
        f.write_config(R"(
[services.slow]
command = ["sleep", "1000"]
start_seconds = "1s"
[services.quick]
command = ["sleep", "1000"]
start_seconds = "100ms"
[services.manual]
command = ["sleep", "1000"]
autostart = false
)");
        const auto t0 = std::chrono::steady_clock::now();
        const pid_t daemon = f.start_foreground_daemon({}, {systemd.env()});
        REQUIRE(systemd.collect_until(
            [](const auto& m) { return NotifyListener::has(m, "READY=1"); }));
        // `slow` needs a whole second of running before it counts as started.
        const auto ready = std::find_if(systemd.messages().begin(), systemd.messages().end(),
                                        [](const auto& m) {
                                            return m.text.find("READY=1") != std::string::npos;
                                        });
        CHECK(ready->at - t0 >= 900ms);
        CHECK(ready->text.find("STATUS=2 running, 0 starting, 0 failed") != std::string::npos);
        CHECK(f.state_of("slow") == "running");

        CHECK(f.cli({"start", "manual"}).exit_code == 0);
        CHECK(systemd.collect_until(
            [](const auto& m) { return NotifyListener::has(m, "STATUS=3 running"); }));

        ::kill(daemon, SIGTERM);
        CHECK(systemd.collect_until(
            [](const auto& m) { return NotifyListener::has(m, "STOPPING=1"); }));
        CHECK(f.wait_exit_of(daemon) == 0);
    }

    TEST_CASE("the watchdog is fed at half of WATCHDOG_USEC" * doctest::timeout(60))
    {
        Fixture f;
        NotifyListener systemd(f.path("notify.sock"));
        f.write_config("[services.a]\ncommand = [\"sleep\", \"1000\"]\n");
        const pid_t daemon =
            f.start_foreground_daemon({}, {systemd.env(), "WATCHDOG_USEC=400000"});
        auto pings = [](const auto& messages) {
            return std::count_if(messages.begin(), messages.end(), [](const auto& m) {
                return m.text.find("WATCHDOG=1") != std::string::npos;
            });
        };
        REQUIRE(systemd.collect_until([&](const auto& m) { return pings(m) >= 6; }, 5s));
        std::vector<std::chrono::steady_clock::time_point> at;
        for (const auto& m : systemd.messages()) {
            if (m.text.find("WATCHDOG=1") != std::string::npos) {
                at.push_back(m.at);
            }
        }
        // Every 200 ms: never slower than the 400 ms limit, never a flood.
        for (std::size_t i = 2; i < at.size(); ++i) {
            CHECK(at[i] - at[i - 1] > 100ms);
            CHECK(at[i] - at[i - 1] < 400ms);
        }
        ::kill(daemon, SIGTERM);
        CHECK(f.wait_exit_of(daemon) == 0);
    }

    TEST_CASE("update tells systemd it is reloading, and services never see NOTIFY_SOCKET" *
              doctest::timeout(60))
    {
        Fixture f;
        NotifyListener systemd(f.path("notify.sock"));
        f.write_config(R"(
[services.env]
command = ["sh", "-c", "env > @DIR@/env.txt; exec sleep 1000"]
)");
        const pid_t daemon =
            f.start_foreground_daemon({}, {systemd.env(), "WATCHDOG_USEC=10000000"});
        REQUIRE(systemd.collect_until(
            [](const auto& m) { return NotifyListener::has(m, "READY=1"); }));
        CHECK(f.cli({"update"}).exit_code == 0);
        CHECK(systemd.collect_until(
            [](const auto& m) { return NotifyListener::has(m, "RELOADING=1"); }));
        const std::string env = read_file(f.path("env.txt"));
        CHECK(env.find("NOTIFY_SOCKET") == std::string::npos);
        CHECK(env.find("WATCHDOG_USEC") == std::string::npos);
        CHECK(env.find("PROCSUP_SERVICE=env") != std::string::npos);
        ::kill(daemon, SIGTERM);
        CHECK(f.wait_exit_of(daemon) == 0);
    }
}
