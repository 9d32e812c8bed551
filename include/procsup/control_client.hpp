// The client side of the control socket, used by the CLI verbs: blocking, one request and
// one reply at a time. Plain POSIX sockets keep the CLI quick to start.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace procsup {

class ControlClient {
public:
    ControlClient() = default;
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;
    ~ControlClient();

    // Returns false with a message naming the socket when the daemon cannot be reached.
    bool connect(const std::filesystem::path& socket, std::string& error);

    // Sends one request and waits for its reply, at most `limit` when given (`start` waits
    // for the outcome without one). Returns nullopt with a message when the connection
    // fails or the daemon does not answer in time.
    std::optional<boost::json::object> call(
        const boost::json::object& request, std::string& error,
        std::optional<std::chrono::milliseconds> limit = std::nullopt);

    // Reads the next line the daemon sends on a streaming request.
    std::optional<boost::json::object> read_reply(
        std::string& error, std::optional<std::chrono::milliseconds> limit = std::nullopt);

private:
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace procsup
