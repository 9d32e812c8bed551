#include "procsup/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "procsup/protocol.hpp"

namespace procsup {

ControlClient::~ControlClient()
{
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool ControlClient::connect(const std::filesystem::path& socket, std::string& error)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = socket.string();
    if (path.size() >= sizeof address.sun_path) {
        error = "socket path '" + path + "' is too long";
        return false;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error = std::string("cannot create a socket: ") + std::strerror(errno);
        return false;
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        error = "cannot reach the procsup daemon at '" + path + "': " + std::strerror(errno);
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    return true;
}

std::optional<boost::json::object> ControlClient::call(
    const boost::json::object& request, std::string& error,
    std::optional<std::chrono::milliseconds> limit)
{
    std::string line = boost::json::serialize(request);
    line.push_back('\n');
    std::string_view rest = line;
    while (!rest.empty()) {
        const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            // The daemon may have refused us before reading (permission denied, too many
            // connections): its reply is still waiting to be read.
            const std::string send_error = std::strerror(errno);
            if (auto reply = read_reply(error, limit)) {
                return reply;
            }
            error = "lost the connection to the daemon: " + send_error;
            return std::nullopt;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return read_reply(error, limit);
}

std::optional<boost::json::object> ControlClient::read_reply(
    std::string& error, std::optional<std::chrono::milliseconds> limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit.value_or(std::chrono::hours(0));
    for (;;) {
        const std::size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            const std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            boost::system::error_code ec;
            boost::json::value value = boost::json::parse(line, ec);
            if (ec || !value.is_object()) {
                error = "the daemon sent a reply that is not a JSON object";
                return std::nullopt;
            }
            return std::move(value.as_object());
        }
        if (limit) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
            if (ready == 0) {
                error = "the daemon did not answer within " +
                        std::to_string(limit->count() / 1000) + "s (is it stopped or stuck?)";
                return std::nullopt;
            }
        }
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error = n == 0 ? "the daemon closed the connection without a reply"
                           : std::string("lost the connection to the daemon: ") +
                                 std::strerror(errno);
            return std::nullopt;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

}  // namespace procsup
