#include "procsup/pid_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

namespace procsup {

namespace fs = std::filesystem;

namespace {

using WallTime = std::chrono::system_clock::time_point;

// A process counts as started after the file was written only with this margin, because
// /proc/stat's btime has whole-second resolution and drifts with clock adjustments.
constexpr auto start_time_tolerance = std::chrono::seconds(1);

std::error_code last_error()
{
    return {errno, std::generic_category()};
}

std::string quoted(const fs::path& path)
{
    // Appends instead of "'" + s + "'": GCC 12 at -O3 reports a false -Wrestrict on that
    // (GCC bug 105651).
    std::string text = "'";
    text += path.string();
    text += '\'';
    return text;
}

// Accepts "PID" with an optional trailing newline, as written by write_pid_file() and
// by most daemons.
std::optional<pid_t> parse_pid(std::string_view text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.remove_suffix(1);
    }
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value <= 0 ||
        value > std::numeric_limits<pid_t>::max()) {
        return std::nullopt;
    }
    return static_cast<pid_t>(value);
}

// The PID in an open PID file, read from the start whatever the file offset is.
std::optional<pid_t> read_pid(int fd)
{
    char buffer[32];
    ssize_t n = pread(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
        return std::nullopt;
    }
    return parse_pid(std::string_view(buffer, static_cast<std::size_t>(n)));
}

std::optional<pid_t> read_pid(const fs::path& path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    auto pid = read_pid(fd);
    close(fd);
    return pid;
}

std::error_code write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return last_error();
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

fs::path temp_path_for(const fs::path& path)
{
    return path.string() + ".tmp." + std::to_string(getpid());
}

// Creates the temp file holding "PID\n" and returns its descriptor. A temp file of the same
// name can only be left over from a crashed earlier process with our PID (a container's
// PID 1 every time), so it is replaced.
std::error_code create_temp_file(const fs::path& temp, pid_t pid, int& fd)
{
    const int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
    fd = open(temp.c_str(), flags, 0644);
    if (fd < 0 && errno == EEXIST && unlink(temp.c_str()) == 0) {
        fd = open(temp.c_str(), flags, 0644);
    }
    if (fd < 0) {
        return last_error();
    }
    if (auto ec = write_all(fd, std::to_string(pid) + "\n")) {
        close(fd);
        unlink(temp.c_str());
        fd = -1;
        return ec;
    }
    return {};
}

WallTime to_wall_time(const timespec& ts)
{
    auto since_epoch = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    return WallTime(std::chrono::duration_cast<WallTime::duration>(since_epoch));
}

// Fields of /proc/PID/stat after the command name: state (field 3) and start time (22).
struct ProcStat {
    char state = '?';
    unsigned long long start_ticks = 0;
};

std::optional<ProcStat> read_proc_stat(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) {
        return std::nullopt;
    }
    // The command name may contain spaces and parentheses; it ends at the last ')'.
    auto name_end = line.rfind(')');
    if (name_end == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(line.substr(name_end + 1));
    ProcStat stat;
    std::string skipped;
    fields >> stat.state;
    for (int field = 4; field < 22; ++field) {
        fields >> skipped;
    }
    if (!(fields >> stat.start_ticks)) {
        return std::nullopt;
    }
    return stat;
}

std::optional<long long> boot_time_seconds()
{
    std::ifstream in("/proc/stat");
    std::string key;
    long long value = 0;
    while (in >> key) {
        if (key == "btime" && in >> value) {
            return value;
        }
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return std::nullopt;
}

std::optional<WallTime> process_start_time(unsigned long long start_ticks)
{
    auto boot = boot_time_seconds();
    long ticks_per_second = sysconf(_SC_CLK_TCK);
    if (!boot || ticks_per_second <= 0) {
        return std::nullopt;
    }
    auto since_boot = std::chrono::duration<double>(static_cast<double>(start_ticks) /
                                                    static_cast<double>(ticks_per_second));
    return WallTime(std::chrono::seconds(*boot)) +
           std::chrono::duration_cast<WallTime::duration>(since_boot);
}

bool is_running(pid_t pid)
{
    // EPERM: the process exists but belongs to another user.
    return kill(pid, 0) == 0 || errno == EPERM;
}

// What `pid` is now, given that the PID file naming it was last written at `written`.
PidFileState::Kind classify(pid_t pid, WallTime written)
{
    if (!is_running(pid)) {
        return PidFileState::Kind::dead;
    }
    auto stat = read_proc_stat(pid);
    if (!stat) {
        // Gone between the two checks, or /proc is not mounted: trust kill().
        return is_running(pid) ? PidFileState::Kind::live : PidFileState::Kind::dead;
    }
    if (stat->state == 'Z' || stat->state == 'X') {
        return PidFileState::Kind::dead;
    }
    auto started = process_start_time(stat->start_ticks);
    if (started && *started > written + start_time_tolerance) {
        return PidFileState::Kind::reused;
    }
    return PidFileState::Kind::live;
}

PidFileState inspect_open_file(int fd)
{
    struct stat st {};
    if (fstat(fd, &st) < 0) {
        return {PidFileState::Kind::invalid, std::nullopt};
    }
    auto pid = read_pid(fd);
    if (!pid) {
        return {PidFileState::Kind::invalid, std::nullopt};
    }
    return {classify(*pid, to_wall_time(st.st_mtim)), pid};
}

bool is_same_file(int fd, const fs::path& path)
{
    struct stat opened {};
    struct stat current {};
    return fstat(fd, &opened) == 0 && stat(path.c_str(), &current) == 0 &&
           opened.st_dev == current.st_dev && opened.st_ino == current.st_ino;
}

std::string locked_message(const fs::path& path, int fd)
{
    if (auto pid = read_pid(fd)) {
        return "procsup is already running as PID " + std::to_string(*pid) + " (PID file " +
               quoted(path) + " is locked)";
    }
    return "another procsup holds the lock on PID file " + quoted(path);
}

// Opens `path` and takes its lock. Retries when another daemon renamed a new file over the
// path between our open() and flock(), since then we would hold the lock of a dead inode.
int open_locked(const fs::path& path, std::string& error)
{
    for (int attempt = 0; attempt < 5; ++attempt) {
        int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            error = "cannot open PID file " + quoted(path) + ": " + last_error().message();
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            error = errno == EWOULDBLOCK
                        ? locked_message(path, fd)
                        : "cannot lock PID file " + quoted(path) + ": " + last_error().message();
            close(fd);
            return -1;
        }
        if (is_same_file(fd, path)) {
            return fd;
        }
        close(fd);
    }
    error = "PID file " + quoted(path) + " keeps being replaced; is another procsup starting?";
    return -1;
}

// The warning for replacing what an unlocked PID file held before, or "" if it was empty.
std::string stale_warning(const fs::path& path, int fd)
{
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size == 0) {
        return {};
    }
    auto state = inspect_open_file(fd);
    if (!state.pid) {
        return "replacing invalid PID file " + quoted(path);
    }
    std::string head = "replacing stale PID file " + quoted(path) + " (PID ";
    std::string pid = std::to_string(*state.pid);
    if (*state.pid == getpid()) {
        return head + pid + " is this process; the file is left from an earlier run)";
    }
    switch (state.kind) {
        case PidFileState::Kind::dead:
            return head + pid + " is not running)";
        case PidFileState::Kind::reused:
            return head + pid + " belongs to another program)";
        default:
            return head + pid + " is running but does not hold the lock)";
    }
}

}  // namespace

std::error_code write_pid_file(const fs::path& path, pid_t pid)
{
    const fs::path temp = temp_path_for(path);
    int fd = -1;
    if (auto ec = create_temp_file(temp, pid, fd)) {
        return ec;
    }
    close(fd);
    if (rename(temp.c_str(), path.c_str()) < 0) {
        auto ec = last_error();
        unlink(temp.c_str());
        return ec;
    }
    return {};
}

void remove_pid_file(const fs::path& path, pid_t pid)
{
    // Not atomic with the unlink, but a writer that races us here rewrites the file anyway.
    if (read_pid(path) == pid) {
        unlink(path.c_str());
    }
}

PidFileState inspect_pid_file(const fs::path& path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        auto kind = errno == ENOENT ? PidFileState::Kind::absent : PidFileState::Kind::invalid;
        return {kind, std::nullopt};
    }
    auto state = inspect_open_file(fd);
    close(fd);
    return state;
}

std::optional<unsigned long long> process_start_ticks(pid_t pid)
{
    auto stat = read_proc_stat(pid);
    if (!stat) {
        return std::nullopt;
    }
    return stat->start_ticks;
}

DaemonPidFile::DaemonPidFile(DaemonPidFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1))
{
}

DaemonPidFile& DaemonPidFile::operator=(DaemonPidFile&& other) noexcept
{
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

DaemonPidFile::~DaemonPidFile()
{
    release();
}

bool DaemonPidFile::acquire(const fs::path& path, std::string& error, std::string& warning)
{
    release();
    error.clear();
    warning.clear();
    int locked_fd = open_locked(path, error);
    if (locked_fd < 0) {
        return false;
    }
    warning = stale_warning(path, locked_fd);

    // The new file is locked before it replaces the old one, so the lock never lapses.
    const fs::path temp = temp_path_for(path);
    int fd = -1;
    std::error_code ec = create_temp_file(temp, getpid(), fd);
    if (!ec && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ec = last_error();
    }
    if (!ec && rename(temp.c_str(), path.c_str()) < 0) {
        ec = last_error();
    }
    close(locked_fd);
    if (ec) {
        if (fd >= 0) {
            close(fd);
            unlink(temp.c_str());
        }
        error = "cannot write PID file " + quoted(path) + ": " + ec.message();
        return false;
    }
    path_ = path;
    fd_ = fd;
    return true;
}

void DaemonPidFile::release()
{
    if (fd_ < 0) {
        return;
    }
    remove_pid_file(path_, getpid());
    close(fd_);
    fd_ = -1;
}

}  // namespace procsup
