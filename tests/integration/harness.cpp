#include "harness.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace procsup::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path procsup_binary()
{
    return PROCSUP_BINARY;
}

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to)
{
    for (std::size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
        text.replace(pos, from.size(), to);
    }
}

void drain(int& fd, std::string& into)
{
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
        into.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fd);
        fd = -1;
    }
}

// argv and environment as execvpe wants them; the strings live as long as this object.
struct ExecArgs {
    ExecArgs(const std::vector<std::string>& args, const std::vector<std::string>& extra_env)
        : argv_strings(args)
    {
        for (char** e = environ; *e; ++e) {
            env_strings.emplace_back(*e);
        }
        env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
        for (auto& a : argv_strings) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        for (auto& e : env_strings) {
            env.push_back(e.data());
        }
        env.push_back(nullptr);
    }

    // In the child: stdin from /dev/null, then exec; 127 when exec fails.
    [[noreturn]] void exec(int out_fd, int err_fd)
    {
        const int null_fd = ::open("/dev/null", O_RDONLY);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execvpe(argv[0], argv.data(), env.data());
        _exit(127);
    }

    std::vector<std::string> argv_strings;
    std::vector<std::string> env_strings;
    std::vector<char*> argv;
    std::vector<char*> env;
};

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env)
{
    int out[2];
    int err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    ExecArgs exec_args(argv, extra_env);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        exec_args.exec(out[1], err[1]);
    }
    ::close(out[1]);
    ::close(err[1]);

    CommandResult result;
    const auto deadline = Clock::now() + timeout;
    int fds[2] = {out[0], err[0]};
    while (fds[0] >= 0 || fds[1] >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                  Clock::now());
        if (left <= 0ms) {
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (::poll(p, 2, static_cast<int>(left.count())) <= 0) {
            continue;
        }
        if (fds[0] >= 0 && p[0].revents) {
            drain(fds[0], result.out);
        }
        if (fds[1] >= 0 && p[1].revents) {
            drain(fds[1], result.err);
        }
    }
    for (int fd : fds) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (Clock::now() >= deadline) {
        result.exit_code = -1;
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    } else {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

pid_t spawn_background(const std::vector<std::string>& argv, const fs::path& out,
                       const fs::path& err, const std::vector<std::string>& extra_env)
{
    ExecArgs exec_args(argv, extra_env);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        exec_args.exec(out_fd, err_fd);
    }
    return pid;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds limit)
{
    const auto deadline = Clock::now() + limit;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        }
        if (r < 0 || Clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(5ms);
    }
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit)
{
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

int free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t len = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    ::close(fd);
    return ntohs(address.sin_port);
}

bool process_alive(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content;
    if (!std::getline(stat, content)) {
        return false;
    }
    const std::size_t paren = content.rfind(')');
    return paren != std::string::npos && paren + 2 < content.size() &&
           content[paren + 2] != 'Z' && content[paren + 2] != 'X';
}

std::optional<pid_t> read_pid(const fs::path& file)
{
    std::ifstream in(file);
    long pid = 0;
    if (in >> pid && pid > 0) {
        return static_cast<pid_t>(pid);
    }
    return std::nullopt;
}

std::string read_file(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void write_file(const fs::path& file, const std::string& text)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
}

std::vector<pid_t> processes_with_token(const std::string& token)
{
    const std::string needle = "PROCSUP_TEST_TOKEN=" + token;
    std::vector<pid_t> result;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const pid_t pid = std::stoi(name);
        if (pid == ::getpid() || !process_alive(pid)) {
            continue;
        }
        const std::string env = read_file(entry.path() / "environ");
        std::size_t start = 0;
        while (start < env.size()) {
            const std::size_t end = env.find('\0', start);
            if (env.compare(start, end - start, needle) == 0) {
                result.push_back(pid);
                break;
            }
            if (end == std::string::npos) {
                break;
            }
            start = end + 1;
        }
    }
    return result;
}

std::vector<pid_t> zombie_children(pid_t parent)
{
    std::vector<pid_t> result;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string stat = read_file(entry.path() / "stat");
        const std::size_t paren = stat.rfind(')');
        if (paren == std::string::npos) {
            continue;
        }
        std::istringstream fields(stat.substr(paren + 2));
        char state = 0;
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (state == 'Z' && ppid == parent) {
            result.push_back(std::stoi(name));
        }
    }
    return result;
}

Fixture::Fixture()
{
    std::random_device rd;
    token_ = "t" + std::to_string(::getpid()) + "x" + std::to_string(rd() % 1000000);
    std::string templ = (fs::temp_directory_path() / "procsup-test-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
    fs::permissions(dir_, fs::perms(0755));
}

Fixture::~Fixture()
{
    cleanup();
}

void Fixture::write_config(const std::string& services)
{
    std::string text = "[supervisor]\nsocket = \"" + socket_path().string() + "\"\nlog = \"" +
                       log_path().string() + "\"\nlog_level = \"debug\"\nlog_dir = \"" +
                       dir_.string() + "\"\n\n" + services;
    replace_all(text, "@DIR@", dir_.string());
    replace_all(text, "@TOKEN@", token_);
    write_file(config_path(), text);
}

CommandResult Fixture::start_daemon()
{
    CommandResult r = run_command({procsup_binary().string(), "daemon", "-c",
                                   config_path().string(), "--detach", "--pidfile",
                                   pidfile_path().string()},
                                  20s, {"PROCSUP_TEST_TOKEN=" + token_});
    INFO("daemon stderr: ", r.err, " log: ", read_file(log_path()));
    REQUIRE(r.exit_code == 0);
    return r;
}

pid_t Fixture::start_foreground_daemon(const std::vector<std::string>& extra_args,
                                       const std::vector<std::string>& extra_env)
{
    std::vector<std::string> argv{procsup_binary().string(), "daemon", "-c",
                                  config_path().string()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    return start_background(argv, extra_env);
}

pid_t Fixture::start_background(const std::vector<std::string>& argv,
                                const std::vector<std::string>& extra_env)
{
    std::vector<std::string> env{"PROCSUP_TEST_TOKEN=" + token_};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    const pid_t pid = spawn_background(argv, path("daemon.out"), path("daemon.err"), env);
    children_.push_back(pid);
    return pid;
}

std::optional<int> Fixture::wait_exit_of(pid_t pid, std::chrono::milliseconds limit)
{
    const auto code = wait_exit(pid, limit);
    if (code) {
        std::erase(children_, pid);  // Reaped: its PID is no longer ours to signal.
    }
    return code;
}

CommandResult Fixture::cli(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout)
{
    std::vector<std::string> argv{procsup_binary().string(), "-s", socket_path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
}

boost::json::value Fixture::status_of(const std::string& service)
{
    const CommandResult r = cli({"status", "--json"});
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(r.out, ec);
    if (ec || !doc.is_object()) {
        return nullptr;
    }
    for (const auto& s : doc.at("services").as_array()) {
        if (s.at("name").as_string() == service) {
            return s;
        }
    }
    return nullptr;
}

std::string Fixture::state_of(const std::string& service)
{
    const boost::json::value s = status_of(service);
    return s.is_object() ? std::string(s.at("state").as_string()) : std::string();
}

std::optional<pid_t> Fixture::pid_of(const std::string& service)
{
    const boost::json::value s = status_of(service);
    if (!s.is_object() || !s.at("pid").is_int64()) {
        return std::nullopt;
    }
    return static_cast<pid_t>(s.at("pid").as_int64());
}

void Fixture::cleanup()
{
    if (cleaned_) {
        return;
    }
    cleaned_ = true;
    const auto daemon = daemon_pid();
    if (fs::exists(socket_path())) {
        run_command({procsup_binary().string(), "-s", socket_path().string(), "shutdown"}, 15s);
    }
    if (daemon && process_alive(*daemon)) {
        ::kill(*daemon, SIGKILL);
    }
    for (pid_t pid : processes_with_token(token_)) {
        ::kill(pid, SIGKILL);
    }
    for (pid_t pid : children_) {
        ::kill(pid, SIGKILL);  // Ours: a foreground daemon not yet collected.
        ::waitpid(pid, nullptr, 0);
    }
    if (std::getenv("PROCSUP_KEEP_TEST_DIR") == nullptr) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

}  // namespace procsup::test
