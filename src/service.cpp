#include "procsup/service.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "procsup/output_capture.hpp"
#include "procsup/pid_file.hpp"
#include "procsup/process_table.hpp"
#include "procsup/protocol.hpp"
#include "procsup/spawner.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace {

using Clock = std::chrono::steady_clock;

constexpr Duration drain_poll_interval = std::chrono::milliseconds(20);
// A service restarting within a second or two logs freely; a crash loop at a tiny backoff is
// cut to ten lines per ten seconds plus a count of what was left out.
constexpr int log_throttle_burst = 10;
constexpr Duration log_throttle_window = std::chrono::seconds(10);
constexpr int pipe_capacity = 1 << 20;

std::string seconds_text(Duration d)
{
    return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

std::optional<Pipe> make_pipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return std::nullopt;
    }
    // A larger pipe lets a burst of output wait in the kernel instead of blocking the child
    // while the daemon is busy; failure only means the default 64 KiB.
    ::fcntl(fds[1], F_SETPIPE_SZ, pipe_capacity);
    return Pipe{fds[0], fds[1]};
}

void close_fd(int& fd)
{
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

bool process_exists(pid_t pid)
{
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Why a PID file could not be created in its folder (an errno value), or 0. Checked before
// the spawn, so a bad path fails the start instead of leaving a service without its file.
int pid_file_folder_error(const std::filesystem::path& pidfile)
{
    struct stat st {};
    const auto folder = pidfile.parent_path();
    if (::stat(folder.c_str(), &st) != 0) {
        return errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        return ENOTDIR;
    }
    return ::access(folder.c_str(), W_OK) == 0 ? 0 : errno;
}

std::string_view policy_name(RestartPolicy policy)
{
    switch (policy) {
    case RestartPolicy::always:
        return "always";
    case RestartPolicy::on_failure:
        return "on-failure";
    case RestartPolicy::never:
        return "never";
    }
    return "on-failure";
}

std::string inherit_prefix(const std::string& name, std::size_t width)
{
    return fmt::format("{:<{}} | ", name, width);
}

bool needs_pipe(const OutputTarget& target)
{
    return target.kind == OutputTarget::Kind::file || target.kind == OutputTarget::Kind::inherit;
}

}  // namespace

bool OutputPipes::open(bool want_out, bool want_err)
{
    if (want_out) {
        const auto p = make_pipe();
        if (!p) {
            return false;
        }
        out = *p;
    }
    if (want_err) {
        const auto p = make_pipe();
        if (!p) {
            return false;
        }
        err = *p;
    }
    return true;
}

void OutputPipes::close_write_ends()
{
    close_fd(out.write_fd);
    close_fd(err.write_fd);
}

int OutputPipes::take_out_read_end()
{
    return std::exchange(out.read_fd, -1);
}

int OutputPipes::take_err_read_end()
{
    return std::exchange(err.read_fd, -1);
}

OutputPipes::~OutputPipes()
{
    close_write_ends();
    close_fd(out.read_fd);
    close_fd(err.read_fd);
}

Service::Service(boost::asio::io_context& io, ServiceConfig config,
                 std::shared_ptr<const Environment> base_environment, ChildWatcher& children)
    : io_(io),
      config_(std::move(config)),
      base_environment_(std::move(base_environment)),
      lifecycle_(LifecyclePolicy::from(config_)),
      since_(std::chrono::system_clock::now()),
      children_(children),
      log_throttle_(log_throttle_burst, log_throttle_window),
      start_timer_(io),
      backoff_timer_(io),
      stop_timer_(io),
      drain_timer_(io),
      health_timer_(io),
      watchdog_timer_(io)
{
    stdout_sink_ = make_sink(config_.stdout_target, "stdout");
    stderr_sink_ = make_sink(config_.stderr_target, "stderr");
}

void Service::report_stale_pid_file() const
{
    if (!config_.pidfile) {
        return;
    }
    const PidFileState found = inspect_pid_file(*config_.pidfile);
    using Kind = PidFileState::Kind;
    if (found.kind == Kind::live) {
        spdlog::warn("service '{}': PID file '{}' names PID {}, which runs but was not started "
                     "by this daemon; procsup will not signal it, and replaces the file when "
                     "the service starts",
                     config_.name, config_.pidfile->string(), *found.pid);
    } else if (found.kind == Kind::dead || found.kind == Kind::reused ||
               found.kind == Kind::invalid) {
        spdlog::info("service '{}': PID file '{}' is stale ({}); it is replaced when the service "
                     "starts",
                     config_.name, config_.pidfile->string(),
                     found.kind == Kind::invalid ? "not a PID"
                     : found.kind == Kind::dead  ? "its process is gone"
                                                 : "its PID now belongs to another program");
    }
}

std::shared_ptr<OutputSink> Service::make_sink(const OutputTarget& target, const char* stream)
{
    switch (target.kind) {
    case OutputTarget::Kind::file: {
        // A log folder that does not exist yet is made, as an operator would expect; if
        // that fails, the sink reports why once and keeps retrying.
        std::error_code ignored;
        std::filesystem::create_directories(target.path.parent_path(), ignored);
        return OutputSink::to_file(target.path, config_.log_max_size, config_.log_backups,
                                   config_.name);
    }
    case OutputTarget::Kind::inherit: {
        const int fd = std::string_view(stream) == "stderr" ? STDERR_FILENO : STDOUT_FILENO;
        return OutputSink::to_inherited_fd(fd, inherit_prefix(config_.name, name_width_));
    }
    case OutputTarget::Kind::null:
    case OutputTarget::Kind::merge_into_stdout:
    case OutputTarget::Kind::passthrough:
        return OutputSink::to_nothing(config_.name);
    }
    return OutputSink::to_nothing(config_.name);
}

void Service::start()
{
    waiting_reason_.clear();
    if (lifecycle_.state() == ServiceState::fatal || lifecycle_.state() == ServiceState::exited ||
        lifecycle_.state() == ServiceState::stopped) {
        message_.clear();
    }
    dispatch({LifecycleEvent::start_requested});
}

void Service::stop()
{
    waiting_reason_.clear();
    if (lifecycle_.state() == ServiceState::backoff) {
        // "retrying in 2s (attempt 2 of 6)" is no longer true once stopped; the exit that
        // led to the backoff stays in last_exit.
        message_ = "stopped during backoff";
    }
    dispatch({LifecycleEvent::stop_requested});
}

void Service::restart()
{
    waiting_reason_.clear();
    dispatch({LifecycleEvent::restart_requested});
}

void Service::set_waiting_reason(std::string reason)
{
    waiting_reason_ = std::move(reason);
}

void Service::abandon_start(std::string reason)
{
    waiting_reason_.clear();
    message_ = std::move(reason);
    spdlog::error("service '{}' not started: {}", config_.name, message_);
    notify(lifecycle_.state(), lifecycle_.state());
}

void Service::dispatch(const LifecycleInput& input)
{
    const ServiceState from = lifecycle_.state();
    const LifecycleActions actions = lifecycle_.handle(input);
    const ServiceState to = lifecycle_.state();
    if (from != to) {
        since_ = std::chrono::system_clock::now();
        if (to == ServiceState::running) {
            start_health_checks();
            arm_watchdog();
        } else if (from == ServiceState::running) {
            stop_health_checks();
            watchdog_timer_.cancel();
        }
        notify(from, to);
    }
    apply(actions);
}

void Service::start_health_checks()
{
    if (!config_.health || !main_pid_) {
        return;
    }
    if (!health_tracker_) {
        health_tracker_.emplace(*config_.health);
    }
    health_tracker_->reset(started_at_);
    health_output_.clear();
    CheckContext context{build_environment(), config_.directory, config_.user, config_.group,
                         config_.umask};
    health_probe_ = HealthProbe::create(io_, *config_.health, std::move(context), children_);
    // The first check runs as soon as the service counts as running, so dependents wait no
    // longer than they must; later ones `interval` after the end of the previous one.
    schedule_health_check(Duration::zero());
}

void Service::stop_health_checks()
{
    health_timer_.cancel();
    if (health_probe_) {
        health_probe_->cancel();
        health_probe_.reset();
    }
    if (health_tracker_) {
        health_tracker_->clear();
    }
}

void Service::schedule_health_check(Duration delay)
{
    health_timer_.expires_after(delay);
    health_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) {
            self->run_health_check();
        }
    });
}

void Service::run_health_check()
{
    if (!health_probe_) {
        return;
    }
    health_probe_->run([weak = weak_from_this()](HealthResult result) {
        if (auto self = weak.lock()) {
            self->on_health_result(result);
        }
    });
}

void Service::on_health_result(const HealthResult& result)
{
    if (!health_tracker_ || lifecycle_.state() != ServiceState::running) {
        return;
    }
    const HealthState before = health_tracker_->state();
    const HealthState after = health_tracker_->record(result.passed, Clock::now());
    health_output_ = result.output;
    if (before != after) {
        const auto level = after == HealthState::unhealthy ? spdlog::level::warn
                                                           : spdlog::level::info;
        spdlog::log(level, "service '{}' is {} ({})", config_.name, to_string(after),
                    result.output);
        notify(lifecycle_.state(), lifecycle_.state());
    }
    if (after == HealthState::unhealthy &&
        config_.health->on_unhealthy == UnhealthyAction::restart) {
        spdlog::warn("service '{}' failed {} health checks in a row; restarting it",
                     config_.name, health_tracker_->failures());
        message_ = fmt::format("restarting: unhealthy ({})", result.output);
        next_run_reason_ = fmt::format("restarted {}: unhealthy ({})",
                                       protocol::format_rfc3339(std::chrono::system_clock::now()),
                                       result.output);
        ++health_restarts_;
        dispatch({LifecycleEvent::restart_requested});
        return;
    }
    schedule_health_check(config_.health->interval);
}

bool Service::owns_process(pid_t pid) const
{
    if (!main_pid_) {
        return false;
    }
    if (pid == *main_pid_) {
        return true;
    }
    // The main process is not reaped yet, so the group it leads cannot be another one.
    const pid_t group = ::getpgid(pid);
    return group > 0 && group_id_ && group == *group_id_;
}

void Service::handle_notify(const NotifyMessage& message)
{
    if (config_.type != ServiceType::notify) {
        return;
    }
    if (message.status) {
        notify_status_ = *message.status;
    }
    if (message.ready && lifecycle_.state() == ServiceState::starting) {
        const Duration after = std::chrono::duration_cast<Duration>(Clock::now() - started_at_);
        spdlog::info("service '{}' is ready (READY=1 after {})", config_.name,
                     seconds_text(after));
        dispatch({LifecycleEvent::ready_reported});
    }
    if (message.watchdog && lifecycle_.state() == ServiceState::running) {
        arm_watchdog();
    }
    if (message.main_pid) {
        spdlog::debug("service '{}': ignoring MAINPID={}; procsup follows the process it "
                      "started",
                      config_.name, *message.main_pid);
    }
}

void Service::arm_watchdog()
{
    if (!config_.watchdog || config_.type != ServiceType::notify) {
        return;
    }
    watchdog_timer_.expires_after(*config_.watchdog);
    watchdog_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) {
            self->on_watchdog_expired();
        }
    });
}

void Service::on_watchdog_expired()
{
    if (lifecycle_.state() != ServiceState::running) {
        return;
    }
    const std::string silence = format_duration(*config_.watchdog);
    spdlog::warn("service '{}' stopped sending WATCHDOG=1 for {}; restarting it", config_.name,
                 silence);
    message_ = fmt::format("restarting: no WATCHDOG=1 for {}", silence);
    next_run_reason_ = fmt::format("restarted {}: no WATCHDOG=1 for {}",
                                   protocol::format_rfc3339(std::chrono::system_clock::now()),
                                   silence);
    ++watchdog_restarts_;
    dispatch({LifecycleEvent::restart_requested});
}

void Service::notify(ServiceState from, ServiceState to)
{
    if (from == to) {
        // No change of state, but something the supervisor waits on did change.
    } else if (to == ServiceState::fatal) {
        spdlog::error("service '{}' is fatal: {}; not retrying (start it again with "
                      "'procsup start {}')",
                      config_.name, message_.empty() ? "it failed to start" : message_,
                      config_.name);
    } else if (to == ServiceState::stopped && from == ServiceState::stopping) {
        spdlog::info("service '{}' stopped", config_.name);
    }
    if (!listener_) {
        return;
    }
    // Posted so that listeners never run inside a Service call and may call back into it.
    boost::asio::post(io_, [weak = weak_from_this(), from, to] {
        if (auto self = weak.lock(); self && self->listener_) {
            self->listener_(*self, from, to);
        }
    });
}

void Service::apply(const LifecycleActions& actions)
{
    if (actions.cancel_timers) {
        cancel_timers();
    }
    if (actions.send_stop_signal) {
        send_stop_signal();
    }
    if (actions.arm_stop_timer) {
        arm(stop_timer_, config_.stop_timeout, LifecycleEvent::stop_timeout_elapsed);
    }
    if (actions.send_kill) {
        send_kill();
    }
    if (actions.arm_backoff_timer) {
        arm(backoff_timer_, *actions.arm_backoff_timer, LifecycleEvent::backoff_elapsed);
    }
    if (actions.arm_start_timer) {
        arm(start_timer_, config_.start_seconds, LifecycleEvent::start_window_passed);
    }
    if (actions.arm_start_timeout) {
        arm(start_timer_, config_.start_timeout, LifecycleEvent::start_timeout_elapsed);
    }
    if (actions.spawn) {
        if (group_id_) {
            spawn_pending_ = true;  // The previous run's group is still draining.
        } else {
            spawn_process();
        }
    }
}

void Service::cancel_timers()
{
    start_timer_.cancel();
    backoff_timer_.cancel();
    stop_timer_.cancel();
}

void Service::arm(boost::asio::steady_timer& timer, Duration delay, LifecycleEvent event)
{
    timer.expires_after(delay);
    timer.async_wait([weak = weak_from_this(), event](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self) {
            return;  // Cancelled: the state moved on.
        }
        self->on_timer(event);
    });
}

void Service::on_timer(LifecycleEvent event)
{
    if (event == LifecycleEvent::start_timeout_elapsed &&
        lifecycle_.state() == ServiceState::starting) {
        message_ = fmt::format("did not send READY=1 within {}",
                               format_duration(config_.start_timeout));
        spdlog::warn("service '{}' {}; stopping it", config_.name, message_);
    }
    dispatch({event});
}

std::vector<std::string> Service::build_environment() const
{
    Environment env = *base_environment_;
    if (config_.user) {
        passwd pw{};
        passwd* found = nullptr;
        char buffer[4096];
        if (::getpwnam_r(config_.user->c_str(), &pw, buffer, sizeof buffer, &found) == 0 &&
            found) {
            env["HOME"] = pw.pw_dir;
            env["USER"] = pw.pw_name;
            env["LOGNAME"] = pw.pw_name;
            env["SHELL"] = pw.pw_shell;
        }
    }
    for (const auto& [key, value] : config_.environment) {
        env[key] = value;
    }
    if (config_.type == ServiceType::notify && notify_socket_) {
        // After `environment`: these address procsup, which alone decides them.
        env["NOTIFY_SOCKET"] = notify_socket_->string();
        if (config_.watchdog) {
            using std::chrono::microseconds;
            const auto usec = std::chrono::duration_cast<microseconds>(*config_.watchdog);
            env["WATCHDOG_USEC"] = std::to_string(usec.count());
        }
    }
    // Lets procsup recognise the service's processes that leave its process group.
    env[std::string(service_marker_variable)] = config_.name;
    std::vector<std::string> result;
    result.reserve(env.size());
    for (const auto& [key, value] : env) {
        result.push_back(key + "=" + value);
    }
    return result;
}

void Service::spawn_process()
{
    spawn_pending_ = false;
    ++spawn_attempts_;
    escaped_signalled_.clear();
    notify_status_.clear();
    if (config_.type == ServiceType::notify && !notify_socket_) {
        on_spawn_failed("no notify socket to pass in NOTIFY_SOCKET (see the daemon log)");
        return;
    }
    if (config_.pidfile) {
        if (const int err = pid_file_folder_error(*config_.pidfile)) {
            on_spawn_failed(fmt::format("cannot write PID file '{}': {}",
                                        config_.pidfile->string(), std::strerror(err)));
            return;
        }
    }

    OutputPipes pipes;
    if (!pipes.open(needs_pipe(config_.stdout_target), needs_pipe(config_.stderr_target))) {
        on_spawn_failed(fmt::format("cannot create output pipe: {}", std::strerror(errno)));
        return;
    }

    const SpawnResult result = spawn(make_spawn_request(pipes));
    pipes.close_write_ends();  // The child has its copies; EOF must come when it is done.
    if (const auto* error = std::get_if<SpawnError>(&result)) {
        on_spawn_failed(error->to_string());
        return;
    }
    on_spawned(std::get<pid_t>(result), pipes);
}

SpawnRequest Service::make_spawn_request(const OutputPipes& pipes) const
{
    SpawnRequest request;
    request.argv = config_.command;
    request.env = build_environment();
    request.directory = config_.directory;
    request.umask = config_.umask;
    request.user = config_.user;
    request.group = config_.group;
    request.ignore_sighup = config_.nohup;
    request.stdout_fd = config_.stdout_target.kind == OutputTarget::Kind::passthrough
                            ? STDOUT_FILENO
                            : pipes.out.write_fd;
    request.stderr_fd = pipes.err.write_fd;
    if (config_.stderr_target.kind == OutputTarget::Kind::merge_into_stdout) {
        request.stderr_fd = request.stdout_fd;
    } else if (config_.stderr_target.kind == OutputTarget::Kind::passthrough) {
        request.stderr_fd = STDERR_FILENO;
    }
    return request;
}

void Service::on_spawned(pid_t pid, OutputPipes& pipes)
{
    main_pid_ = pid;
    group_id_ = pid;
    started_at_ = Clock::now();
    drain_signalled_ = false;
    // Why this run was started, when it was not the operator's choice; else nothing stale.
    message_ = std::exchange(next_run_reason_, std::string());
    stdout_sink_->mark_run_start();
    stderr_sink_->mark_run_start();
    if (const int fd = pipes.take_out_read_end(); fd >= 0) {
        std::make_shared<OutputReader>(io_, fd, stdout_sink_)->start();
    }
    if (const int fd = pipes.take_err_read_end(); fd >= 0) {
        std::make_shared<OutputReader>(io_, fd, stderr_sink_)->start();
    }
    if (config_.pidfile) {
        if (const std::error_code ec = write_pid_file(*config_.pidfile, pid)) {
            spdlog::warn("service '{}': cannot write PID file '{}': {}; continuing without it",
                         config_.name, config_.pidfile->string(), ec.message());
        }
    }
    if (may_log_lifecycle()) {
        spdlog::info("service '{}' started (pid {})", config_.name, pid);
    }
    dispatch({LifecycleEvent::spawned});
}

void Service::on_spawn_failed(const std::string& reason)
{
    message_ = reason;
    last_exit_.reset();
    dispatch({LifecycleEvent::spawn_failed});
    report_outcome(fmt::format("failed to start: {}", reason), reason, lifecycle_);
}

void Service::report_outcome(const std::string& what, const std::string& cause,
                             const Lifecycle& outcome)
{
    const bool log = may_log_lifecycle();
    switch (outcome.state()) {
    case ServiceState::backoff: {
        const int attempt = outcome.failed_starts() + 1;
        const std::string of = outcome.policy().start_retries
                                   ? fmt::format(" of {}", *outcome.policy().start_retries + 1)
                                   : std::string();
        const std::string delay = format_duration(outcome.backoff_delay(outcome.failed_starts()));
        message_ = fmt::format("{}; retrying in {} (attempt {}{})", cause, delay, attempt, of);
        if (log) {
            spdlog::warn("service '{}' {}; retrying in {} (attempt {}{})", config_.name, what,
                         delay, attempt, of);
        }
        return;
    }
    case ServiceState::starting:
        if (log) {
            spdlog::info("service '{}' {}; restarting now", config_.name, what);
        }
        return;
    case ServiceState::exited:
        if (log) {
            spdlog::info("service '{}' {}; not restarting (restart = {})", config_.name, what,
                         policy_name(config_.restart));
        }
        return;
    case ServiceState::fatal:
        return;  // notify() has said it at error level.
    case ServiceState::stopped:
    case ServiceState::running:
    case ServiceState::stopping:
        if (log) {
            spdlog::info("service '{}' {}", config_.name, what);
        }
        return;
    }
}

bool Service::may_log_lifecycle()
{
    const LogThrottle::Verdict verdict = log_throttle_.check(Clock::now());
    if (verdict.suppressed) {
        spdlog::info("service '{}': {} lifecycle log lines left out in the last {} (it is "
                     "restarting quickly)",
                     config_.name, *verdict.suppressed, format_duration(log_throttle_window));
    }
    return verdict.log;
}

bool Service::handle_exit(pid_t pid, int wait_status)
{
    if (!main_pid_ || *main_pid_ != pid) {
        return false;
    }
    on_main_exited(wait_status);
    return true;
}

void Service::on_main_exited(int wait_status)
{
    const Duration uptime = std::chrono::duration_cast<Duration>(Clock::now() - started_at_);
    const pid_t pid = *main_pid_;
    main_pid_.reset();
    notify_status_.clear();
    last_exit_ = ExitStatus::from_wait_status(wait_status);
    if (config_.pidfile) {
        remove_pid_file(*config_.pidfile, pid);
    }

    const LifecycleInput input{LifecycleEvent::process_exited,
                               last_exit_->is_success(config_.success_exit_codes), uptime};
    const bool leftovers = config_.kill_group && (group_alive() || !escaped_processes().empty());
    if (!leftovers) {
        group_id_.reset();
    }
    if (lifecycle_.state() == ServiceState::stopping) {
        if (leftovers) {
            held_exit_ = input;  // Stopped means the whole group is gone.
            start_draining();
            return;
        }
        finish_stop(input);
        return;
    }
    const std::string what = describe_exit(uptime);
    message_ = what;
    // Said before it happens, so the log reads in order: the exit, then the new start.
    Lifecycle outcome = lifecycle_;
    outcome.handle(input);
    report_outcome(what, what, outcome);
    dispatch(input);
    if (leftovers) {
        start_draining();
    }
}

std::string Service::describe_exit(Duration uptime) const
{
    const std::string how = last_exit_->signal
                                ? fmt::format("was {}", last_exit_->describe())
                                : fmt::format("exited with status {}", *last_exit_->code);
    return fmt::format("{} after {}", how, seconds_text(uptime));
}

void Service::finish_stop(const LifecycleInput& exit)
{
    // A start that timed out ends as a failed start; say what comes next, as for a crash.
    const bool timed_out = lifecycle_.start_timed_out();
    const std::string cause = message_;
    dispatch(exit);
    if (timed_out && lifecycle_.state() == ServiceState::backoff) {
        report_outcome(cause, cause, lifecycle_);
    }
}

void Service::start_draining()
{
    drain_deadline_ = Clock::now() + config_.stop_timeout;
    if (lifecycle_.state() != ServiceState::stopping && !drain_signalled_) {
        spdlog::info("service '{}': stopping what is left of its process group after the main "
                     "process ended",
                     config_.name);
        drain_signalled_ = true;
        signal_group(config_.stop_signal);
        signal_group(SIGCONT);
    }
    poll_drain();
}

void Service::poll_drain()
{
    const std::vector<pid_t> escaped = escaped_processes();
    if (!group_alive() && escaped.empty()) {
        on_drained();
        return;
    }
    // A process that left the group shows up here once its parent died and it was
    // re-parented to procsup: it gets the stop signal then, like the group before it.
    for (pid_t pid : escaped) {
        if (escaped_signalled_.insert(pid).second) {
            ::kill(pid, config_.stop_signal);
            ::kill(pid, SIGCONT);
        }
    }
    if (lifecycle_.state() != ServiceState::stopping && Clock::now() >= drain_deadline_) {
        spdlog::warn("service '{}': leftover processes did not stop within {}; sending SIGKILL "
                     "to the process group",
                     config_.name, format_duration(config_.stop_timeout));
        signal_group(SIGKILL);
    }
    drain_timer_.expires_after(drain_poll_interval);
    drain_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) {
            self->poll_drain();
        }
    });
}

void Service::on_drained()
{
    group_id_.reset();
    drain_timer_.cancel();
    if (held_exit_) {
        const LifecycleInput input = *held_exit_;
        held_exit_.reset();
        finish_stop(input);
    } else {
        notify(lifecycle_.state(), lifecycle_.state());
    }
    if (spawn_pending_ && !group_id_) {
        spawn_process();
    }
}

void Service::send_stop_signal()
{
    spdlog::debug("service '{}': sending {}", config_.name, signal_name(config_.stop_signal));
    if (config_.kill_group) {
        signal_group(config_.stop_signal);
        signal_group(SIGCONT);  // A stopped process cannot act on its stop signal.
    } else if (main_pid_) {
        ::kill(*main_pid_, config_.stop_signal);
        ::kill(*main_pid_, SIGCONT);
    }
    if (!main_pid_ && (group_id_ || !escaped_processes().empty())) {
        start_draining();
    }
}

void Service::send_kill()
{
    if (std::exchange(killed_early_, false)) {
        spdlog::warn("service '{}': sending SIGKILL to its process group (a second stop "
                     "signal to the daemon)",
                     config_.name);
    } else {
        spdlog::warn("service '{}' did not stop within {}; sending SIGKILL to its process group",
                     config_.name, format_duration(config_.stop_timeout));
    }
    signal_group(SIGKILL);
}

bool Service::signal_group(int signo)
{
    bool sent = false;
    if (group_id_ && group_alive()) {
        sent = ::kill(-*group_id_, signo) == 0;
    }
    for (pid_t pid : escaped_processes()) {
        // An escaped process is procsup's unreaped child, so its PID is still its own; the
        // group it leads (if any) cannot have been reused either.
        ::kill(pid, signo);
        if (process_group_of(pid) == pid) {
            ::kill(-pid, signo);
        }
        sent = true;
    }
    return sent;
}

std::vector<pid_t> Service::escaped_processes() const
{
    std::vector<pid_t> escaped;
    if (!config_.kill_group) {
        return escaped;
    }
    const std::string marker = std::string(service_marker_variable) + "=" + config_.name;
    for (pid_t pid : direct_children()) {
        // Known children (services' main processes, health checks) are skipped before the
        // costly look into /proc/PID/environ: in steady state that is every child.
        if (pid != main_pid_.value_or(0) && !(is_known_child_ && is_known_child_(pid)) &&
            process_group_of(pid) != group_id_.value_or(0) && environment_contains(pid, marker)) {
            escaped.push_back(pid);
        }
    }
    return escaped;
}

bool Service::group_alive() const
{
    if (!group_id_) {
        return false;
    }
    if (main_pid_) {
        return true;  // Not reaped yet, so its PID (the group ID) cannot have been reused.
    }
    // The leader is reaped. The kernel does not hand out a PID that is still in use as a
    // process group ID, so if a process with that PID exists, the group is gone and the
    // number now belongs to someone else: never signal it.
    if (process_exists(*group_id_)) {
        return false;
    }
    return ::kill(-*group_id_, 0) == 0 || errno == EPERM;
}

bool Service::has_live_processes() const
{
    // group_id_ is kept until the group and any escaped processes are gone (on_drained).
    return main_pid_.has_value() || group_id_.has_value();
}

std::error_code Service::send_signal(int signo)
{
    if (!main_pid_) {
        return std::make_error_code(std::errc::no_such_process);
    }
    const int rc = config_.kill_group ? ::kill(-*group_id_, signo) : ::kill(*main_pid_, signo);
    return rc == 0 ? std::error_code{} : std::error_code(errno, std::generic_category());
}

std::error_code Service::reload()
{
    if (!main_pid_) {
        return std::make_error_code(std::errc::no_such_process);
    }
    // Not yet reaped, so the PID is still the service's own.
    return ::kill(*main_pid_, config_.reload_signal) == 0
               ? std::error_code{}
               : std::error_code(errno, std::generic_category());
}

void Service::reopen_logs()
{
    stdout_sink_->reopen();
    stderr_sink_->reopen();
}

void Service::set_name_width(std::size_t width)
{
    name_width_ = width;
    stdout_sink_->set_prefix(inherit_prefix(config_.name, width));
    stderr_sink_->set_prefix(inherit_prefix(config_.name, width));
}

std::shared_ptr<OutputSink> Service::output_sink(bool stderr_stream) const
{
    const bool merged = config_.stderr_target.kind == OutputTarget::Kind::merge_into_stdout;
    return stderr_stream && !merged ? stderr_sink_ : stdout_sink_;
}

bool Service::needs_restart_for(const ServiceConfig& config) const
{
    ServiceConfig live = config;
    // These apply to the next decision or the next write; the process needs no restart.
    live.restart = config_.restart;
    live.start_retries = config_.start_retries;
    live.backoff = config_.backoff;
    live.backoff_max = config_.backoff_max;
    live.log_max_size = config_.log_max_size;
    live.log_backups = config_.log_backups;
    live.health = config_.health;
    live.autostart = config_.autostart;
    live.essential = config_.essential;
    live.success_exit_codes = config_.success_exit_codes;
    live.stop_timeout = config_.stop_timeout;
    live.depends_on = config_.depends_on;
    live.start_timeout = config_.start_timeout;
    return !(live == config_);
}

void Service::update_config(ServiceConfig config)
{
    const bool outputs_changed = config.stdout_target != config_.stdout_target ||
                                 config.stderr_target != config_.stderr_target;
    config_ = std::move(config);
    lifecycle_.set_policy(LifecyclePolicy::from(config_));
    if (outputs_changed) {
        auto old_stdout = std::exchange(stdout_sink_, make_sink(config_.stdout_target, "stdout"));
        auto old_stderr = std::exchange(stderr_sink_, make_sink(config_.stderr_target, "stderr"));
        // `procsup logs -f` keeps following the service, wherever its output goes now.
        stdout_sink_->adopt_listeners(*old_stdout);
        stderr_sink_->adopt_listeners(*old_stderr);
    } else {
        stdout_sink_->set_limits(config_.log_max_size, config_.log_backups);
        stderr_sink_->set_limits(config_.log_max_size, config_.log_backups);
    }
}

ServiceStatus Service::status() const
{
    ServiceStatus s;
    s.name = config_.name;
    s.state = lifecycle_.state();
    if (!waiting_reason_.empty() && s.state == ServiceState::stopped) {
        s.state = ServiceState::starting;  // Held back until its dependencies are ready.
    }
    s.pid = main_pid_;
    if (main_pid_) {
        s.uptime = std::chrono::duration_cast<Duration>(Clock::now() - started_at_);
    }
    s.restarts = lifecycle_.restarts() + health_restarts_ + watchdog_restarts_;
    s.failed_starts = lifecycle_.failed_starts();
    s.health = health();
    s.health_output = health_output_;
    s.health_failures = health_tracker_ ? health_tracker_->failures() : 0;
    s.last_exit = last_exit_;
    s.since = since_;
    s.message = waiting_reason_.empty() ? message_ : waiting_reason_;
    s.notify_status = notify_status_;
    return s;
}

}  // namespace procsup
