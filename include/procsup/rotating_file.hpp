// A log file that rotates by size (x.log -> x.log.1 ... x.log.N) and can be reopened after an
// external rename (logrotate's `create` mode) or truncation (`copytruncate`). Writes are
// appends (O_APPEND), so after a truncation they continue at the new end.
//
// Not thread-safe; used from the event loop only. Errors never throw: a failing file goes
// into a failed state, reports the problem once through last_error(), drops what it is given
// and tries to reopen at most once per retry interval or on reopen().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace procsup {

class RotatingFile {
public:
    RotatingFile(std::filesystem::path path, std::uint64_t max_size, int backups);
    RotatingFile(const RotatingFile&) = delete;
    RotatingFile& operator=(const RotatingFile&) = delete;
    ~RotatingFile();

    // Writes `data`, which the caller has cut at a line boundary. Rotates first when the file
    // would pass max_size and already holds something, so no line is split across files.
    // Returns the error that made the write fail (the data is then dropped).
    std::error_code write(std::string_view data);

    // Closes and opens the path again (SIGHUP, `procsup reopen-logs`).
    std::error_code reopen();

    // Renames x -> x.1 -> ... -> x.N now, dropping the oldest, and opens a fresh x.
    std::error_code rotate();

    const std::filesystem::path& path() const { return path_; }
    std::uint64_t size() const { return size_; }
    int backups() const { return backups_; }
    void set_limits(std::uint64_t max_size, int backups);

    // True once after the file went from working to failing: the caller logs it then.
    bool take_new_failure();
    // True once after a write succeeded again following a reported failure.
    bool take_recovery();
    const std::error_code& last_error() const { return last_error_; }

private:
    std::error_code open();
    void close();
    void mark_failed(std::error_code ec);
    void check_file_on_disk();
    bool would_pass_max_size(std::uint64_t extra) const;
    std::error_code shift_backups();
    std::error_code write_all(std::string_view data);
    void drop_partial_line(std::string_view written);

    std::filesystem::path path_;
    std::uint64_t max_size_;
    int backups_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::error_code last_error_;
    bool failure_reported_ = false;
    bool new_failure_ = false;
    bool new_recovery_ = false;
    std::chrono::steady_clock::time_point next_retry_{};
    std::chrono::steady_clock::time_point next_file_check_{};
};

}  // namespace procsup
