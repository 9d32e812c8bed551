#include "procsup/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "procsup/config.hpp"
#include "procsup/control_server.hpp"
#include "procsup/daemon_log.hpp"
#include "procsup/dbus_api.hpp"
#include "procsup/pid_file.hpp"
#include "procsup/process_table.hpp"
#include "procsup/protocol.hpp"
#include "procsup/supervisor.hpp"
#include "procsup/systemd_notify.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace {

// What `procsup run` passes on to its command, as tini does. TERM and INT stop it instead
// (with the same signal), CHLD is procsup's own.
constexpr int forwarded_signals[] = {SIGQUIT, SIGUSR2, SIGWINCH, SIGALRM, SIGTSTP, SIGCONT,
                                     SIGTTIN, SIGTTOU, SIGPWR};

// The write end of the pipe through which a detached daemon tells the waiting parent that
// it is ready ("ok") or why it gave up. -1 when not detached.
class ReadinessReport {
public:
    explicit ReadinessReport(int fd = -1) : fd_(fd) {}

    void ready(const std::string& detail = {})
    {
        send(detail.empty() ? "ok\n" : "ok " + detail + "\n");
    }

    // In the foreground the reason goes to stderr; detached, the parent prints it.
    void failed(const std::string& reason)
    {
        if (fd_ < 0) {
            std::fprintf(stderr, "procsup: %s\n", reason.c_str());
        }
        send("error: " + reason + "\n");
    }

private:
    void send(const std::string& text)
    {
        if (fd_ < 0) {
            return;
        }
        [[maybe_unused]] ssize_t n = ::write(fd_, text.data(), text.size());
        ::close(fd_);
        fd_ = -1;
    }

    int fd_;
};

void redirect_stdio_to_null()
{
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        return;
    }
    // dup2 clears FD_CLOEXEC on the copies, so the services' inherit mode still works.
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) {
        ::close(null_fd);
    }
}

// The parent's side of --detach: waits for the daemon's report and turns it into an exit
// status. The pipe closes without a report only when the daemon died during start-up.
int wait_for_detached_daemon(int read_fd, pid_t intermediate)
{
    std::string report;
    char buffer[512];
    for (;;) {
        const ssize_t n = ::read(read_fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        report.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(read_fd);
    int status = 0;
    ::waitpid(intermediate, &status, 0);

    if (report == "ok\n") {
        return 0;
    }
    if (report.starts_with("ok ")) {
        std::fputs(report.c_str() + 3, stdout);  // `procsup run --detach` prints the PID.
        return 0;
    }
    if (report.starts_with("error: ")) {
        std::fprintf(stderr, "procsup: %s", report.substr(7).c_str());
        return 1;
    }
    std::fprintf(stderr, "procsup: the daemon exited during start-up; see its log\n");
    return 1;
}

// Double fork: the daemon is neither a session leader (so it can never acquire a
// controlling terminal) nor a child of the caller. Returns the parent's exit status in the
// original process, and nullopt in the daemon, with `report` set up.
std::optional<int> detach(ReadinessReport& report)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        std::perror("procsup: pipe");
        return 1;
    }
    const pid_t first = ::fork();
    if (first < 0) {
        std::perror("procsup: fork");
        return 1;
    }
    if (first > 0) {
        ::close(fds[1]);
        return wait_for_detached_daemon(fds[0], first);
    }
    ::close(fds[0]);
    ::setsid();
    const pid_t second = ::fork();
    if (second != 0) {
        _exit(second < 0 ? 1 : 0);
    }
    if (::chdir("/") != 0) {
        // Harmless: every path in the config is absolute already.
    }
    redirect_stdio_to_null();
    report = ReadinessReport(fds[1]);
    return std::nullopt;
}

// In a container (procsup is PID 1) or under journald, output belongs on the daemon's own
// stdout, where the log collector reads it: services that name no `stdout` inherit it.
void apply_output_defaults(Config& config)
{
    if (::getpid() != 1 && std::getenv("JOURNAL_STREAM") == nullptr) {
        return;
    }
    for (ServiceConfig& s : config.services) {
        if (s.stdout_is_default) {
            s.stdout_target = OutputTarget{OutputTarget::Kind::inherit, {}};
        }
    }
}

class Daemon {
public:
    Daemon(Config config, const DaemonOptions& options, ReadinessReport& report)
        : config_(std::move(config)),
          options_(options),
          report_(report),
          supervisor_(io_, config_),
          signals_(io_),
          notifier_(io_),
          server_(io_, supervisor_,
                  DaemonControls{[this] { begin_shutdown(); }, [this] { reopen_logs(); },
                                 [this](bool dry_run) { return update(dry_run); }})
    {
    }

    int run();

private:
    bool set_up();
    void wait_for_signal();
    void on_signal(int signo);
    void begin_shutdown();
    void reopen_logs();
    boost::json::object update(bool dry_run);
    void tell_systemd();
    void wait_for_orphans();
    void poll_orphans();
    void finish();
    void forward(int signo);
    void use_as_stop_signal(int signo);
    int command_status() const;

    boost::asio::io_context io_;
    Config config_;
    const DaemonOptions& options_;
    ReadinessReport& report_;
    Supervisor supervisor_;
    boost::asio::signal_set signals_;
    SystemdNotifier notifier_;
    boost::asio::steady_timer orphan_timer_{io_};
    std::chrono::steady_clock::time_point orphan_deadline_{};
    ControlServer server_;
    DbusApi dbus_{io_, supervisor_, config_.supervisor};
    DaemonPidFile pidfile_;
    int exit_status_ = 0;
};

bool Daemon::set_up()
{
    if (config_.supervisor.pidfile) {
        std::error_code ignored;  // acquire() reports a directory that cannot be made.
        std::filesystem::create_directories(config_.supervisor.pidfile->parent_path(), ignored);
        std::string error;
        std::string warning;
        if (!pidfile_.acquire(*config_.supervisor.pidfile, error, warning)) {
            report_.failed(error);
            return false;
        }
        if (!warning.empty()) {
            spdlog::warn("{}", warning);
        }
    }
    std::string error;
    if (!config_.supervisor.socket.empty() && !server_.listen(config_.supervisor, error)) {
        report_.failed(error);
        return false;
    }
    if (!dbus_.start(error)) {
        report_.failed(error);
        return false;
    }
    return true;
}

int Daemon::run()
{
    // Signals are taken before any child exists, so no SIGCHLD is missed.
    boost::system::error_code ec;
    for (int signo : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
        signals_.add(signo, ec);
    }
    if (options_.run_mode) {
        for (int signo : forwarded_signals) {
            signals_.add(signo, ec);
        }
    }
    if (!set_up()) {
        return 1;
    }
    supervisor_.set_shutdown_handler([this](int status) {
        exit_status_ = options_.run_mode ? command_status() : status;
        server_.close();
        dbus_.stop();
        wait_for_orphans();
    });
    spdlog::info("procsup {} started (pid {}, config '{}', socket '{}')", PROCSUP_VERSION,
                 ::getpid(), config_.file.string(), config_.supervisor.socket.string());
    if (!options_.run_mode) {
        report_.ready();
    }
    supervisor_.set_observer([this](const Service& service, ServiceState, ServiceState to) {
        if (options_.run_mode && options_.detach && to != ServiceState::starting) {
            // `run --detach` returns once the command runs, or says why it does not.
            if (service.main_pid()) {
                report_.ready(std::to_string(*service.main_pid()));
            } else {
                report_.failed(fmt::format("'{}' did not start ({}): {}", service.name(),
                                           to_string(to), service.message()));
            }
        }
        // `procsup run` lives as long as its command: stopped by `procsup stop`, the
        // command is over, and so is the run, with the command's exit status.
        if (options_.run_mode && to == ServiceState::stopped && !supervisor_.is_shutting_down()) {
            boost::asio::post(io_, [this] { begin_shutdown(); });
        }
        tell_systemd();
    });
    notifier_.start_watchdog();
    supervisor_.start_autostart_services();
    tell_systemd();
    wait_for_signal();
    io_.run();
    // Children that are still exiting as the loop ends are reaped here, not left as zombies.
    supervisor_.reap_children();
    pidfile_.release();
    spdlog::info("procsup stopped (exit status {})", exit_status_);
    return exit_status_;
}

void Daemon::wait_for_signal()
{
    signals_.async_wait([this](boost::system::error_code ec, int signo) {
        if (ec) {
            return;
        }
        on_signal(signo);
        wait_for_signal();
    });
}

void Daemon::on_signal(int signo)
{
    switch (signo) {
    case SIGCHLD:
        supervisor_.reap_children();
        break;
    case SIGTERM:
    case SIGINT:
        if (supervisor_.is_shutting_down()) {
            // A second ^C means "now": what is still stopping gets SIGKILL.
            spdlog::warn("received {} again; sending SIGKILL to every service still stopping",
                         signal_name(signo));
            supervisor_.kill_stopping_services();
            break;
        }
        spdlog::info("received {}; stopping every service", signal_name(signo));
        if (options_.run_mode) {
            use_as_stop_signal(signo);
        }
        begin_shutdown();
        break;
    case SIGHUP:
        if (options_.run_mode) {
            forward(signo);
        } else {
            reopen_logs();
        }
        break;
    case SIGUSR1:
        if (options_.run_mode) {
            forward(signo);
            break;
        }
        spdlog::info("received SIGUSR1; re-reading the config");
        update(false);
        break;
    default:
        forward(signo);
        break;
    }
}

void Daemon::wait_for_orphans()
{
    // Orphans re-parented to procsup that belonged to no service. As PID 1, procsup's exit
    // would make the kernel SIGKILL them mid-work: give them the stop signal and the longest
    // stop_timeout first.
    const std::vector<pid_t> orphans = direct_children();
    if (orphans.empty()) {
        finish();
        return;
    }
    Duration grace = std::chrono::seconds(10);
    for (const ServiceConfig& s : supervisor_.config().services) {
        grace = std::max(grace, s.stop_timeout);
    }
    spdlog::info("waiting up to {} for {} orphaned process(es) to exit", format_duration(grace),
                 orphans.size());
    for (pid_t pid : orphans) {
        ::kill(pid, SIGTERM);  // Our unreaped children: their PIDs are still theirs.
    }
    orphan_deadline_ = std::chrono::steady_clock::now() + grace;
    poll_orphans();
}

void Daemon::poll_orphans()
{
    supervisor_.reap_children();
    const std::vector<pid_t> left = direct_children();
    if (left.empty()) {
        finish();
        return;
    }
    if (std::chrono::steady_clock::now() >= orphan_deadline_) {
        spdlog::warn("{} orphaned process(es) did not exit in time; sending SIGKILL",
                     left.size());
        for (pid_t pid : left) {
            ::kill(pid, SIGKILL);
        }
    }
    orphan_timer_.expires_after(std::chrono::milliseconds(20));
    orphan_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            poll_orphans();
        }
    });
}

void Daemon::finish()
{
    signals_.cancel();
    io_.stop();
}

void Daemon::begin_shutdown()
{
    if (!supervisor_.is_shutting_down()) {
        notifier_.stopping();
        supervisor_.shutdown();
    }
}

void Daemon::forward(int signo)
{
    for (const ServiceStatus& s : supervisor_.status()) {
        if (Service* service = supervisor_.find(s.name)) {
            service->send_signal(signo);
        }
    }
}

void Daemon::use_as_stop_signal(int signo)
{
    // Like tini: the command gets the very signal procsup got.
    for (const ServiceStatus& s : supervisor_.status()) {
        if (Service* service = supervisor_.find(s.name)) {
            ServiceConfig config = service->config();
            config.stop_signal = signo;
            service->update_config(std::move(config));
        }
    }
}

int Daemon::command_status() const
{
    const std::vector<ServiceStatus> all = supervisor_.status();
    if (all.empty() || !all.front().last_exit) {
        return 127;  // It never ran: what a shell says of a command it could not start.
    }
    return all.front().last_exit->shell_code();
}

void Daemon::tell_systemd()
{
    std::vector<std::string> autostart;
    for (const ServiceConfig& s : supervisor_.config().services) {
        if (s.autostart) {
            autostart.push_back(s.name);
        }
    }
    notifier_.update(supervisor_.status(), autostart);
}

void Daemon::reopen_logs()
{
    reopen_daemon_log();
    supervisor_.reopen_logs();
    spdlog::info("reopened log files");
}

boost::json::object Daemon::update(bool dry_run)
{
    if (options_.run_mode) {
        return protocol::make_error(protocol::error_bad_request,
                                    "'procsup run' has no config file to re-read");
    }
    Config next;
    try {
        next = load_config(config_.file, current_environment());
        apply_output_defaults(next);
    } catch (const ConfigError& e) {
        boost::json::array errors;
        for (const ConfigDiagnostic& d : e.diagnostics()) {
            errors.emplace_back(d.to_string());
        }
        spdlog::error("update rejected, keeping the running config: {}", e.what());
        boost::json::object r = protocol::make_error(protocol::error_bad_request,
                                                     std::string("config not applied:\n") +
                                                         e.what());
        r["diagnostics"] = std::move(errors);
        return r;
    }
    if (supervisor_.is_shutting_down()) {
        return protocol::make_error(protocol::error_shutting_down, "the daemon is shutting down");
    }
    if (!dry_run) {
        notifier_.reloading();
        if (next.supervisor.socket != config_.supervisor.socket ||
            next.supervisor.log != config_.supervisor.log ||
            next.supervisor.pidfile != config_.supervisor.pidfile ||
            next.supervisor.socket_mode != config_.supervisor.socket_mode ||
            next.supervisor.socket_group != config_.supervisor.socket_group ||
            next.supervisor.log_level != config_.supervisor.log_level) {
            spdlog::warn("[supervisor] settings changed in '{}'; they take effect when the "
                         "daemon restarts, not on update",
                         config_.file.string());
        }
    }
    const UpdateReport report = dry_run ? supervisor_.plan_update(next)
                                        : supervisor_.apply_update(std::move(next));
    if (!dry_run) {
        spdlog::info("config '{}' re-read: {}", config_.file.string(), report.summary());
        notifier_.reloaded();
    }
    auto names = [](const std::vector<std::string>& list) {
        boost::json::array a;
        for (const std::string& n : list) {
            a.emplace_back(n);
        }
        return a;
    };
    boost::json::object r = protocol::make_ok();
    r["dry_run"] = dry_run;
    r["added"] = names(report.added);
    r["removed"] = names(report.removed);
    r["restarted"] = names(report.restarted);
    r["updated"] = names(report.updated);
    r["unchanged"] = names(report.unchanged);
    r["summary"] = report.summary();
    return r;
}

}  // namespace

int run_daemon(const DaemonOptions& options)
{
    Config config;
    try {
        config = options.config ? *options.config
                                : load_config(options.config_file, current_environment());
    } catch (const ConfigError& e) {
        for (const ConfigDiagnostic& d : e.diagnostics()) {
            std::fprintf(stderr, "%s\n", d.to_string().c_str());
        }
        return 2;
    }
    if (!options.config) {
        apply_output_defaults(config);
    }
    if (options.pidfile) {
        config.supervisor.pidfile = std::filesystem::absolute(*options.pidfile);
    }
    if (options.socket) {
        config.supervisor.socket = std::filesystem::absolute(*options.socket);
    }

    ReadinessReport report;
    if (options.detach) {
        if (const auto parent_status = detach(report)) {
            return *parent_status;
        }
    }

    std::string log_error;
    setup_daemon_log(config.supervisor.log, config.supervisor.log_level, log_error);
    if (!log_error.empty()) {
        spdlog::warn("{}; logging to stderr instead", log_error);
    }
    ::signal(SIGPIPE, SIG_IGN);  // A client that hangs up must not kill the daemon.
    // Orphaned grandchildren are re-parented to procsup, which reaps them and can stop
    // a service's escaped processes.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    Daemon daemon(std::move(config), options, report);
    return daemon.run();
}

}  // namespace procsup
