// End-to-end tests of output capture (issue 3): rotation, reopen, logrotate, inherit mode, a
// full disk, and `procsup logs`. The services write numbered lines (tests/fixtures/
// seqlines.py), so every check can say which line was lost, repeated or damaged.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "harness.hpp"
#include <doctest/doctest.h>

namespace procsup::test {

namespace fs = std::filesystem;

namespace {

const std::string python = "/usr/bin/python3";
const std::string seqlines = std::string(PROCSUP_SOURCE_DIR) + "/tests/fixtures/seqlines.py";

// The line seqlines.py writes as number `n` with the given --width (without the newline).
std::string seq_line(long n, int width = 48)
{
    char head[16];
    std::snprintf(head, sizeof head, "seq=%08ld ", n);
    return head + std::string(static_cast<std::size_t>(std::max(0, width - 14)), 'x');
}

// `command = [...]` running seqlines.py with `args`.
std::string writer_command(const std::string& args)
{
    std::string command = "command = [\"" + python + "\", \"" + seqlines + "\"";
    std::istringstream words(args);
    for (std::string word; words >> word;) {
        command += ", \"" + word + "\"";
    }
    return command + "]\n";
}

std::vector<std::string> split_lines(const std::string& text)
{
    std::vector<std::string> lines;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) {
            lines.push_back(text.substr(begin) + "<no newline>");
            break;
        }
        lines.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

// x.log.N ... x.log.1, x.log: every generation, oldest first.
std::vector<fs::path> generations(const fs::path& log)
{
    std::vector<fs::path> files;
    for (int index = 1000; index >= 1; --index) {
        const fs::path backup = log.string() + "." + std::to_string(index);
        if (fs::exists(backup)) {
            files.push_back(backup);
        }
    }
    files.push_back(log);
    return files;
}

std::uintmax_t total_size(const std::vector<fs::path>& files)
{
    std::uintmax_t size = 0;
    for (const auto& f : files) {
        std::error_code ec;
        const auto s = fs::file_size(f, ec);
        size += ec ? 0 : s;
    }
    return size;
}

std::string concatenated(const std::vector<fs::path>& files)
{
    std::string text;
    for (const auto& f : files) {
        text += read_file(f);
    }
    return text;
}

// The numbers of whole seqlines.py lines, in order; every other line is reported as damaged.
struct SeqScan {
    std::vector<long> numbers;
    std::vector<std::string> damaged;
};

SeqScan scan(const std::string& text, int width = 48)
{
    SeqScan result;
    for (const std::string& line : split_lines(text)) {
        long n = 0;
        if (std::sscanf(line.c_str(), "seq=%ld", &n) == 1 && line == seq_line(n, width)) {
            result.numbers.push_back(n);
        } else {
            result.damaged.push_back(line.substr(0, 80));
        }
    }
    return result;
}

// Checks that `numbers` is first..last in order: nothing lost, repeated or reordered.
void check_consecutive(const std::vector<long>& numbers, long first, long last)
{
    REQUIRE(!numbers.empty());
    CHECK(numbers.front() == first);
    CHECK(numbers.back() == last);
    CHECK(numbers.size() == static_cast<std::size_t>(last - first + 1));
    for (std::size_t i = 1; i < numbers.size(); ++i) {
        if (numbers[i] != numbers[i - 1] + 1) {
            FAIL_CHECK("line " << numbers[i - 1] << " is followed by " << numbers[i]);
            break;
        }
    }
}

std::size_t count_of(const std::string& text, const std::string& needle)
{
    std::size_t count = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + 1)) {
        ++count;
    }
    return count;
}

std::size_t line_count(const fs::path& file)
{
    const std::string text = read_file(file);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Starts `argv` with stdout and stderr into files; the caller reaps it.
pid_t spawn_to_files(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err)
{
    std::vector<char*> c_argv;
    for (const auto& a : argv) {
        c_argv.push_back(const_cast<char*>(a.c_str()));
    }
    c_argv.push_back(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        const int null_fd = ::open("/dev/null", O_RDONLY);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execv(c_argv[0], c_argv.data());
        _exit(127);
    }
    return pid;
}

// Waits (bounded) for a child of the test to exit; returns its exit code or 128+signal.
int reap(pid_t pid, std::chrono::milliseconds limit = 10s)
{
    int status = 0;
    const bool done = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
    if (!done) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

std::size_t open_fd_count(pid_t pid)
{
    std::error_code ec;
    const fs::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd", ec);
    return ec ? 0 : static_cast<std::size_t>(std::distance(fds, fs::directory_iterator()));
}

// A raw control connection, for a client that misbehaves on purpose.
class RawClient {
public:
    explicit RawClient(const fs::path& socket)
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket.c_str());
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    ~RawClient() { close(); }
    void send(const std::string& text) { REQUIRE(::write(fd_, text.data(), text.size()) > 0); }
    // Reads what arrives until `needle` shows up or `limit` passes.
    std::string read_until(const std::string& needle, std::chrono::milliseconds limit)
    {
        std::string got;
        char buffer[65536];
        wait_until(
            [&] {
                ssize_t n;
                while ((n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT)) > 0) {
                    got.append(buffer, static_cast<std::size_t>(n));
                }
                return got.find(needle) != std::string::npos || n == 0;
            },
            limit);
        return got;
    }
    void close()
    {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

// Unmounts (lazily, so a daemon still holding a file does not keep it busy) on every exit.
struct MountGuard {
    fs::path dir;
    bool mounted = false;
    ~MountGuard()
    {
        if (mounted) {
            ::umount2(dir.c_str(), MNT_DETACH);
        }
    }
};

}  // namespace

TEST_SUITE("logs")
{
    TEST_CASE("200,000 lines written at full speed with 1MB rotation are all kept once and whole" *
              doctest::timeout(120))
    {
        Fixture f;
        f.write_config("[services.burst]\n" + writer_command("--count 200000") +
                       "restart = \"never\"\nstdout = \"burst.log\"\n"
                       "log_max_size = \"1MB\"\nlog_backups = 50\n");
        f.start_daemon();
        const std::uintmax_t expected = 200000 * (seq_line(1).size() + 1);
        const auto log = f.path("burst.log");
        INFO("daemon log: ", read_file(f.log_path()));
        REQUIRE(wait_until([&] { return total_size(generations(log)) >= expected; }, 60s));

        const auto files = generations(log);
        CHECK(files.size() >= 9);
        for (const auto& file : files) {
            CHECK(fs::file_size(file) <= 1'000'000);
        }
        const SeqScan seen = scan(concatenated(files));
        CHECK(seen.damaged.empty());
        check_consecutive(seen.numbers, 1, 200000);
    }

    // The readers of all pipes share one buffer: each read must reach its own service's
    // file before the next read, whichever pipe it comes from.
    TEST_CASE("three writers at full speed at once each get every line in their own file" *
              doctest::timeout(120))
    {
        Fixture f;
        std::string config;
        for (const char* name : {"one", "two", "three"}) {
            config += std::string("[services.") + name + "]\n" +
                      writer_command(std::string("--count 100000") +
                                     (std::string(name) == "two" ? " --stderr" : "")) +
                      "restart = \"never\"\nstdout = \"" + name + ".log\"\n"
                      "stderr = \"stdout\"\nlog_max_size = \"1MB\"\nlog_backups = 20\n";
        }
        f.write_config(config);
        f.start_daemon();
        const std::uintmax_t expected = 100000 * (seq_line(1).size() + 1);
        INFO("daemon log: ", read_file(f.log_path()));
        for (const char* name : {"one", "two", "three"}) {
            CAPTURE(name);
            const auto log = f.path(std::string(name) + ".log");
            REQUIRE(wait_until([&] { return total_size(generations(log)) >= expected; }, 60s));
            const SeqScan seen = scan(concatenated(generations(log)));
            CHECK(seen.damaged.empty());
            check_consecutive(seen.numbers, 1, 100000);
        }
    }

    TEST_CASE(
        "lines written while the log is renamed and reopened land once in the old or new "
        "file" *
        doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.tick]\n" + writer_command("--count 20000 --rate 5000") +
                       "restart = \"never\"\nstdout = \"tick.log\"\n");
        f.start_daemon();
        const auto log = f.path("tick.log");
        const auto old = f.path("tick.log.old");
        REQUIRE(wait_until([&] { return line_count(log) >= 2000; }));

        fs::rename(log, old);
        SUBCASE("by SIGHUP")
        {
            REQUIRE(::kill(*f.daemon_pid(), SIGHUP) == 0);
        }
        SUBCASE("by procsup reopen-logs")
        {
            CHECK(f.cli({"reopen-logs"}).exit_code == 0);
        }
        const std::uintmax_t expected = 20000 * (seq_line(1).size() + 1);
        REQUIRE(wait_until([&] { return total_size({old, log}) >= expected; }, 30s));

        CHECK(line_count(log) > 0);
        const SeqScan seen = scan(read_file(old) + read_file(log));
        CHECK(seen.damaged.empty());
        check_consecutive(seen.numbers, 1, 20000);
        CHECK(count_of(read_file(f.log_path()), "reopened log files") == 1);
    }

    TEST_CASE("the shipped logrotate snippet rotates under a running writer" * doctest::timeout(90))
    {
        Fixture f;
        f.write_config("[services.tick]\n" + writer_command("--count 20000 --rate 4000") +
                       "restart = \"never\"\nstdout = \"tick.log\"\nlog_max_size = 0\n");
        std::string snippet =
            read_file(fs::path(PROCSUP_SOURCE_DIR) / "packaging/logrotate/procsup");
        REQUIRE(!snippet.empty());
        const auto replace = [&](const std::string& from, const std::string& to) {
            const std::size_t pos = snippet.find(from);
            REQUIRE(pos != std::string::npos);
            snippet.replace(pos, from.size(), to);
        };
        replace("/var/log/procsup/*.log", (f.dir() / "*.log").string());
        replace("procsup reopen-logs",
                procsup_binary().string() + " -s " + f.socket_path().string() + " reopen-logs");
        bool copytruncate = false;
        SUBCASE("create mode with the postrotate reopen") {}
        SUBCASE("copytruncate mode")
        {
            copytruncate = true;
            replace("{\n", "{\n    copytruncate\n");
        }
        write_file(f.path("logrotate.conf"), snippet);

        f.start_daemon();
        const auto log = f.path("tick.log");
        REQUIRE(wait_until([&] { return line_count(log) >= 3000; }));
        const CommandResult rotated =
            run_command({"/usr/sbin/logrotate", "-f", "-s", f.path("logrotate.state").string(),
                         f.path("logrotate.conf").string()});
        INFO("logrotate: ", rotated.out, rotated.err);
        REQUIRE(rotated.exit_code == 0);

        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(f.dir())) {
            if (entry.path().filename().string().starts_with("tick.log-")) {
                files.push_back(entry.path());
            }
        }
        REQUIRE(files.size() == 1);
        files.push_back(log);
        REQUIRE(wait_until(
            [&] { return line_count(log) > 0 && scan(read_file(log)).numbers.back() == 20000; },
            30s));

        const std::string text = concatenated(files);
        CHECK(text.find('\0') == std::string::npos);
        const SeqScan seen = scan(text);
        CHECK(seen.damaged.empty());
        if (!copytruncate) {
            check_consecutive(seen.numbers, 1, 20000);
        } else {
            // Lines written between logrotate's copy and its truncation are lost: logrotate's
            // documented race. Everything else is there once, in order, and whole.
            CHECK(std::is_sorted(seen.numbers.begin(), seen.numbers.end()));
            CHECK(std::adjacent_find(seen.numbers.begin(), seen.numbers.end()) ==
                  seen.numbers.end());
            MESSAGE("copytruncate lost ", 20000 - seen.numbers.size(), " lines to its race");
        }
        if (!copytruncate) {
            // The daemon's own log sits in the same folder and was rotated too: reopened.
            CHECK(read_file(f.log_path()).find("reopened log files") != std::string::npos);
        }
    }

    TEST_CASE(
        "two inherit services writing long lines at once never interleave in the daemon's "
        "stdout" *
        doctest::timeout(60))
    {
        Fixture f;
        const std::string service_args = "--count 300 --width 20000";
        f.write_config("[services.a]\n" + writer_command(service_args) +
                       "restart = \"never\"\nstdout = \"inherit\"\n\n[services.longer-b]\n" +
                       writer_command(service_args) +
                       "restart = \"never\"\nstdout = \"inherit\"\n");
        const auto out = f.path("daemon.out");
        const pid_t daemon =
            spawn_to_files({procsup_binary().string(), "daemon", "-c", f.config_path().string(),
                            "--pidfile", f.pidfile_path().string()},
                           out, f.path("daemon.err"));
        const bool done = wait_until([&] { return line_count(out) >= 600; }, 30s);
        const std::string text = read_file(out);
        f.cleanup();
        reap(daemon);
        REQUIRE(done);

        std::map<std::string, std::vector<long>> by_service;
        for (const std::string& line : split_lines(text)) {
            const std::size_t bar = line.find(" | ");
            REQUIRE(bar != std::string::npos);
            const std::string prefix = line.substr(0, bar);
            CHECK((prefix == "a       " || prefix == "longer-b"));
            const SeqScan seen = scan(line.substr(bar + 3) + "\n", 20000);
            REQUIRE(seen.damaged.empty());
            by_service[prefix].push_back(seen.numbers.front());
        }
        for (const auto& [prefix, numbers] : by_service) {
            check_consecutive(numbers, 1, 300);
        }
        CHECK(by_service.size() == 2);
    }

    TEST_CASE("a full disk is reported once, the service keeps running and output resumes" *
              doctest::timeout(90))
    {
        Fixture f;
        MountGuard mount{f.path("small"), false};
        fs::create_directory(mount.dir);
        if (::mount("tmpfs", mount.dir.c_str(), "tmpfs", 0, "size=256k") != 0) {
            MESSAGE("skipped: cannot mount a tmpfs here (", std::strerror(errno), ")");
            return;
        }
        mount.mounted = true;
        write_file(mount.dir / "filler", std::string(160 * 1024, 'f'));
        const auto heartbeat = f.path("hb");
        f.write_config(
            "[services.tick]\n" + writer_command("--rate 3000 --heartbeat " + heartbeat.string()) +
            "stdout = \"" + (mount.dir / "tick.log").string() + "\"\nlog_max_size = 0\n");
        f.start_daemon();
        const auto pid = f.pid_of("tick");
        const auto beat = [&] { return std::atol(read_file(heartbeat).c_str()); };
        const auto warnings = [&] { return count_of(read_file(f.log_path()), "cannot write log"); };
        REQUIRE(wait_until([&] { return warnings() >= 1; }, 30s));

        // Several seconds of output into the full disk: retries, but no second warning.
        const long at_full = beat();
        REQUIRE(wait_until([&] { return beat() > at_full + 9000; }, 30s));
        CHECK(warnings() == 1);
        CHECK(f.state_of("tick") == "running");
        CHECK(f.pid_of("tick") == pid);

        fs::remove(mount.dir / "filler");
        const long at_free = beat();
        REQUIRE(wait_until(
            [&] {
                const SeqScan seen = scan(read_file(mount.dir / "tick.log"));
                return !seen.numbers.empty() && seen.numbers.back() > at_free;
            },
            30s));
        const std::string text = read_file(mount.dir / "tick.log");
        CHECK(text.find('\0') == std::string::npos);
        CHECK(scan(text).damaged.empty());
        CHECK(read_file(f.log_path()).find("writing log") != std::string::npos);
        CHECK(warnings() == 1);
        CHECK(f.pid_of("tick") == pid);
    }

    TEST_CASE("logs -n and logs -f show every line across size rotations" * doctest::timeout(60))
    {
        Fixture f;
        f.write_config("[services.tick]\n" + writer_command("--rate 2000") +
                       "stdout = \"tick.log\"\nlog_max_size = \"16KB\"\nlog_backups = 5\n");
        f.start_daemon();
        const auto log = f.path("tick.log");
        REQUIRE(wait_until([&] { return fs::exists(f.path("tick.log.2")); }));

        const auto follow_out = f.path("follow.out");
        const pid_t follower =
            spawn_to_files({procsup_binary().string(), "-s", f.socket_path().string(), "logs", "-f",
                            "-n", "5", "tick"},
                           follow_out, f.path("follow.err"));

        // More lines than one file holds (16 KB / 48 bytes is 333): -n reads the backup too.
        const CommandResult last = f.cli({"logs", "-n", "500", "tick"});
        CHECK(last.exit_code == 0);
        const SeqScan tail = scan(last.out);
        CHECK(tail.damaged.empty());
        REQUIRE(tail.numbers.size() == 500);
        check_consecutive(tail.numbers, tail.numbers.front(), tail.numbers.front() + 499);

        // Several rotations while following.
        REQUIRE(wait_until([&] { return line_count(follow_out) >= 3000; }, 30s));
        ::kill(follower, SIGINT);
        CHECK(reap(follower) == 0);
        const SeqScan followed = scan(read_file(follow_out));
        CHECK(followed.damaged.empty());
        check_consecutive(followed.numbers, followed.numbers.front(), followed.numbers.back());
        CHECK(read_file(log).size() > 0);
    }

    // Each stalled follower used to cost the daemon about 10 MiB (a string per queued line,
    // plus a whole queue's worth in the message being sent), kept after it left.
    TEST_CASE("stalled followers cost a bounded few MiB each, given back when they leave" *
              doctest::timeout(90))
    {
        Fixture f;
        f.write_config("[services.flood]\ncommand = [\"yes\", \"" + std::string(61, 'a') +
                       "\"]\nstdout = \"flood.log\"\nlog_max_size = \"4MB\"\n"
                       "log_backups = 1\n");
        f.start_daemon();
        const pid_t daemon = *f.daemon_pid();
        const auto rss_kib = [&] {
            std::istringstream status(read_file("/proc/" + std::to_string(daemon) + "/status"));
            for (std::string line; std::getline(status, line);) {
                if (line.rfind("VmRSS:", 0) == 0) {
                    return std::stol(line.substr(6));
                }
            }
            return 0L;
        };
        REQUIRE(wait_until([&] { return total_size({f.path("flood.log")}) > 1'000'000; }));
        const long before = rss_kib();
        constexpr int followers = 10;
        {
            std::vector<std::unique_ptr<RawClient>> slow;
            for (int i = 0; i < followers; ++i) {
                slow.push_back(std::make_unique<RawClient>(f.socket_path()));
                slow.back()->send(R"({"version":1,"command":"logs","services":["flood"],)"
                                  R"("lines":0,"follow":true})"
                                  "\n");
            }
            // Long enough for every queue to fill to its limit many times over.
            long peak = 0;
            wait_until([&] { peak = std::max(peak, rss_kib()); return false; }, 3s);
            INFO("RSS before ", before, " KiB, with ", followers, " followers ", peak, " KiB");
            CHECK(peak - before < followers * 5 * 1024);
        }
        CHECK(wait_until([&] { return rss_kib() - before < 8 * 1024; }, 10s));
        CHECK(f.cli({"status", "flood"}).exit_code == 0);
    }

    TEST_CASE("a follower that does not read loses lines behind a marker and stalls nobody" *
              doctest::timeout(90))
    {
        Fixture f;
        f.write_config("[services.burst]\n" + writer_command("--count 300000") +
                       "restart = \"never\"\nautostart = false\nstdout = \"burst.log\"\n"
                       "log_max_size = 0\n");
        f.start_daemon();
        const pid_t daemon = *f.daemon_pid();
        const std::size_t fds_before = open_fd_count(daemon);

        RawClient slow(f.socket_path());
        slow.send(R"({"version":1,"command":"logs","services":["burst"],"lines":0,)"
                  R"("follow":true})"
                  "\n");
        REQUIRE(slow.read_until("\n", 5s).find(R"("ok":true)") != std::string::npos);
        CHECK(f.cli({"start", "burst"}).exit_code == 0);
        const std::uintmax_t expected = 300000 * (seq_line(1).size() + 1);
        REQUIRE(wait_until([&] { return total_size({f.path("burst.log")}) >= expected; }, 60s));

        // The daemon answers others and wrote everything to the file meanwhile.
        const auto started = std::chrono::steady_clock::now();
        CHECK(f.cli({"status"}, 5s).exit_code == 0);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
        CHECK(scan(read_file(f.path("burst.log"))).numbers.size() == 300000);

        const std::string streamed = slow.read_until("dropped here", 20s);
        CHECK(streamed.find("lines dropped here: this reader was too slow") != std::string::npos);
        slow.close();
        CHECK(wait_until([&] { return open_fd_count(daemon) <= fds_before; }));
    }

    TEST_CASE("a crash-looping service logs its exits and starts, not its output" *
              doctest::timeout(30))
    {
        Fixture f;
        f.write_config(
            "[services.crash]\ncommand = [\"sh\", \"-c\", \"echo boom; echo boom >&2; "
            "exit 3\"]\nbackoff = \"100ms\"\nbackoff_max = \"100ms\"\n"
            "start_retries = 4\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("crash") == "fatal"; }));
        const std::string log = read_file(f.log_path());
        INFO("daemon log: ", log);
        // Five attempts: one line for each start and one for each exit, no more.
        std::size_t lines = 0;
        for (const std::string& line : split_lines(log)) {
            lines += line.find("'crash'") != std::string::npos &&
                     line.find("debug:") == std::string::npos;
        }
        CHECK(lines == 10);
        CHECK(log.find("boom") == std::string::npos);
    }

    TEST_CASE("logs refuses an unknown service and reads inherit services from memory" *
              doctest::timeout(30))
    {
        Fixture f;
        f.write_config(
            "[services.quiet]\ncommand = [\"sh\", \"-c\", \"echo one; echo two >&2; "
            "exec sleep 60\"]\nstdout = \"inherit\"\nstderr = \"inherit\"\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.cli({"logs", "--stderr", "quiet"}).out == "two\n"; }));
        CHECK(f.cli({"logs", "quiet"}).out == "one\n");
        CHECK(f.cli({"logs", "nosuch"}).exit_code == 4);
    }

    TEST_CASE("a line longer than 64 KiB is cut into pieces that end with a marker" *
              doctest::timeout(30))
    {
        Fixture f;
        f.write_config("[services.long]\ncommand = [\"" + python +
                       "\", \"-c\", \"print('y' * 204800); print('end')\"]\n"
                       "restart = \"never\"\nstdout = \"long.log\"\n");
        f.start_daemon();
        const auto log = f.path("long.log");
        REQUIRE(wait_until([&] { return read_file(log).ends_with("end\n"); }));
        const std::string piece = std::string(65536, 'y') + " [procsup: line continues]\n";
        CHECK(read_file(log) == piece + piece + piece + std::string(8192, 'y') + "\nend\n");
    }
}

}  // namespace procsup::test
