// `procsup daemon`: loads the config, optionally detaches, takes the PID file, listens on the
// control socket, starts the autostart services and runs the event loop until shutdown.
#pragma once

#include <filesystem>
#include <optional>

#include "procsup/config.hpp"

namespace procsup {

struct DaemonOptions {
    std::filesystem::path config_file;
    bool detach = false;
    std::optional<std::filesystem::path> pidfile;  // overrides [supervisor] pidfile
    std::optional<std::filesystem::path> socket;   // overrides [supervisor] socket
    // `procsup run`: the config comes from the command line, not from a file; the daemon
    // forwards signals to the command and exits with its status; --detach returns once the
    // command runs and prints its PID.
    std::optional<Config> config;
    bool run_mode = false;
};

// Returns the process exit status (DESIGN §2 and §6). With `detach`, the caller's process
// returns 0 once the daemon is ready, or non-zero with the reason on stderr.
int run_daemon(const DaemonOptions& options);

}  // namespace procsup
