// `procsup run [options] -- CMD [ARG...]`: one command supervised without a config file, as
// a nohup replacement (--detach) or a container's init (tini-like in the foreground). Turns
// the command line into the same Config a file would give.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "procsup/config.hpp"

namespace procsup {

struct RunOptions {
    std::vector<std::string> command;
    std::string name;
    std::string restart = "never";
    std::string stop_signal = "TERM";
    std::string stop_timeout = "10s";
    std::string start_seconds = "1s";
    std::string log;
    std::string log_max_size = "10MB";
    int log_backups = 5;
    std::string pidfile;
    std::string health_cmd;
    std::string health_http;
    std::string health_tcp;
    std::string health_interval = "30s";
    std::string health_timeout = "3s";
    int health_retries = 3;
    std::string user;
    std::vector<std::string> env;  // KEY=VALUE
    std::string socket;
    bool group = false;  // signal the whole process group, not only the command
};

// Returns the config, or a message naming the option at fault.
std::variant<Config, std::string> make_run_config(const RunOptions& options);

}  // namespace procsup
