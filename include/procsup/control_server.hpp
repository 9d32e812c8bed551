// The control socket: a Unix stream socket speaking one JSON object per line each way
// (protocol.hpp). Each peer is checked with SO_PEERCRED; requests are size-limited and a
// silent client is dropped after a timeout, so no client can stall the daemon or others.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "procsup/config.hpp"

namespace procsup {

class Supervisor;

// What the daemon itself offers through the socket, beyond the supervisor's API.
struct DaemonControls {
    std::function<void()> shutdown;
    std::function<void()> reopen_logs;
    // Re-reads the config; returns the reply (a report, or the errors).
    std::function<boost::json::object(bool dry_run)> update;
};

class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, Supervisor& supervisor, DaemonControls controls);
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    ~ControlServer();

    // Creates the socket's directory if needed, replaces a stale socket file, refuses when
    // another daemon answers on it, and listens. On failure returns false with a message.
    bool listen(const SupervisorConfig& config, std::string& error);

    // Stops accepting and removes the socket file. Open connections finish their reply.
    void close();

    struct Connection;

private:
    bool make_socket_directory(std::string& error);
    bool replace_stale_socket(std::string& error);
    bool bind(std::string& error);
    void accept_next();
    bool is_peer_allowed(int fd, std::string& who);

    boost::asio::io_context& io_;
    Supervisor& supervisor_;
    DaemonControls controls_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::filesystem::path path_;
    std::optional<unsigned> allowed_gid_;
    std::set<unsigned> refused_uids_logged_;
    std::size_t open_connections_ = 0;

    friend struct Connection;
};

}  // namespace procsup
