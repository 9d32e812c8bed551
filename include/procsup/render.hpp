// Human output of the CLI: the status table and one-line results, from the JSON the daemon
// sends. Pure: takes the JSON and the time, returns text.
#pragma once

#include <boost/json.hpp>

#include <string>

namespace procsup {

struct RenderOptions {
    bool color = false;
};

// The aligned table: NAME STATE PID UPTIME HEALTH RESTARTS LAST-EXIT INFO.
std::string render_status_table(const boost::json::array& services, const RenderOptions& options);

// "exit 1", "killed by SIGKILL" or "-" from a last_exit JSON value.
std::string render_last_exit(const boost::json::value& last_exit);

// One line per result of start/stop/restart/signal: "web: running (pid 123)".
std::string render_action_results(const boost::json::array& results);

}  // namespace procsup
