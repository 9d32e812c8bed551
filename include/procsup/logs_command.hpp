// The client side of `procsup logs [-f] [-n N] [--stderr] NAME`: prints a service's last
// captured lines and, with follow, the lines that come after, until interrupted.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace procsup {

struct LogsOptions {
    std::string service;
    bool follow = false;
    std::size_t lines = 10;
    bool stderr_stream = false;
    bool json = false;  // print the daemon's reply objects as they come
};

// Returns the exit status: 0 also when a follow ends by SIGINT, SIGTERM or a closed stdout
// (`procsup logs -f web | head`); 4 for an unknown service, 5 when the daemon is unreachable.
int run_logs_command(const std::filesystem::path& socket, const LogsOptions& options);

// Makes SIGINT and SIGTERM end this client at once with exit 0: for a follow, being
// interrupted is the normal end. Only for output written unbuffered or flushed per line.
void exit_zero_on_interrupt();

}  // namespace procsup
