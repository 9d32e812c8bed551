// The set of services and everything that concerns more than one of them: start order by
// dependencies, waiting for the outcome of start/stop/restart, reaping, essential services
// and the ordered shutdown. The single API that every front end (control socket, D-Bus,
// signals) uses. Lives on the event loop's thread only.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "procsup/config.hpp"
#include "procsup/notify_socket.hpp"
#include "procsup/service.hpp"

namespace procsup {

// The outcome of an action on one service, as reported to the caller.
struct ActionResult {
    std::string name;
    bool ok = false;
    ServiceStatus status;
    std::string message;  // what happened, for people: "running", "failed to start: ..."
    std::vector<std::string> output_tail;  // on failure: the last lines the service wrote
};

using ActionCallback = std::function<void(std::vector<ActionResult>)>;

// What `procsup update` changes, by service name.
struct UpdateReport {
    std::vector<std::string> added;
    std::vector<std::string> removed;
    std::vector<std::string> restarted;  // a setting that needs a new process changed
    std::vector<std::string> updated;    // changed settings applied without a restart
    std::vector<std::string> unchanged;

    // "added: x; removed: y; restarted: z; updated: -; unchanged: 4"
    std::string summary() const;
};

enum class Action { start, stop, restart };

// Children that are not a service's main process but whose exit someone waits for (exec
// health checks). The supervisor's reaper hands their statuses over.
class ChildRegistry : public ChildWatcher {
public:
    void watch(pid_t pid, ExitCallback on_exit) override;
    void forget(pid_t pid) override;
    // Returns false when nobody watches `pid`.
    bool dispatch(pid_t pid, int wait_status);
    bool watches(pid_t pid) const;

private:
    std::map<pid_t, ExitCallback> callbacks_;
};

class Supervisor {
public:
    // Called after every state change of any service, for the event stream and D-Bus.
    using StateObserver = std::function<void(const Service&, ServiceState from, ServiceState to)>;

    Supervisor(boost::asio::io_context& io, Config config);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Opens the notify socket when some service has type = "notify" (the control socket's
    // folder must exist by then), then starts every autostart service, dependencies first.
    void start_autostart_services();

    // Acts on the named services (all of them must exist). With `wait`, `done` runs once every
    // service reached an outcome (start: running or failed; stop: at rest); without, at once.
    void act(Action action, const std::vector<std::string>& names, bool wait,
             ActionCallback done);

    // Stops every service, dependents before their dependencies, and then calls the
    // shutdown handler with the daemon's exit status (DESIGN §6): the essential service's
    // status when one ended for good, 137 when a stop had to use SIGKILL, 0 otherwise.
    // An essential service that ends for good starts the same shutdown by itself.
    void shutdown();
    void set_shutdown_handler(std::function<void(int exit_status)> handler)
    {
        shutdown_done_ = std::move(handler);
    }
    bool is_shutting_down() const { return shutting_down_; }
    // Cuts a stop short: every service still stopping gets SIGKILL now.
    void kill_stopping_services();

    // Reaps every child that has exited (call on SIGCHLD).
    void reap_children();

    void reopen_logs();

    // Compares the running services with `next`; changes nothing.
    UpdateReport plan_update(const Config& next) const;
    // Applies `next`: starts added autostart services, stops and forgets removed ones,
    // restarts changed ones, leaves the rest (and their processes) alone. A fatal service
    // gets another start. [supervisor] settings are kept until the daemon restarts. Opens
    // the notify socket when the first service of type = "notify" comes in.
    UpdateReport apply_update(Config next);

    // "<control socket>.notify": where services of type = "notify" send their messages.
    std::filesystem::path notify_socket_path() const;

    const Service* find(std::string_view name) const;
    Service* find(std::string_view name);
    std::vector<ServiceStatus> status() const;
    // status(), then the services removed by update whose processes are still stopping: an
    // operator who saw them vanish at once would take the stop as done. For display only;
    // find() does not know them.
    std::vector<ServiceStatus> status_with_removed() const;
    const Config& config() const { return config_; }
    void set_observer(StateObserver observer) { observer_ = std::move(observer); }

    // Further observers (the event stream of each `procsup events` client): called while
    // the returned handle lives.
    using Subscription = std::shared_ptr<StateObserver>;
    Subscription subscribe(StateObserver observer);

private:
    struct Waiter {
        Action action;
        std::map<std::string, unsigned> pending;  // name -> spawn attempts seen at request
        std::vector<ActionResult> results;
        ActionCallback done;
    };

    void on_state_change(Service& service, ServiceState from, ServiceState to);
    void request_start(Service& service);
    void try_pending_starts();
    static bool is_ready(const Service& dependency, DependencyCondition condition);
    std::optional<std::string> unmet_dependency(const Service& service, bool& failed) const;
    void check_waiters();
    void supersede_waiters(const Service& service, Action by);
    using WaiterList = std::vector<std::unique_ptr<Waiter>>;
    WaiterList::iterator answer_if_complete(WaiterList::iterator it);
    std::optional<ActionResult> outcome(const Waiter& waiter, const Service& service,
                                        unsigned attempts_at_request) const;
    void advance_shutdown();
    bool has_live_dependents(const Service& service) const;
    void on_essential_end(const Service& service);
    void open_notify_socket_if_needed(const Config& config);
    void on_notify_message(pid_t sender, std::string_view datagram);
    void log_ignored_notify(pid_t sender);

    boost::asio::io_context& io_;
    Config config_;
    std::shared_ptr<const Environment> environment_;
    ChildRegistry children_;  // before services_: they keep a reference to it
    std::shared_ptr<Service> make_service(const ServiceConfig& config);
    bool is_known_child(pid_t pid) const;
    void retire_finished();

    // Created only when needed; removed when the shutdown is complete.
    NotifySocket notify_socket_;
    std::optional<std::chrono::steady_clock::time_point> ignored_notify_logged_at_;
    int ignored_notify_suppressed_ = 0;

    std::vector<std::shared_ptr<Service>> services_;  // dependency order
    std::vector<std::shared_ptr<Service>> retiring_;  // removed by update, still stopping
    std::set<std::string> pending_starts_;            // held back by dependencies
    WaiterList waiters_;
    StateObserver observer_;
    std::vector<std::weak_ptr<StateObserver>> subscribers_;

    bool shutting_down_ = false;
    std::set<std::string> stopped_by_shutdown_;
    std::optional<int> essential_exit_status_;
    std::function<void(int)> shutdown_done_;
};

// The daemon's environment as services see it: without the variables that address procsup
// itself (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), which would confuse a service that reads them.
Environment service_base_environment(const Environment& daemon_environment);

}  // namespace procsup
