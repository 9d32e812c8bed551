// Small helpers for the tests of the OS adapters (spawner, PID files, rotating files): temp
// directories, pipes, and waiting for a child with a deadline instead of sleeping.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace procsup::test {

namespace fs = std::filesystem;

// Generous, since the machine is shared; a passing test never waits this long.
constexpr std::chrono::milliseconds default_timeout{5000};

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
public:
    TempDir()
    {
        std::string pattern = "/tmp/procsup-test-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }

    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

// A CLOEXEC pipe whose ends close on destruction.
struct Pipe {
    int read_fd = -1;
    int write_fd = -1;

    Pipe()
    {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            throw std::runtime_error("pipe2 failed");
        }
        read_fd = fds[0];
        write_fd = fds[1];
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe()
    {
        close_read();
        close_write();
    }

    void close_read()
    {
        if (read_fd >= 0) {
            ::close(read_fd);
            read_fd = -1;
        }
    }
    void close_write()
    {
        if (write_fd >= 0) {
            ::close(write_fd);
            write_fd = -1;
        }
    }
};

inline int remaining_ms(std::chrono::steady_clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `pid` to exit (through a pidfd, so without sleeping) and reaps it.
// Returns the wait status, or nullopt when the deadline passed first.
inline std::optional<int> wait_for_exit(pid_t pid,
                                        std::chrono::milliseconds timeout = default_timeout)
{
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd entry{pidfd, POLLIN, 0};
        while (poll(&entry, 1, static_cast<int>(timeout.count())) < 0 && errno == EINTR) {
        }
        ::close(pidfd);
    }
    int status = 0;
    pid_t reaped = waitpid(pid, &status, WNOHANG);
    if (reaped == pid) {
        return status;
    }
    return std::nullopt;
}

// Owns a child PID: kills and reaps it on destruction unless it was reaped already.
class ChildGuard {
public:
    explicit ChildGuard(pid_t pid = -1) : pid_(pid) {}
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    ~ChildGuard() { kill_and_reap(); }

    pid_t pid() const { return pid_; }

    std::optional<int> wait(std::chrono::milliseconds timeout = default_timeout)
    {
        auto status = wait_for_exit(pid_, timeout);
        if (status) {
            pid_ = -1;
        }
        return status;
    }

    void kill_and_reap()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            wait_for_exit(pid_);
            pid_ = -1;
        }
    }

private:
    pid_t pid_;
};

// Reads `fd` until EOF or the deadline.
inline std::string read_until_eof(int fd, std::chrono::milliseconds timeout = default_timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string data;
    char buffer[4096];
    while (true) {
        pollfd entry{fd, POLLIN, 0};
        int ready = poll(&entry, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return data;
        }
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return data;
        }
        data.append(buffer, static_cast<std::size_t>(n));
    }
}

inline std::string read_file(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const fs::path& path, std::string_view content)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

// The value of a "Key:\tvalue" line of /proc/PID/status.
inline std::string proc_status_field(pid_t pid, const std::string& key)
{
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key + ":")) {
            auto value = line.substr(key.size() + 1);
            return value.substr(value.find_first_not_of(" \t"));
        }
    }
    return {};
}

}  // namespace procsup::test
