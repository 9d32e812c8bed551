// One supervised service at run time: ties the pure Lifecycle table to a real process, its
// timers, its output capture and its PID file. Lives on the event loop's thread only.
//
// The process runs in its own session, so its process group ID is its PID. When the main
// process exits and members of its group are left (workers, `cmd &` in a shell), they are
// stopped too, and the next run does not start before they are gone: a restarted server
// never finds its port held by the workers of the previous run.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>

#include "procsup/config.hpp"
#include "procsup/exit_status.hpp"
#include "procsup/health_check.hpp"
#include "procsup/lifecycle.hpp"
#include "procsup/log_throttle.hpp"
#include "procsup/notify_message.hpp"
#include "procsup/service_status.hpp"

namespace procsup {

class OutputSink;
struct SpawnRequest;

// A pipe: the read end for the daemon, the write end for the child.
struct Pipe {
    int read_fd = -1;
    int write_fd = -1;
};

// The output pipes of one run. Closes whatever it still owns when destroyed, so no path
// leaks a descriptor.
struct OutputPipes {
    OutputPipes() = default;
    OutputPipes(const OutputPipes&) = delete;
    OutputPipes& operator=(const OutputPipes&) = delete;
    ~OutputPipes();

    bool open(bool want_out, bool want_err);  // false with errno set
    void close_write_ends();
    int take_out_read_end();  // -1 when there is none
    int take_err_read_end();

    Pipe out;
    Pipe err;
};

class Service : public std::enable_shared_from_this<Service> {
public:
    // Called on the loop (posted, never from inside a Service call) after each state change.
    using StateListener = std::function<void(Service&, ServiceState from, ServiceState to)>;

    // `base_environment` is the daemon's environment without the variables that belong to
    // procsup itself (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*).
    Service(boost::asio::io_context& io, ServiceConfig config,
            std::shared_ptr<const Environment> base_environment, ChildWatcher& children);
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    void start();
    void stop();
    void restart();
    // While stopping: SIGKILL now instead of at stop_timeout.
    void kill_now()
    {
        killed_early_ = true;  // so that the log says why, not "did not stop within"
        dispatch({LifecycleEvent::stop_timeout_elapsed});
    }

    // Sends `signo` to the service's process (its group when kill_group is set). Fails with
    // ESRCH when no process of the service runs.
    std::error_code send_signal(int signo);
    // Sends reload_signal to the main process only, whatever kill_group says: a server that
    // reloads in place (gunicorn, nginx) handles it in its master, and its workers, which
    // share the group, would die of a SIGHUP they do not handle.
    std::error_code reload();
    void reopen_logs();
    // Pads the name in the prefix of "inherit" lines to `width` ("web    | "), as the longest
    // service name needs.
    void set_name_width(std::size_t width);
    // Where the stream's lines go (stdout's sink for stderr merged into stdout).
    std::shared_ptr<OutputSink> output_sink(bool stderr_stream) const;

    // Reaper dispatch: returns true when `pid` was this service's main process.
    bool handle_exit(pid_t pid, int wait_status);

    // Takes a new definition. Settings that need no new process (restart policy, backoff,
    // log limits, health settings) apply at once; the caller restarts the service when
    // needs_restart_for() says so.
    void update_config(ServiceConfig config);
    bool needs_restart_for(const ServiceConfig& config) const;

    // Shown in status while the supervisor holds the start back (dependencies).
    void set_waiting_reason(std::string reason);
    const std::string& waiting_reason() const { return waiting_reason_; }
    // Gives up a start that was held back, saying why (a dependency failed for good).
    void abandon_start(std::string reason);

    void set_listener(StateListener listener) { listener_ = std::move(listener); }
    // Tells children of the daemon that belong to someone (any service's main process, a
    // health check) from escaped ones.
    void set_known_child_test(std::function<bool(pid_t)> test)
    {
        is_known_child_ = std::move(test);
    }

    // The daemon's notify socket, passed in NOTIFY_SOCKET to a service of type = "notify";
    // nullopt when there is none (such a service then fails to start).
    void set_notify_socket(std::optional<std::filesystem::path> path)
    {
        notify_socket_ = std::move(path);
    }
    // True when `pid` may speak for the service on the notify socket: its main process, or
    // a member of its process group while the main process lives.
    bool owns_process(pid_t pid) const;
    // Acts on a message from one of the service's own processes (see owns_process).
    void handle_notify(const NotifyMessage& message);

    const std::string& name() const { return config_.name; }
    const ServiceConfig& config() const { return config_; }
    ServiceState state() const { return lifecycle_.state(); }
    bool was_killed() const { return lifecycle_.was_killed(); }
    const std::optional<ExitStatus>& last_exit() const { return last_exit_; }
    std::optional<pid_t> main_pid() const { return main_pid_; }
    HealthState health() const
    {
        return health_tracker_ ? health_tracker_->state() : HealthState::none;
    }
    // Counts every attempt to spawn, so callers can tell an outcome from an older one.
    unsigned spawn_attempts() const { return spawn_attempts_; }
    const std::string& message() const { return message_; }
    bool has_live_processes() const;
    ServiceStatus status() const;

    // Logs what the service's PID file names, if it names a process. Called once the daemon
    // owns its PID file and socket: a second daemon that is refused must not write its
    // findings (a "live" PID that the first daemon started) into the first one's log.
    void report_stale_pid_file() const;

private:
    bool may_log_lifecycle();
    void dispatch(const LifecycleInput& input);
    void apply(const LifecycleActions& actions);
    void notify(ServiceState from, ServiceState to);
    void spawn_process();
    SpawnRequest make_spawn_request(const OutputPipes& pipes) const;
    void on_spawned(pid_t pid, OutputPipes& pipes);
    void on_spawn_failed(const std::string& reason);
    void on_main_exited(int wait_status);
    std::string describe_exit(Duration uptime) const;
    void report_outcome(const std::string& what, const std::string& cause,
                        const Lifecycle& outcome);
    void start_draining();
    void poll_drain();
    void on_drained();
    void send_stop_signal();
    void send_kill();
    bool signal_group(int signo);
    bool group_alive() const;
    // Children of the daemon that carry this service's marker but left its process group.
    std::vector<pid_t> escaped_processes() const;
    void cancel_timers();
    void arm(boost::asio::steady_timer& timer, Duration delay, LifecycleEvent event);
    void on_timer(LifecycleEvent event);
    void finish_stop(const LifecycleInput& exit);
    std::vector<std::string> build_environment() const;
    std::shared_ptr<OutputSink> make_sink(const OutputTarget& target, const char* stream);
    void start_health_checks();
    void stop_health_checks();
    void schedule_health_check(Duration delay);
    void run_health_check();
    void on_health_result(const HealthResult& result);
    void arm_watchdog();
    void on_watchdog_expired();

    boost::asio::io_context& io_;
    ServiceConfig config_;
    std::shared_ptr<const Environment> base_environment_;
    Lifecycle lifecycle_;
    StateListener listener_;
    std::function<bool(pid_t)> is_known_child_;

    std::optional<pid_t> main_pid_;
    std::optional<pid_t> group_id_;  // kept after the main process is gone, while draining
    std::chrono::steady_clock::time_point started_at_{};
    std::optional<ExitStatus> last_exit_;
    std::optional<LifecycleInput> held_exit_;  // an exit while stopping, held until drained
    unsigned spawn_attempts_ = 0;
    int health_restarts_ = 0;  // restarts for failing health checks (the table counts crashes)
    int watchdog_restarts_ = 0;  // restarts for a silent watchdog
    std::set<pid_t> escaped_signalled_;  // escaped processes already sent the stop signal
    bool spawn_pending_ = false;               // a spawn waiting for the old group to go
    bool drain_signalled_ = false;
    bool killed_early_ = false;
    std::chrono::steady_clock::time_point drain_deadline_{};
    std::chrono::system_clock::time_point since_;
    std::string message_;
    std::string next_run_reason_;  // shown once the next run starts: why it was restarted
    std::string waiting_reason_;
    ChildWatcher& children_;
    LogThrottle log_throttle_;
    std::optional<HealthTracker> health_tracker_;
    std::unique_ptr<HealthProbe> health_probe_;
    std::string health_output_;
    std::optional<std::filesystem::path> notify_socket_;
    std::string notify_status_;  // the last STATUS= of the current run

    std::shared_ptr<OutputSink> stdout_sink_;
    std::shared_ptr<OutputSink> stderr_sink_;
    std::size_t name_width_ = 0;

    boost::asio::steady_timer start_timer_;
    boost::asio::steady_timer backoff_timer_;
    boost::asio::steady_timer stop_timer_;
    boost::asio::steady_timer drain_timer_;
    boost::asio::steady_timer health_timer_;
    boost::asio::steady_timer watchdog_timer_;
};

}  // namespace procsup
