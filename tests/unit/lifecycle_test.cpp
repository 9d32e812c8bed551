#include <doctest/doctest.h>

#include <vector>

#include "procsup/lifecycle.hpp"

using namespace procsup;
using namespace std::chrono_literals;

namespace {

using E = LifecycleEvent;
using S = ServiceState;

LifecyclePolicy policy(RestartPolicy restart = RestartPolicy::on_failure)
{
    LifecyclePolicy p;
    p.restart = restart;
    p.start_seconds = 2s;
    p.start_retries = 3;
    p.backoff = 1s;
    p.backoff_max = 5s;
    return p;
}

LifecycleActions send(Lifecycle& l, E event, bool success = false, Duration uptime = 0s)
{
    return l.handle(LifecycleInput{event, success, uptime});
}

// Drives a fresh lifecycle into `target` through the events a real service would see.
Lifecycle in_state(S target, LifecyclePolicy p = policy())
{
    Lifecycle l(p);
    if (target == S::stopped) {
        return l;
    }
    send(l, E::start_requested);
    if (target == S::starting) {
        send(l, E::spawned);
        return l;
    }
    if (target == S::backoff) {
        send(l, E::spawn_failed);
        return l;
    }
    if (target == S::fatal) {
        for (int i = 0; i < 10 && l.state() != S::fatal; ++i) {
            send(l, E::spawn_failed);
            send(l, E::backoff_elapsed);
        }
        return l;
    }
    send(l, E::spawned);
    send(l, p.notify ? E::ready_reported : E::start_window_passed);
    if (target == S::stopping) {
        send(l, E::stop_requested);
    } else if (target == S::exited) {
        send(l, E::process_exited, true, 10s);
    }
    return l;
}

const std::vector<S> all_states{S::stopped, S::starting, S::running, S::backoff,
                                S::stopping, S::exited, S::fatal};

LifecyclePolicy notify_policy(RestartPolicy restart = RestartPolicy::on_failure)
{
    LifecyclePolicy p = policy(restart);
    p.notify = true;
    return p;
}

// A notify service stopping because READY=1 did not come within start_timeout.
Lifecycle timed_out(RestartPolicy restart = RestartPolicy::on_failure)
{
    Lifecycle l = in_state(S::starting, notify_policy(restart));
    send(l, E::start_timeout_elapsed);
    return l;
}

}  // namespace

TEST_SUITE("lifecycle")
{
    TEST_CASE("the helper reaches every state")
    {
        for (S s : all_states) {
            CHECK(in_state(s).state() == s);
        }
    }

    TEST_CASE("start from rest spawns and waits for the start window")
    {
        for (S s : {S::stopped, S::exited, S::fatal}) {
            Lifecycle l = in_state(s);
            CHECK(send(l, E::start_requested) == LifecycleActions{.spawn = true});
            CHECK(l.state() == S::starting);
            CHECK(send(l, E::spawned) == LifecycleActions{.arm_start_timer = true});
            send(l, E::start_window_passed);
            CHECK(l.state() == S::running);
        }
    }

    TEST_CASE("start_seconds of zero counts as running at once")
    {
        LifecyclePolicy p = policy();
        p.start_seconds = 0s;
        Lifecycle l(p);
        send(l, E::start_requested);
        CHECK(send(l, E::spawned) == LifecycleActions{});
        CHECK(l.state() == S::running);
    }

    TEST_CASE("a second start while starting or running does nothing")
    {
        for (S s : {S::starting, S::running}) {
            Lifecycle l = in_state(s);
            CHECK(send(l, E::start_requested) == LifecycleActions{});
            CHECK(l.state() == s);
        }
    }

    TEST_CASE("start during backoff spawns at once and cancels the backoff timer")
    {
        Lifecycle l = in_state(S::backoff);
        CHECK(send(l, E::start_requested) ==
              LifecycleActions{.cancel_timers = true, .spawn = true});
        CHECK(l.state() == S::starting);
    }

    TEST_CASE("start during stopping starts again once the process is gone")
    {
        Lifecycle l = in_state(S::stopping);
        CHECK(send(l, E::start_requested) == LifecycleActions{});
        CHECK(l.state() == S::stopping);
        LifecycleActions a = send(l, E::process_exited, false, 10s);
        CHECK(a.spawn);
        CHECK(l.state() == S::starting);
    }

    TEST_CASE("stop of a live process signals, arms the timer, and ends stopped")
    {
        for (S s : {S::starting, S::running}) {
            Lifecycle l = in_state(s);
            CHECK(send(l, E::stop_requested) ==
                  LifecycleActions{.cancel_timers = true, .send_stop_signal = true,
                                   .arm_stop_timer = true});
            CHECK(l.state() == S::stopping);
            send(l, E::process_exited, false, 10s);
            CHECK(l.state() == S::stopped);
            CHECK_FALSE(l.was_killed());
        }
    }

    TEST_CASE("stop during backoff cancels the retry")
    {
        Lifecycle l = in_state(S::backoff);
        CHECK(send(l, E::stop_requested) == LifecycleActions{.cancel_timers = true});
        CHECK(l.state() == S::stopped);
        CHECK(send(l, E::backoff_elapsed) == LifecycleActions{});
        CHECK(l.state() == S::stopped);
    }

    TEST_CASE("stop at rest or while stopping changes nothing")
    {
        for (S s : {S::stopped, S::exited, S::fatal, S::stopping}) {
            Lifecycle l = in_state(s);
            CHECK(send(l, E::stop_requested) == LifecycleActions{});
            CHECK(l.state() == s);
        }
    }

    TEST_CASE("stop timeout escalates to SIGKILL and is remembered")
    {
        Lifecycle l = in_state(S::stopping);
        CHECK(send(l, E::stop_timeout_elapsed) == LifecycleActions{.send_kill = true});
        CHECK(l.state() == S::stopping);
        send(l, E::process_exited, false, 10s);
        CHECK(l.state() == S::stopped);
        CHECK(l.was_killed());
    }

    TEST_CASE("a manual stop is never undone by the restart policy")
    {
        Lifecycle l = in_state(S::running, policy(RestartPolicy::always));
        send(l, E::stop_requested);
        send(l, E::process_exited, false, 10s);
        CHECK(l.state() == S::stopped);
        for (E e : {E::backoff_elapsed, E::start_window_passed, E::stop_timeout_elapsed,
                    E::process_exited, E::spawned, E::spawn_failed}) {
            CHECK(send(l, e) == LifecycleActions{});
            CHECK(l.state() == S::stopped);
        }
    }

    TEST_CASE("restart of a live process stops it and then spawns")
    {
        Lifecycle l = in_state(S::running);
        LifecycleActions a = send(l, E::restart_requested);
        CHECK(a.send_stop_signal);
        CHECK(l.state() == S::stopping);
        a = send(l, E::process_exited, false, 10s);
        CHECK(a.spawn);
        CHECK(l.state() == S::starting);
    }

    TEST_CASE("restart at rest is a start, and a stop cancels a pending restart")
    {
        Lifecycle l = in_state(S::fatal);
        CHECK(send(l, E::restart_requested).spawn);
        CHECK(l.state() == S::starting);

        Lifecycle m = in_state(S::running);
        send(m, E::restart_requested);
        send(m, E::stop_requested);
        CHECK_FALSE(m.restart_pending());
        send(m, E::process_exited, false, 10s);
        CHECK(m.state() == S::stopped);
    }

    TEST_CASE("an exit after the start window follows the restart policy")
    {
        struct Row {
            RestartPolicy restart;
            bool success;
            S expected;
        };
        const std::vector<Row> rows{
            {RestartPolicy::always, true, S::starting},
            {RestartPolicy::always, false, S::starting},
            {RestartPolicy::on_failure, true, S::exited},
            {RestartPolicy::on_failure, false, S::starting},
            {RestartPolicy::never, true, S::exited},
            {RestartPolicy::never, false, S::exited},
        };
        for (const Row& row : rows) {
            Lifecycle l = in_state(S::running, policy(row.restart));
            LifecycleActions a = send(l, E::process_exited, row.success, 30s);
            CHECK(l.state() == row.expected);
            CHECK(a.spawn == (row.expected == S::starting));
            CHECK_FALSE(a.arm_backoff_timer.has_value());
        }
    }

    TEST_CASE("a restart after a long run is immediate and counted")
    {
        Lifecycle l = in_state(S::running);
        send(l, E::process_exited, false, 30s);
        CHECK(l.restarts() == 1);
        CHECK(l.failed_starts() == 0);
    }

    TEST_CASE("an exit inside the start window is a failed start with backoff")
    {
        Lifecycle l = in_state(S::starting);
        LifecycleActions a = send(l, E::process_exited, false, 500ms);
        CHECK(l.state() == S::backoff);
        REQUIRE(a.arm_backoff_timer.has_value());
        CHECK(*a.arm_backoff_timer == 1s);
        CHECK(a.cancel_timers);
        CHECK(l.failed_starts() == 1);
    }

    TEST_CASE("backoff doubles after each quick exit and stops at the cap")
    {
        Lifecycle l = in_state(S::starting);
        std::vector<Duration> delays;
        for (int i = 0; i < 3; ++i) {
            LifecycleActions a = send(l, E::process_exited, false, 100ms);
            REQUIRE(a.arm_backoff_timer.has_value());
            delays.push_back(*a.arm_backoff_timer);
            send(l, E::backoff_elapsed);
            send(l, E::spawned);
        }
        CHECK(delays == std::vector<Duration>{1s, 2s, 4s});
        CHECK(l.backoff_delay(4) == 5s);
        CHECK(l.backoff_delay(40) == 5s);
    }

    TEST_CASE("backoff doubling saturates at the cap instead of overflowing")
    {
        LifecyclePolicy p = policy();
        p.backoff = std::chrono::hours(24 * 365);
        p.backoff_max = std::chrono::hours(24 * 365);
        Lifecycle l(p);
        CHECK(l.backoff_delay(1) == p.backoff_max);
        CHECK(l.backoff_delay(60) == p.backoff_max);
        p.backoff = std::chrono::hours(24 * 200);
        Lifecycle m(p);
        CHECK(m.backoff_delay(2) == p.backoff_max);
    }

    TEST_CASE("failed starts beyond start_retries make the service fatal")
    {
        Lifecycle l = in_state(S::starting);
        for (int i = 0; i < 3; ++i) {
            send(l, E::process_exited, false, 100ms);
            CHECK(l.state() == S::backoff);
            send(l, E::backoff_elapsed);
            send(l, E::spawned);
        }
        CHECK(send(l, E::process_exited, false, 100ms) == LifecycleActions{.cancel_timers = true});
        CHECK(l.state() == S::fatal);
        CHECK(l.restarts() == 3);
    }

    TEST_CASE("unlimited retries keep retrying at backoff_max")
    {
        LifecyclePolicy p = policy();
        p.start_retries.reset();
        Lifecycle l(p);
        send(l, E::start_requested);
        for (int i = 0; i < 50; ++i) {
            send(l, E::spawn_failed);
            REQUIRE(l.state() == S::backoff);
            send(l, E::backoff_elapsed);
        }
        CHECK(l.backoff_delay(l.failed_starts()) == 5s);
    }

    TEST_CASE("the failure streak resets once a process stays up past the window")
    {
        Lifecycle l = in_state(S::starting);
        send(l, E::process_exited, false, 100ms);
        send(l, E::backoff_elapsed);
        send(l, E::spawned);
        send(l, E::start_window_passed);
        CHECK(l.failed_starts() == 1);
        send(l, E::process_exited, false, 60s);
        CHECK(l.failed_starts() == 0);
        CHECK(l.state() == S::starting);
    }

    TEST_CASE("start_seconds of zero still throttles a crash loop")
    {
        LifecyclePolicy p = policy();
        p.start_seconds = 0s;
        Lifecycle l(p);
        send(l, E::start_requested);
        send(l, E::spawned);
        LifecycleActions a = send(l, E::process_exited, false, 5ms);
        CHECK(l.state() == S::backoff);
        CHECK(a.arm_backoff_timer.has_value());
    }

    TEST_CASE("restart never: a failed start is fatal at once, a quick success is exited")
    {
        Lifecycle l = in_state(S::starting, policy(RestartPolicy::never));
        send(l, E::process_exited, false, 500ms);
        CHECK(l.state() == S::fatal);

        Lifecycle m = in_state(S::starting, policy(RestartPolicy::never));
        send(m, E::process_exited, true, 500ms);
        CHECK(m.state() == S::exited);
    }

    TEST_CASE("a job that exits 0 quickly under on-failure is exited, not retried")
    {
        Lifecycle l = in_state(S::starting);
        CHECK(send(l, E::process_exited, true, 10ms) == LifecycleActions{.cancel_timers = true});
        CHECK(l.state() == S::exited);
    }

    TEST_CASE("a failed spawn counts as a failed start")
    {
        Lifecycle l(policy());
        send(l, E::start_requested);
        LifecycleActions a = send(l, E::spawn_failed);
        CHECK(l.state() == S::backoff);
        CHECK(a.arm_backoff_timer == Duration(1s));
    }

    TEST_CASE("events that do not fit the state are ignored")
    {
        struct Row {
            S state;
            E event;
        };
        const std::vector<Row> rows{
            {S::stopped, E::spawned},           {S::stopped, E::process_exited},
            {S::stopped, E::backoff_elapsed},   {S::stopped, E::stop_timeout_elapsed},
            {S::running, E::spawned},           {S::running, E::start_window_passed},
            {S::running, E::backoff_elapsed},   {S::running, E::stop_timeout_elapsed},
            {S::backoff, E::spawned},           {S::backoff, E::process_exited},
            {S::backoff, E::start_window_passed}, {S::backoff, E::stop_timeout_elapsed},
            {S::stopping, E::spawned},          {S::stopping, E::backoff_elapsed},
            {S::stopping, E::start_window_passed}, {S::exited, E::process_exited},
            {S::fatal, E::backoff_elapsed},     {S::fatal, E::spawn_failed},
            {S::starting, E::backoff_elapsed},  {S::starting, E::stop_timeout_elapsed},
        };
        for (const Row& row : rows) {
            CAPTURE(to_string(row.state));
            CAPTURE(to_string(row.event));
            Lifecycle l = in_state(row.state);
            CHECK(send(l, row.event, false, 30s) == LifecycleActions{});
            CHECK(l.state() == row.state);
        }
    }

    TEST_CASE("the helper reaches every state of a notify service")
    {
        for (S s : all_states) {
            CHECK(in_state(s, notify_policy()).state() == s);
        }
    }

    TEST_CASE("a notify service arms start_timeout at spawn and runs on READY=1")
    {
        Lifecycle l(notify_policy());
        send(l, E::start_requested);
        CHECK(send(l, E::spawned) == LifecycleActions{.arm_start_timeout = true});
        CHECK(l.state() == S::starting);
        CHECK(send(l, E::start_window_passed) == LifecycleActions{});
        CHECK(l.state() == S::starting);
        CHECK(send(l, E::ready_reported) == LifecycleActions{.cancel_timers = true});
        CHECK(l.state() == S::running);
    }

    TEST_CASE("READY=1 and start_timeout matter only to a notify service that is starting")
    {
        for (S s : all_states) {
            for (E e : {E::ready_reported, E::start_timeout_elapsed}) {
                CAPTURE(to_string(s));
                CAPTURE(to_string(e));
                Lifecycle simple = in_state(s);
                CHECK(send(simple, e) == LifecycleActions{});
                CHECK(simple.state() == s);
                if (s == S::starting) {
                    continue;
                }
                Lifecycle notify = in_state(s, notify_policy());
                CHECK(send(notify, e) == LifecycleActions{});
                CHECK(notify.state() == s);
            }
        }
    }

    TEST_CASE("start_timeout stops a notify service and its exit is a failed start")
    {
        Lifecycle l = in_state(S::starting, notify_policy());
        CHECK(send(l, E::start_timeout_elapsed) ==
              LifecycleActions{.cancel_timers = true, .send_stop_signal = true,
                               .arm_stop_timer = true});
        CHECK(l.state() == S::stopping);
        CHECK(l.start_timed_out());
        // A clean exit on the stop signal after a long wait is still a failed start.
        LifecycleActions a = send(l, E::process_exited, true, 90s);
        CHECK(a.cancel_timers);
        CHECK(a.arm_backoff_timer == Duration(1s));
        CHECK(l.state() == S::backoff);
        CHECK(l.failed_starts() == 1);
        CHECK_FALSE(l.start_timed_out());
    }

    TEST_CASE("a start that times out escalates to SIGKILL like any stop")
    {
        Lifecycle l = timed_out();
        CHECK(send(l, E::stop_timeout_elapsed) == LifecycleActions{.send_kill = true});
        send(l, E::process_exited, false, 100s);
        CHECK(l.state() == S::backoff);
        CHECK(l.was_killed());
    }

    TEST_CASE("a start that times out under restart never is fatal, even after a clean exit")
    {
        for (bool success : {true, false}) {
            Lifecycle l = timed_out(RestartPolicy::never);
            CHECK(send(l, E::process_exited, success, 2s) ==
                  LifecycleActions{.cancel_timers = true});
            CHECK(l.state() == S::fatal);
        }
    }

    TEST_CASE("start timeouts beyond start_retries make a notify service fatal")
    {
        Lifecycle l = in_state(S::starting, notify_policy());
        for (int i = 0; i < 3; ++i) {
            send(l, E::start_timeout_elapsed);
            send(l, E::process_exited, false, 10s);
            REQUIRE(l.state() == S::backoff);
            send(l, E::backoff_elapsed);
            send(l, E::spawned);
        }
        send(l, E::start_timeout_elapsed);
        send(l, E::process_exited, false, 10s);
        CHECK(l.state() == S::fatal);
        CHECK(l.restarts() == 3);
    }

    TEST_CASE("a stop during a start-timeout stop wins over the failed start")
    {
        Lifecycle l = timed_out();
        CHECK(send(l, E::stop_requested) == LifecycleActions{});
        CHECK_FALSE(l.start_timed_out());
        send(l, E::process_exited, false, 10s);
        CHECK(l.state() == S::stopped);
        CHECK(l.failed_starts() == 0);
    }

    TEST_CASE("a start or restart during a start-timeout stop starts afresh")
    {
        for (E e : {E::start_requested, E::restart_requested}) {
            Lifecycle l = timed_out();
            CHECK(send(l, e) == LifecycleActions{});
            LifecycleActions a = send(l, E::process_exited, false, 10s);
            CHECK(a.spawn);
            CHECK(l.state() == S::starting);
            CHECK(l.failed_starts() == 0);
        }
    }

    TEST_CASE("a notify service that ends before READY=1 failed to start, however long it ran")
    {
        Lifecycle l = in_state(S::starting, notify_policy());
        LifecycleActions a = send(l, E::process_exited, false, 60s);
        CHECK(l.state() == S::backoff);
        CHECK(a.arm_backoff_timer == Duration(1s));

        Lifecycle m = in_state(S::starting, notify_policy(RestartPolicy::never));
        send(m, E::process_exited, true, 60s);
        CHECK(m.state() == S::exited);  // A job that finished without READY=1 completed.
    }

    TEST_CASE("a ready notify service follows the restart policy like any other")
    {
        Lifecycle quick = in_state(S::running, notify_policy());
        send(quick, E::process_exited, false, 500ms);
        CHECK(quick.state() == S::backoff);

        Lifecycle late = in_state(S::running, notify_policy());
        CHECK(send(late, E::process_exited, false, 30s).spawn);
        CHECK(late.restarts() == 1);
        CHECK(late.failed_starts() == 0);
    }

    TEST_CASE("states and events have names")
    {
        CHECK(to_string(S::backoff) == "backoff");
        CHECK(to_string(E::stop_timeout_elapsed) == "stop_timeout_elapsed");
        CHECK(to_string(E::ready_reported) == "ready_reported");
        CHECK(to_string(E::start_timeout_elapsed) == "start_timeout_elapsed");
        CHECK(has_process(S::stopping));
        CHECK_FALSE(has_process(S::backoff));
    }
}
