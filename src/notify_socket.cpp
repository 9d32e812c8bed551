#include "procsup/notify_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

namespace procsup {

namespace {

using boost::asio::local::datagram_protocol;

// As systemd's limit for one notification: longer datagrams are not notifications.
constexpr std::size_t max_datagram = 4096;
// Datagrams handled per wake-up, so that a flooding service cannot starve the loop.
constexpr int datagrams_per_wakeup = 64;
// Descriptors a sender may attach (FDSTORE=1); procsup keeps none and closes them.
constexpr std::size_t max_passed_fds = 16;

void close_passed_fds(const cmsghdr* cmsg)
{
    const std::size_t bytes = cmsg->cmsg_len - CMSG_LEN(0);
    const unsigned char* data = CMSG_DATA(cmsg);
    for (std::size_t offset = 0; offset + sizeof(int) <= bytes; offset += sizeof(int)) {
        int fd = -1;
        std::memcpy(&fd, data + offset, sizeof fd);
        ::close(fd);
    }
}

// The sender's PID from SCM_CREDENTIALS; closes any passed descriptors on the way.
std::optional<pid_t> sender_of(msghdr& message)
{
    std::optional<pid_t> sender;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&message); cmsg; cmsg = CMSG_NXTHDR(&message, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (cmsg->cmsg_type == SCM_RIGHTS) {
            close_passed_fds(cmsg);
        } else if (cmsg->cmsg_type == SCM_CREDENTIALS &&
                   cmsg->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
            ucred credentials{};
            std::memcpy(&credentials, CMSG_DATA(cmsg), sizeof credentials);
            if (credentials.pid > 0) {
                sender = credentials.pid;
            }
        }
    }
    return sender;
}

}  // namespace

NotifySocket::NotifySocket(boost::asio::io_context& io, Handler handler)
    : socket_(io), handler_(std::move(handler))
{
}

NotifySocket::~NotifySocket()
{
    close();
}

std::error_code NotifySocket::open(const std::filesystem::path& path)
{
    close();
    if (path.native().size() >= sizeof(sockaddr_un::sun_path)) {
        return std::make_error_code(std::errc::filename_too_long);
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return std::make_error_code(std::errc::file_exists);
        }
        // Left by a daemon that was killed: the control socket, which this daemon holds,
        // shows that no other daemon uses this folder.
        ::unlink(path.c_str());
    }

    boost::system::error_code ec;
    socket_.open(datagram_protocol(), ec);
    if (!ec) {
        socket_.bind(datagram_protocol::endpoint(path.string()), ec);
    }
    if (!ec) {
        socket_.non_blocking(true, ec);
    }
    if (ec) {
        socket_.close(ec);
        return std::error_code(ec.value(), std::system_category());
    }
    path_ = path;

    // Without SO_PASSCRED the kernel attaches no sender PID, and no message could be trusted.
    const int on = 1;
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
        ::chmod(path.c_str(), 0666) != 0) {
        const std::error_code error(errno, std::system_category());
        close();
        return error;
    }
    wait_for_datagram();
    return {};
}

void NotifySocket::close()
{
    if (!socket_.is_open()) {
        return;
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
    ::unlink(path_.c_str());
}

void NotifySocket::wait_for_datagram()
{
    socket_.async_wait(datagram_protocol::socket::wait_read, [this](boost::system::error_code ec) {
        if (ec) {
            return;  // operation_aborted: closed. `this` may be gone; touch nothing.
        }
        read_datagrams();
        wait_for_datagram();
    });
}

void NotifySocket::read_datagrams()
{
    for (int i = 0; i < datagrams_per_wakeup && read_one(); ++i) {
    }
}

bool NotifySocket::read_one()
{
    std::array<char, max_datagram> buffer{};
    iovec vector{buffer.data(), buffer.size()};
    alignas(cmsghdr)
        std::array<char, CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * max_passed_fds)>
            control{};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = control.size();

    ssize_t n = -1;
    do {
        // MSG_TRUNC: the real length, so that an oversized datagram is seen as one.
        n = ::recvmsg(socket_.native_handle(), &message,
                      MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return false;  // EAGAIN: nothing waiting.
    }

    const std::optional<pid_t> sender = sender_of(message);
    if (!sender) {
        spdlog::debug("ignoring a notify message without sender credentials");
        return true;
    }
    if (static_cast<std::size_t>(n) > buffer.size()) {
        spdlog::debug("ignoring a notify message of {} bytes from pid {}; the limit is {} bytes", n,
                      *sender, buffer.size());
        return true;
    }
    handler_(*sender, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    return true;
}

}  // namespace procsup
