#include "procsup/notify_message.hpp"

namespace procsup {

namespace {

bool is_utf8_continuation(char c)
{
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::string clean_status(std::string_view text)
{
    std::string status(text);
    for (char& c : status) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) {
            c = ' ';
        }
    }
    if (status.size() <= max_notify_status) {
        return status;
    }
    std::size_t cut = max_notify_status - 3;
    while (cut > 0 && is_utf8_continuation(status[cut])) {
        --cut;  // Never split a UTF-8 sequence.
    }
    return status.substr(0, cut) + "...";
}

}  // namespace

NotifyMessage parse_notify_message(std::string_view datagram)
{
    NotifyMessage message;
    while (!datagram.empty()) {
        const std::size_t end = datagram.find('\n');
        const std::string_view line = datagram.substr(0, end);
        datagram = end == std::string_view::npos ? std::string_view() : datagram.substr(end + 1);
        if (line == "READY=1") {
            message.ready = true;
        } else if (line == "WATCHDOG=1") {
            message.watchdog = true;
        } else if (line.starts_with("STATUS=")) {
            message.status = clean_status(line.substr(7));
        } else if (line.starts_with("MAINPID=")) {
            message.main_pid = std::string(line.substr(8));
        }
    }
    return message;
}

}  // namespace procsup
