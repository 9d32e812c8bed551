#include "procsup/rotating_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

namespace procsup {

namespace {

using Clock = std::chrono::steady_clock;

// How often a failed file is opened again, and how often a working one is checked for
// having been deleted or truncated behind our back.
constexpr auto retry_interval = std::chrono::seconds(1);
constexpr auto file_check_interval = std::chrono::seconds(1);

std::error_code errno_code()
{
    return {errno, std::generic_category()};
}

std::string backup_path(const std::filesystem::path& path, int index)
{
    return path.string() + "." + std::to_string(index);
}

// rename(2) that treats a missing source as nothing to do.
std::error_code rename_if_present(const std::string& from, const std::string& to)
{
    if (::rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT) {
        return errno_code();
    }
    return {};
}

}  // namespace

RotatingFile::RotatingFile(std::filesystem::path path, std::uint64_t max_size, int backups)
    : path_(std::move(path)), max_size_(max_size), backups_(backups)
{
    open();
}

RotatingFile::~RotatingFile()
{
    close();
}

std::error_code RotatingFile::write(std::string_view data)
{
    if (data.empty()) {
        return {};
    }
    if (fd_ < 0) {
        if (Clock::now() < next_retry_) {
            return last_error_;
        }
        if (auto ec = open()) {
            return ec;
        }
    }

    // Before rotating, look at the file: size_ is stale after a copytruncate, and a deleted
    // file needs no rotation but a new inode.
    if (Clock::now() >= next_file_check_ || would_pass_max_size(data.size())) {
        check_file_on_disk();
    }
    if (fd_ >= 0 && would_pass_max_size(data.size())) {
        // A failed rename leaves the file in place: keep writing to it, past max_size, rather
        // than dropping output. The next write tries to rotate again.
        rotate();
    }
    if (fd_ < 0) {
        return last_error_;
    }

    if (auto ec = write_all(data)) {
        mark_failed(ec);
        return ec;
    }
    if (failure_reported_) {
        failure_reported_ = false;
        new_recovery_ = true;
    }
    last_error_.clear();
    return {};
}

std::error_code RotatingFile::reopen()
{
    close();
    return open();
}

std::error_code RotatingFile::rotate()
{
    close();
    std::error_code result;
    if (backups_ > 0) {
        result = shift_backups();
    } else if (::truncate(path_.c_str(), 0) < 0 && errno != ENOENT) {
        result = errno_code();
    }
    auto opened = open();
    return result ? result : opened;
}

void RotatingFile::set_limits(std::uint64_t max_size, int backups)
{
    max_size_ = max_size;
    backups_ = backups;
}

bool RotatingFile::take_new_failure()
{
    return std::exchange(new_failure_, false);
}

bool RotatingFile::take_recovery()
{
    return std::exchange(new_recovery_, false);
}

std::error_code RotatingFile::open()
{
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        auto ec = errno_code();
        mark_failed(ec);
        return ec;
    }
    struct stat st {};
    size_ = fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    next_file_check_ = Clock::now() + file_check_interval;
    return {};
}

void RotatingFile::close()
{
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

// Starts or continues a failure episode: only its start is reported (take_new_failure).
void RotatingFile::mark_failed(std::error_code ec)
{
    close();
    last_error_ = ec;
    if (!failure_reported_) {
        failure_reported_ = true;
        new_failure_ = true;
    }
    next_retry_ = Clock::now() + retry_interval;
}

// Reopens a file that was deleted (output into an unlinked inode is lost to the operator)
// and picks up a size changed by someone else (copytruncate).
void RotatingFile::check_file_on_disk()
{
    next_file_check_ = Clock::now() + file_check_interval;
    struct stat st {};
    if (fd_ < 0 || fstat(fd_, &st) < 0) {
        return;
    }
    if (st.st_nlink == 0) {
        reopen();
        return;
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
}

bool RotatingFile::would_pass_max_size(std::uint64_t extra) const
{
    return max_size_ > 0 && size_ > 0 && size_ + extra > max_size_;
}

// x.(N-1) -> x.N, ..., x -> x.1; renaming onto x.N drops the oldest backup.
std::error_code RotatingFile::shift_backups()
{
    std::error_code first_error;
    for (int index = backups_ - 1; index >= 1; --index) {
        auto ec = rename_if_present(backup_path(path_, index), backup_path(path_, index + 1));
        if (ec && !first_error) {
            first_error = ec;
        }
    }
    auto ec = rename_if_present(path_.string(), backup_path(path_, 1));
    return first_error ? first_error : ec;
}

std::error_code RotatingFile::write_all(std::string_view data)
{
    const std::string_view all = data;
    while (!data.empty()) {
        ssize_t n = ::write(fd_, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const auto ec = errno_code();
            drop_partial_line(all.substr(0, all.size() - data.size()));
            return ec;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
    // With O_APPEND the offset is the end of the file as our write left it, so this also
    // notices a truncation by logrotate's copytruncate without an fstat per write.
    off_t end = ::lseek(fd_, 0, SEEK_CUR);
    if (end >= 0 && static_cast<std::uint64_t>(end) < size_) {
        size_ = static_cast<std::uint64_t>(end);
    }
    return {};
}

// A write that failed half-way (ENOSPC) left the start of a line at the end of the file;
// cut it off, so the file holds only whole lines and the next line does not glue onto it.
void RotatingFile::drop_partial_line(std::string_view written)
{
    const std::size_t last_newline = written.rfind('\n');
    const std::size_t partial =
        written.size() - (last_newline == std::string_view::npos ? 0 : last_newline + 1);
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);
    if (partial == 0 || end < static_cast<off_t>(partial)) {
        return;
    }
    if (::ftruncate(fd_, end - static_cast<off_t>(partial)) == 0) {
        size_ -= std::min<std::uint64_t>(size_, partial);
    }
}

}  // namespace procsup
