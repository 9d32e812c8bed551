// Health checks of a service (DESIGN §3 [services.X.health]): the Docker HEALTHCHECK rules
// operators know (start_period, retries, one success to become healthy) as pure code, and
// the probes (HTTP GET with Boost.Beast, TCP connect, an exec'd command) that run
// asynchronously on the event loop, each with a hard timeout.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "procsup/config.hpp"
#include "procsup/service_status.hpp"

namespace procsup {

// Pure: turns check results into a health state. No clock reads: the caller passes times.
class HealthTracker {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    explicit HealthTracker(const HealthCheckConfig& config) : config_(config) {}

    // A new process started at `started`: health is `starting` again.
    void reset(TimePoint started);
    // No process: health is `none`.
    void clear();

    // Records one check's result at `now` and returns the new state. During start_period a
    // failure does not count (but a success ends the start period: healthy at once).
    HealthState record(bool passed, TimePoint now);

    HealthState state() const { return state_; }
    int failures() const { return failures_; }  // the current streak of counted failures
    void set_config(const HealthCheckConfig& config) { config_ = config; }
    const HealthCheckConfig& config() const { return config_; }

private:
    HealthCheckConfig config_;
    HealthState state_ = HealthState::none;
    TimePoint started_{};
    int failures_ = 0;
};

struct HealthResult {
    bool passed = false;
    std::string output;  // "HTTP 200", "connection refused", the command's output; <= 1 KiB
};

// Lets exec checks learn their child's exit status from the daemon's one reaper.
class ChildWatcher {
public:
    using ExitCallback = std::function<void(int wait_status)>;
    virtual ~ChildWatcher() = default;
    virtual void watch(pid_t pid, ExitCallback on_exit) = 0;
    virtual void forget(pid_t pid) = 0;
};

// What an exec check runs as: the service's user, environment and directory.
struct CheckContext {
    std::vector<std::string> env;  // "KEY=value", complete
    std::optional<std::filesystem::path> directory;
    std::optional<std::string> user;
    std::optional<std::string> group;
    std::optional<unsigned> umask;
};

// Runs one check at a time. run() calls `done` exactly once, on the loop, unless cancel()
// comes first (then never). Destroying the probe cancels a check in flight; an exec check's
// process group is killed.
class HealthProbe {
public:
    virtual ~HealthProbe() = default;
    virtual void run(std::function<void(HealthResult)> done) = 0;
    virtual void cancel() = 0;

    static std::unique_ptr<HealthProbe> create(boost::asio::io_context& io,
                                               const HealthCheckConfig& config,
                                               CheckContext context, ChildWatcher& children);
};

}  // namespace procsup
