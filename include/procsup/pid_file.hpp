// PID files: the daemon's own (locked, so a second daemon refuses to start) and the ones
// kept for each service. Every write is atomic (temp file + rename), so a reader never sees
// a half-written file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace procsup {

// Writes "PID\n" to `path` through a temp file in the same directory and rename(2).
std::error_code write_pid_file(const std::filesystem::path& path, pid_t pid);

// Removes `path` only if it still names `pid`, so a file another daemon rewrote is kept.
void remove_pid_file(const std::filesystem::path& path, pid_t pid);

// What an existing PID file says about the process it names.
struct PidFileState {
    enum class Kind {
        absent,    // no file
        invalid,   // unreadable or not a PID
        dead,      // the PID is not running
        reused,    // the PID runs a process that started after the file was written
        live,      // the PID runs a process that may be the one the file was written for
    };
    Kind kind = Kind::absent;
    std::optional<pid_t> pid;
};

// Compares the process's start time (/proc/PID/stat) with the file's modification time.
PidFileState inspect_pid_file(const std::filesystem::path& path);

// The daemon's own PID file, held under an exclusive flock(2) for the daemon's lifetime.
// The lock is taken on the final inode (the temp file is locked before the rename), so a
// second daemon that opens the path always finds it locked.
class DaemonPidFile {
public:
    DaemonPidFile() = default;
    DaemonPidFile(const DaemonPidFile&) = delete;
    DaemonPidFile& operator=(const DaemonPidFile&) = delete;
    DaemonPidFile(DaemonPidFile&& other) noexcept;
    DaemonPidFile& operator=(DaemonPidFile&& other) noexcept;
    ~DaemonPidFile();

    // Takes the lock and writes getpid(). On failure returns false and sets `error` to a
    // message naming the file, and the PID of the daemon holding it when there is one.
    // `warning` is set when a stale file was replaced.
    bool acquire(const std::filesystem::path& path, std::string& error, std::string& warning);

    // Removes the file (if it still names this process) and drops the lock.
    void release();

    bool is_held() const { return fd_ >= 0; }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
std::optional<unsigned long long> process_start_ticks(pid_t pid);

}  // namespace procsup
