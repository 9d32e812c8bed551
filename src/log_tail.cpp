#include "procsup/log_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

namespace procsup {

namespace {

constexpr std::size_t block_size = 64 * 1024;

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor()
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }

private:
    int fd_;
};

// Reads [offset, offset + length) into the front of `into`.
bool prepend_block(int fd, off_t offset, std::size_t length, std::string& into)
{
    std::string block(length, '\0');
    std::size_t done = 0;
    while (done < length) {
        const ssize_t n =
            ::pread(fd, block.data() + done, length - done, offset + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            block.resize(done);  // The file shrank under us (copytruncate): keep what we got.
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    into.insert(0, block);
    return true;
}

std::size_t count_breaks(std::string_view text)
{
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<std::string> split_last(std::string_view text, std::size_t count)
{
    if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
    }
    std::vector<std::string> lines;
    if (text.empty()) {
        return lines;
    }
    std::size_t begin = text.size();
    while (lines.size() < count) {
        const std::size_t previous = begin == 0 ? text.npos : text.rfind('\n', begin - 1);
        const std::size_t start = previous == text.npos ? 0 : previous + 1;
        lines.emplace_back(text.substr(start, begin - start));
        if (previous == text.npos) {
            break;
        }
        begin = previous;
    }
    std::reverse(lines.begin(), lines.end());
    return lines;
}

}  // namespace

std::vector<std::string> read_last_lines(const std::filesystem::path& file, std::size_t count,
                                         std::error_code& ec)
{
    ec.clear();
    const FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) < 0) {
        ec.assign(errno, std::generic_category());
        return {};
    }
    if (count == 0) {
        return {};
    }

    // Read backwards until the text holds `count` line breaks before its last line, so the
    // first line kept is whole.
    std::string text;
    std::size_t breaks = 0;
    auto offset = static_cast<std::size_t>(st.st_size);
    while (offset > 0 && text.size() < max_tail_bytes && breaks < count) {
        const std::size_t length = std::min(offset, block_size);
        offset -= length;
        const bool first_block = text.empty();
        if (!prepend_block(fd.get(), static_cast<off_t>(offset), length, text)) {
            ec.assign(errno, std::generic_category());
            return {};
        }
        breaks += count_breaks(std::string_view(text).substr(0, length));
        if (first_block && !text.empty() && text.back() == '\n' && breaks > 0) {
            --breaks;  // The file's final newline ends the last line; it separates nothing.
        }
    }
    std::vector<std::string> lines = split_last(text, count);
    // Stopped by the byte limit: the first line is only the end of a longer one.
    if (offset > 0 && breaks < count && !lines.empty()) {
        lines.erase(lines.begin());
    }
    return lines;
}

}  // namespace procsup
