// The service lifecycle as one explicit state × event table. Pure code: no I/O, no clock,
// no logging. The caller (Service) feeds it events, carries out the actions it returns in
// order, and feeds back what came of them (spawned / spawn_failed, exits, timers).
//
// Restart throttling: an exit (or a failed spawn) within the stability window, which is
// start_seconds but at least one second, is a failed start. Failed starts in a row back off
// exponentially from `backoff` up to `backoff_max`; after `start_retries` retries the service
// is fatal. A process that stayed up past the window resets the streak and is restarted at
// once when the policy says so. The one-second floor is what keeps `start_seconds = 0` from
// becoming an unthrottled crash loop.
//
// A notify service (type = "notify") is running only once it reports READY=1, with
// start_timeout as the limit instead of start_seconds. An exit before READY=1 is a failed
// start whatever the uptime. At start_timeout it is stopped like any service (stop signal,
// SIGKILL after stop_timeout), and its exit then counts as a failed start whatever its exit
// status, unless a stop or start request came in meanwhile.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "procsup/config.hpp"

namespace procsup {

enum class ServiceState { stopped, starting, running, backoff, stopping, exited, fatal };

enum class LifecycleEvent {
    start_requested,    // `procsup start`, autostart, or a dependency became ready
    stop_requested,     // `procsup stop`, shutdown, removal by update
    restart_requested,  // `procsup restart`, on_unhealthy = "restart", a changed definition
    spawned,            // the spawn action succeeded
    spawn_failed,       // the spawn action failed (bad user, missing binary, ...)
    start_window_passed,
    ready_reported,         // a notify service sent READY=1
    start_timeout_elapsed,  // a notify service did not send READY=1 within start_timeout
    process_exited,     // the main process was reaped (and, when stopping, its group is gone)
    backoff_elapsed,
    stop_timeout_elapsed,
};

// What the caller must do, in this order.
struct LifecycleActions {
    bool cancel_timers = false;
    bool send_stop_signal = false;  // stop_signal to the process (group), then arm_stop_timer
    bool arm_stop_timer = false;
    bool send_kill = false;         // SIGKILL to the process group
    bool spawn = false;
    bool arm_start_timer = false;   // start_seconds
    bool arm_start_timeout = false;  // start_timeout, for a notify service
    std::optional<Duration> arm_backoff_timer;

    bool operator==(const LifecycleActions&) const = default;
};

struct LifecycleInput {
    LifecycleEvent event;
    bool success = false;  // process_exited: the exit status is one of success_exit_codes
    Duration uptime{};     // process_exited: how long the process ran
};

struct LifecyclePolicy {
    RestartPolicy restart = RestartPolicy::on_failure;
    Duration start_seconds = std::chrono::seconds(1);
    std::optional<int> start_retries = 5;  // nullopt: unlimited
    Duration backoff = std::chrono::seconds(1);
    Duration backoff_max = std::chrono::seconds(60);
    bool notify = false;  // type = "notify": running on READY=1, not after start_seconds

    static LifecyclePolicy from(const ServiceConfig& config);
};

class Lifecycle {
public:
    explicit Lifecycle(LifecyclePolicy policy) : policy_(policy) {}

    // Applies one event and returns the actions to carry out. Events that make no sense in
    // the current state (a stale timer, a second start) change nothing and return no action.
    LifecycleActions handle(const LifecycleInput& input);

    ServiceState state() const { return state_; }
    int failed_starts() const { return failed_starts_; }
    int restarts() const { return restarts_; }
    bool was_killed() const { return killed_; }  // the last stop needed SIGKILL
    bool restart_pending() const { return restart_pending_; }
    // Stopping because READY=1 did not come in time; the exit will be a failed start.
    bool start_timed_out() const { return start_timed_out_; }
    void set_policy(LifecyclePolicy policy) { policy_ = policy; }
    const LifecyclePolicy& policy() const { return policy_; }

    // The delay before the next retry after `failed_starts` failures in a row.
    Duration backoff_delay(int failed_starts) const;

private:
    LifecycleActions on_start_requested();
    LifecycleActions on_stop_requested();
    LifecycleActions on_restart_requested();
    LifecycleActions on_spawned();
    LifecycleActions on_start_window_passed();
    LifecycleActions on_ready_reported();
    LifecycleActions on_start_timeout();
    LifecycleActions on_exit(bool success, Duration uptime);
    LifecycleActions on_failed_start(bool success);
    LifecycleActions on_exit_while_stopping();
    LifecycleActions begin_spawn();
    LifecycleActions begin_stop();

    bool should_restart(bool success) const;
    Duration stability_window() const;

    LifecyclePolicy policy_;
    ServiceState state_ = ServiceState::stopped;
    int failed_starts_ = 0;
    int restarts_ = 0;
    bool restart_pending_ = false;
    bool start_timed_out_ = false;
    bool killed_ = false;
};

std::string_view to_string(ServiceState state);
std::string_view to_string(LifecycleEvent event);

// True for the states in which a process of the service may be alive.
bool has_process(ServiceState state);

}  // namespace procsup
