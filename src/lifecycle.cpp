#include "procsup/lifecycle.hpp"

#include <algorithm>

namespace procsup {

namespace {

constexpr Duration minimum_stability_window = std::chrono::seconds(1);

bool is_at_rest(ServiceState state)
{
    return state == ServiceState::stopped || state == ServiceState::exited ||
           state == ServiceState::fatal;
}

}  // namespace

LifecyclePolicy LifecyclePolicy::from(const ServiceConfig& config)
{
    return LifecyclePolicy{config.restart,    config.start_seconds,
                           config.start_retries, config.backoff,
                           config.backoff_max, config.type == ServiceType::notify};
}

LifecycleActions Lifecycle::handle(const LifecycleInput& input)
{
    switch (input.event) {
    case LifecycleEvent::start_requested:
        return on_start_requested();
    case LifecycleEvent::stop_requested:
        return on_stop_requested();
    case LifecycleEvent::restart_requested:
        return on_restart_requested();
    case LifecycleEvent::spawned:
        return on_spawned();
    case LifecycleEvent::spawn_failed:
        return state_ == ServiceState::starting ? on_failed_start(false) : LifecycleActions{};
    case LifecycleEvent::start_window_passed:
        return on_start_window_passed();
    case LifecycleEvent::ready_reported:
        return on_ready_reported();
    case LifecycleEvent::start_timeout_elapsed:
        return on_start_timeout();
    case LifecycleEvent::process_exited:
        return on_exit(input.success, input.uptime);
    case LifecycleEvent::backoff_elapsed:
        if (state_ != ServiceState::backoff) {
            return {};
        }
        ++restarts_;
        return begin_spawn();
    case LifecycleEvent::stop_timeout_elapsed:
        if (state_ != ServiceState::stopping) {
            return {};
        }
        killed_ = true;
        return LifecycleActions{.send_kill = true};
    }
    return {};
}

LifecycleActions Lifecycle::on_start_requested()
{
    if (state_ == ServiceState::stopping) {
        // The process is still on its way out; start again once it is gone.
        restart_pending_ = true;
        start_timed_out_ = false;
        return {};
    }
    if (state_ == ServiceState::backoff) {
        LifecycleActions actions = begin_spawn();
        actions.cancel_timers = true;
        return actions;
    }
    if (!is_at_rest(state_)) {
        return {};
    }
    failed_starts_ = 0;
    return begin_spawn();
}

LifecycleActions Lifecycle::on_stop_requested()
{
    restart_pending_ = false;
    start_timed_out_ = false;  // The operator's stop wins over the failed start.
    switch (state_) {
    case ServiceState::starting:
    case ServiceState::running:
        return begin_stop();
    case ServiceState::backoff:
        state_ = ServiceState::stopped;
        return LifecycleActions{.cancel_timers = true};
    case ServiceState::stopped:
    case ServiceState::stopping:
    case ServiceState::exited:
    case ServiceState::fatal:
        return {};
    }
    return {};
}

LifecycleActions Lifecycle::on_restart_requested()
{
    if (state_ == ServiceState::starting || state_ == ServiceState::running) {
        LifecycleActions actions = begin_stop();
        restart_pending_ = true;
        return actions;
    }
    return on_start_requested();
}

LifecycleActions Lifecycle::on_spawned()
{
    if (state_ != ServiceState::starting) {
        return {};
    }
    if (policy_.notify) {
        return LifecycleActions{.arm_start_timeout = true};
    }
    if (policy_.start_seconds <= Duration::zero()) {
        state_ = ServiceState::running;
        return {};
    }
    return LifecycleActions{.arm_start_timer = true};
}

LifecycleActions Lifecycle::on_start_window_passed()
{
    // A notify service is started by READY=1 alone.
    if (state_ == ServiceState::starting && !policy_.notify) {
        state_ = ServiceState::running;
    }
    return {};
}

LifecycleActions Lifecycle::on_ready_reported()
{
    if (state_ != ServiceState::starting || !policy_.notify) {
        return {};
    }
    state_ = ServiceState::running;
    return LifecycleActions{.cancel_timers = true};
}

LifecycleActions Lifecycle::on_start_timeout()
{
    if (state_ != ServiceState::starting || !policy_.notify) {
        return {};
    }
    LifecycleActions actions = begin_stop();
    start_timed_out_ = true;
    return actions;
}

LifecycleActions Lifecycle::on_exit(bool success, Duration uptime)
{
    if (state_ == ServiceState::stopping) {
        return on_exit_while_stopping();
    }
    if (state_ != ServiceState::starting && state_ != ServiceState::running) {
        return {};
    }
    // A notify service that ends before READY=1 never started, however long it ran.
    const bool never_ready = policy_.notify && state_ == ServiceState::starting;
    if (never_ready || uptime < stability_window()) {
        LifecycleActions actions = on_failed_start(success);
        actions.cancel_timers = true;
        return actions;
    }

    failed_starts_ = 0;
    if (!should_restart(success)) {
        state_ = ServiceState::exited;
        return LifecycleActions{.cancel_timers = true};
    }
    ++restarts_;
    LifecycleActions actions = begin_spawn();
    actions.cancel_timers = true;
    return actions;
}

LifecycleActions Lifecycle::on_failed_start(bool success)
{
    if (!should_restart(success)) {
        // A quick successful exit is a completed job; a quick failure that may not be
        // retried is a start that failed for good.
        state_ = success ? ServiceState::exited : ServiceState::fatal;
        return {};
    }
    ++failed_starts_;
    if (policy_.start_retries && failed_starts_ > *policy_.start_retries) {
        state_ = ServiceState::fatal;
        return {};
    }
    state_ = ServiceState::backoff;
    return LifecycleActions{.arm_backoff_timer = backoff_delay(failed_starts_)};
}

LifecycleActions Lifecycle::on_exit_while_stopping()
{
    LifecycleActions actions{.cancel_timers = true};
    if (start_timed_out_) {
        start_timed_out_ = false;
        // However it ended (a clean exit on SIGTERM too), READY=1 never came.
        LifecycleActions failed = on_failed_start(false);
        failed.cancel_timers = true;
        return failed;
    }
    if (restart_pending_) {
        restart_pending_ = false;
        failed_starts_ = 0;
        LifecycleActions spawn = begin_spawn();
        actions.spawn = spawn.spawn;
        return actions;
    }
    state_ = ServiceState::stopped;
    return actions;
}

LifecycleActions Lifecycle::begin_spawn()
{
    state_ = ServiceState::starting;
    return LifecycleActions{.spawn = true};
}

LifecycleActions Lifecycle::begin_stop()
{
    state_ = ServiceState::stopping;
    killed_ = false;
    start_timed_out_ = false;
    return LifecycleActions{.cancel_timers = true, .send_stop_signal = true,
                            .arm_stop_timer = true};
}

bool Lifecycle::should_restart(bool success) const
{
    switch (policy_.restart) {
    case RestartPolicy::always:
        return true;
    case RestartPolicy::on_failure:
        return !success;
    case RestartPolicy::never:
        return false;
    }
    return false;
}

Duration Lifecycle::stability_window() const
{
    return std::max(policy_.start_seconds, minimum_stability_window);
}

Duration Lifecycle::backoff_delay(int failed_starts) const
{
    Duration delay = policy_.backoff;
    for (int i = 1; i < failed_starts && delay < policy_.backoff_max; ++i) {
        if (delay > policy_.backoff_max / 2) {
            return policy_.backoff_max;  // Doubling would pass the cap (or overflow).
        }
        delay *= 2;
    }
    return std::min(delay, policy_.backoff_max);
}

std::string_view to_string(ServiceState state)
{
    switch (state) {
    case ServiceState::stopped:
        return "stopped";
    case ServiceState::starting:
        return "starting";
    case ServiceState::running:
        return "running";
    case ServiceState::backoff:
        return "backoff";
    case ServiceState::stopping:
        return "stopping";
    case ServiceState::exited:
        return "exited";
    case ServiceState::fatal:
        return "fatal";
    }
    return "unknown";
}

std::string_view to_string(LifecycleEvent event)
{
    switch (event) {
    case LifecycleEvent::start_requested:
        return "start_requested";
    case LifecycleEvent::stop_requested:
        return "stop_requested";
    case LifecycleEvent::restart_requested:
        return "restart_requested";
    case LifecycleEvent::spawned:
        return "spawned";
    case LifecycleEvent::spawn_failed:
        return "spawn_failed";
    case LifecycleEvent::start_window_passed:
        return "start_window_passed";
    case LifecycleEvent::ready_reported:
        return "ready_reported";
    case LifecycleEvent::start_timeout_elapsed:
        return "start_timeout_elapsed";
    case LifecycleEvent::process_exited:
        return "process_exited";
    case LifecycleEvent::backoff_elapsed:
        return "backoff_elapsed";
    case LifecycleEvent::stop_timeout_elapsed:
        return "stop_timeout_elapsed";
    }
    return "unknown";
}

bool has_process(ServiceState state)
{
    return state == ServiceState::starting || state == ServiceState::running ||
           state == ServiceState::stopping;
}

}  // namespace procsup
