// The daemon's one notify socket: the datagram socket that services of type = "notify" find
// in NOTIFY_SOCKET and send READY=1, STATUS=... and WATCHDOG=1 to, as they would to systemd.
// NotifySocket only receives: it hands each datagram, with the sender's PID from the kernel
// (SCM_CREDENTIALS), to its handler, which decides whether the sender may speak for a
// service. Lives on the event loop's thread only.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string_view>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/datagram_protocol.hpp>

namespace procsup {

class NotifySocket {
public:
    // The sender's PID and the datagram's text.
    using Handler = std::function<void(pid_t sender, std::string_view datagram)>;

    NotifySocket(boost::asio::io_context& io, Handler handler);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // Binds `path` (replacing a stale socket file, never another kind of file), makes it
    // writable by every user (senders are told apart by their credentials, not by file
    // permissions) and starts receiving.
    std::error_code open(const std::filesystem::path& path);
    // Stops receiving and removes the socket file. Safe to call twice.
    void close();

    bool is_open() const { return socket_.is_open(); }
    const std::filesystem::path& path() const { return path_; }

private:
    void wait_for_datagram();
    void read_datagrams();
    // Reads and hands on one datagram; false when none is waiting.
    bool read_one();

    boost::asio::local::datagram_protocol::socket socket_;
    Handler handler_;
    std::filesystem::path path_;
};

}  // namespace procsup
