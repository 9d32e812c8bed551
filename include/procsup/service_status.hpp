// A snapshot of one service as the front ends show it (status table, JSON, D-Bus).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "procsup/exit_status.hpp"
#include "procsup/lifecycle.hpp"

namespace procsup {

enum class HealthState { none, starting, healthy, unhealthy };

std::string_view to_string(HealthState health);

struct ServiceStatus {
    std::string name;
    ServiceState state = ServiceState::stopped;
    std::optional<pid_t> pid;
    Duration uptime{};  // zero when no process runs
    int restarts = 0;
    int failed_starts = 0;
    HealthState health = HealthState::none;
    std::optional<ExitStatus> last_exit;
    std::chrono::system_clock::time_point since;  // the last state change
    std::string message;  // why it is in this state: the last error, what it waits for
    std::string health_output;  // the last check's output or error, truncated
    int health_failures = 0;    // the current streak of failed checks
    std::string notify_status;  // the last STATUS= of a notify service's current run
};

}  // namespace procsup
