#include "procsup/supervisor.hpp"

#include "procsup/output_capture.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <string_view>

#include <spdlog/spdlog.h>

namespace procsup {

namespace {

bool is_at_rest(ServiceState state)
{
    return state == ServiceState::stopped || state == ServiceState::exited ||
           state == ServiceState::fatal;
}

// Foreign senders on the notify socket get one debug line per interval, not one each.
constexpr std::chrono::seconds ignored_notify_log_interval(10);

std::string_view condition_word(DependencyCondition condition)
{
    switch (condition) {
    case DependencyCondition::started:
        return "running";
    case DependencyCondition::healthy:
        return "healthy";
    case DependencyCondition::completed:
        return "completed";
    }
    return "running";
}

}  // namespace

Environment service_base_environment(const Environment& daemon_environment)
{
    Environment env = daemon_environment;
    std::erase_if(env, [](const auto& entry) {
        const std::string& key = entry.first;
        return key == "NOTIFY_SOCKET" || key.starts_with("WATCHDOG_") ||
               key.starts_with("LISTEN_") || key == "PROCSUP_SOCKET";
    });
    return env;
}

Supervisor::Supervisor(boost::asio::io_context& io, Config config)
    : io_(io),
      config_(std::move(config)),
      environment_(std::make_shared<const Environment>(
          service_base_environment(current_environment()))),
      notify_socket_(io, [this](pid_t sender, std::string_view datagram) {
          on_notify_message(sender, datagram);
      })
{
    for (const ServiceConfig& sc : config_.services) {
        services_.push_back(make_service(sc));
    }
    // "inherit" lines line up like docker compose's: every prefix as wide as the longest name.
    std::size_t name_width = 0;
    for (const auto& s : services_) {
        name_width = std::max(name_width, s->name().size());
    }
    for (const auto& s : services_) {
        s->set_name_width(name_width);
    }
}

std::shared_ptr<Service> Supervisor::make_service(const ServiceConfig& config)
{
    auto service = std::make_shared<Service>(io_, config, environment_, children_);
    if (notify_socket_.is_open()) {
        service->set_notify_socket(notify_socket_.path());
    }
    service->set_listener([this](Service& s, ServiceState from, ServiceState to) {
        on_state_change(s, from, to);
    });
    service->set_known_child_test([this](pid_t pid) { return is_known_child(pid); });
    return service;
}

bool Supervisor::is_known_child(pid_t pid) const
{
    if (children_.watches(pid)) {
        return true;
    }
    const auto is_main = [pid](const auto& s) { return s->main_pid() == pid; };
    return std::any_of(services_.begin(), services_.end(), is_main) ||
           std::any_of(retiring_.begin(), retiring_.end(), is_main);
}

std::string UpdateReport::summary() const
{
    auto list = [](const std::vector<std::string>& names) {
        std::string text;
        for (const std::string& n : names) {
            text += (text.empty() ? "" : ", ") + n;
        }
        return text.empty() ? std::string("-") : text;
    };
    return fmt::format("added: {}; removed: {}; restarted: {}; updated: {}; unchanged: {}",
                       list(added), list(removed), list(restarted), list(updated),
                       unchanged.size());
}

UpdateReport Supervisor::plan_update(const Config& next) const
{
    UpdateReport report;
    for (const ServiceConfig& sc : next.services) {
        const Service* current = find(sc.name);
        if (!current) {
            report.added.push_back(sc.name);
        } else if (current->needs_restart_for(sc) &&
                   (!is_at_rest(current->state()) || current->state() == ServiceState::fatal)) {
            // A running service gets a new process; a fatal one gets another chance with
            // its new definition. A stopped or exited one stays at rest.
            report.restarted.push_back(sc.name);
        } else if (!(current->config() == sc)) {
            report.updated.push_back(sc.name);
        } else {
            report.unchanged.push_back(sc.name);
        }
    }
    for (const auto& s : services_) {
        if (!next.find(s->name())) {
            report.removed.push_back(s->name());
        }
    }
    return report;
}

UpdateReport Supervisor::apply_update(Config next)
{
    const UpdateReport report = plan_update(next);
    // Before any start below: a service that became a notify one may spawn at once.
    open_notify_socket_if_needed(next);
    for (const std::string& name : report.removed) {
        auto it = std::find_if(services_.begin(), services_.end(),
                               [&](const auto& s) { return s->name() == name; });
        pending_starts_.erase(name);
        (*it)->stop();
        retiring_.push_back(*it);
        services_.erase(it);
    }

    std::vector<std::shared_ptr<Service>> ordered;
    for (const ServiceConfig& sc : next.services) {
        auto it = std::find_if(services_.begin(), services_.end(),
                               [&](const auto& s) { return s->name() == sc.name; });
        if (it == services_.end()) {
            ordered.push_back(make_service(sc));
            ordered.back()->report_stale_pid_file();
            continue;
        }
        const bool restart = (*it)->needs_restart_for(sc);
        (*it)->update_config(sc);
        const ServiceState st = (*it)->state();
        if (restart && (st == ServiceState::running || st == ServiceState::starting ||
                        st == ServiceState::backoff)) {
            (*it)->restart();
        }
        ordered.push_back(*it);
    }
    services_ = std::move(ordered);
    next.supervisor = config_.supervisor;
    config_ = std::move(next);

    auto listed = [](const std::vector<std::string>& names, const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (const auto& s : services_) {
        // A fatal service whose definition did not change would only fail again: `update`
        // leaves it alone, like every other unchanged service.
        const bool revive = s->state() == ServiceState::fatal &&
                            (listed(report.restarted, s->name()) ||
                             listed(report.updated, s->name()));
        if (s->config().autostart && (listed(report.added, s->name()) || revive)) {
            request_start(*s);
        }
    }
    retire_finished();
    return report;
}

void Supervisor::retire_finished()
{
    std::erase_if(retiring_, [](const auto& s) {
        return is_at_rest(s->state()) && !s->has_live_processes();
    });
}

const Service* Supervisor::find(std::string_view name) const
{
    for (const auto& s : services_) {
        if (s->name() == name) {
            return s.get();
        }
    }
    return nullptr;
}

Service* Supervisor::find(std::string_view name)
{
    return const_cast<Service*>(std::as_const(*this).find(name));
}

std::vector<ServiceStatus> Supervisor::status() const
{
    std::vector<ServiceStatus> result;
    result.reserve(services_.size());
    for (const auto& s : services_) {
        result.push_back(s->status());
    }
    return result;
}

std::vector<ServiceStatus> Supervisor::status_with_removed() const
{
    std::vector<ServiceStatus> result = status();
    for (const auto& s : retiring_) {
        if (find(s->name()) == nullptr) {
            ServiceStatus retiring = s->status();
            retiring.message = retiring.message.empty()
                                   ? "removed from the config"
                                   : "removed from the config; " + retiring.message;
            result.push_back(std::move(retiring));
        }
    }
    return result;
}

std::filesystem::path Supervisor::notify_socket_path() const
{
    std::filesystem::path path = config_.supervisor.socket;
    path += ".notify";
    return path;
}

void Supervisor::open_notify_socket_if_needed(const Config& config)
{
    const bool needed = std::any_of(config.services.begin(), config.services.end(),
                                    [](const auto& s) { return s.type == ServiceType::notify; });
    if (!needed || notify_socket_.is_open() || config_.supervisor.socket.empty()) {
        return;
    }
    const std::filesystem::path path = notify_socket_path();
    if (const std::error_code ec = notify_socket_.open(path)) {
        // Each notify service then fails to start, saying so; the others run as usual.
        spdlog::error("cannot open the notify socket '{}': {}; services of type = \"notify\" "
                      "cannot start",
                      path.string(), ec.message());
        return;
    }
    spdlog::debug("listening for service notifications on '{}'", path.string());
    for (const auto& s : services_) {
        s->set_notify_socket(path);
    }
}

void Supervisor::on_notify_message(pid_t sender, std::string_view datagram)
{
    for (const auto& s : services_) {
        if (s->config().type == ServiceType::notify && s->owns_process(sender)) {
            s->handle_notify(parse_notify_message(datagram));
            return;
        }
    }
    log_ignored_notify(sender);
}

void Supervisor::log_ignored_notify(pid_t sender)
{
    const auto now = std::chrono::steady_clock::now();
    if (ignored_notify_logged_at_ &&
        now - *ignored_notify_logged_at_ < ignored_notify_log_interval) {
        ++ignored_notify_suppressed_;
        return;
    }
    const std::string suppressed =
        ignored_notify_suppressed_ > 0
            ? fmt::format(" ({} more since the last such line)", ignored_notify_suppressed_)
            : std::string();
    spdlog::debug("ignoring a notify message from pid {}: not a process of a running notify "
                  "service{}",
                  sender, suppressed);
    ignored_notify_logged_at_ = now;
    ignored_notify_suppressed_ = 0;
}

void Supervisor::start_autostart_services()
{
    for (const auto& s : services_) {
        s->report_stale_pid_file();
    }
    open_notify_socket_if_needed(config_);
    for (const auto& s : services_) {
        if (s->config().autostart) {
            request_start(*s);
        }
    }
}

void Supervisor::request_start(Service& service)
{
    if (shutting_down_) {
        return;
    }
    // Starting a service starts what it depends on, as an operator would do by hand.
    for (const auto& [name, condition] : service.config().depends_on) {
        Service* d = find(name);
        if (d && is_at_rest(d->state()) && !is_ready(*d, condition) &&
            !pending_starts_.contains(name)) {
            request_start(*d);
        }
    }
    pending_starts_.insert(service.name());
    try_pending_starts();
}

bool Supervisor::is_ready(const Service& dependency, DependencyCondition condition)
{
    const ServiceState st = dependency.state();
    switch (condition) {
    case DependencyCondition::started:
        // A dependency with a health check is ready once healthy: merely spawned would let
        // a client connect before the server listens.
        return st == ServiceState::running &&
               (!dependency.config().health || dependency.health() == HealthState::healthy);
    case DependencyCondition::healthy:
        return st == ServiceState::running && dependency.health() == HealthState::healthy;
    case DependencyCondition::completed:
        return st == ServiceState::exited && dependency.last_exit() &&
               dependency.last_exit()->is_success(dependency.config().success_exit_codes);
    }
    return false;
}

std::optional<std::string> Supervisor::unmet_dependency(const Service& service,
                                                        bool& failed) const
{
    failed = false;
    for (const auto& [name, condition] : service.config().depends_on) {
        const Service* d = find(name);
        if (!d || is_ready(*d, condition)) {
            continue;  // load_config rejects unknown dependencies.
        }
        const ServiceState st = d->state();
        if (is_at_rest(st) && !pending_starts_.contains(name)) {
            failed = true;
            const std::string why = d->message().empty() ? "" : ": " + d->message();
            return fmt::format("dependency '{}' is {}{}", name, to_string(st), why);
        }
        const bool waits_for_health =
            condition == DependencyCondition::started && d->config().health;
        return fmt::format("waiting for {} to be {}", name,
                           waits_for_health ? "healthy" : condition_word(condition));
    }
    return std::nullopt;
}

void Supervisor::try_pending_starts()
{
    // Services are in dependency order, so one pass starts a chain that is ready at once.
    for (const auto& s : services_) {
        if (!pending_starts_.contains(s->name())) {
            continue;
        }
        bool failed = false;
        const auto unmet = unmet_dependency(*s, failed);
        if (!unmet) {
            pending_starts_.erase(s->name());
            s->start();
        } else if (failed) {
            pending_starts_.erase(s->name());
            s->abandon_start(*unmet);
        } else if (s->waiting_reason() != *unmet) {
            spdlog::info("service '{}' is {}", s->name(), *unmet);
            s->set_waiting_reason(*unmet);
        }
    }
}

void Supervisor::act(Action action, const std::vector<std::string>& names, bool wait,
                     ActionCallback done)
{
    auto waiter = std::make_unique<Waiter>();
    waiter->action = action;
    waiter->done = std::move(done);
    for (const std::string& name : names) {
        Service* s = find(name);
        if (!s) {
            continue;
        }
        supersede_waiters(*s, action);
        waiter->pending[name] = s->spawn_attempts();
        switch (action) {
        case Action::start:
            if (s->state() != ServiceState::running && s->state() != ServiceState::starting) {
                request_start(*s);
            }
            break;
        case Action::stop:
            pending_starts_.erase(name);
            s->stop();
            break;
        case Action::restart:
            pending_starts_.erase(name);
            if (s->state() == ServiceState::running || s->state() == ServiceState::starting) {
                s->restart();
            } else {
                request_start(*s);
            }
            break;
        }
    }
    if (!wait) {
        for (const auto& [name, attempts] : waiter->pending) {
            const Service* s = find(name);
            waiter->results.push_back(ActionResult{name, true, s->status(), "requested"});
        }
        waiter->done(std::move(waiter->results));
        return;
    }
    waiters_.push_back(std::move(waiter));
    check_waiters();
}

std::optional<ActionResult> Supervisor::outcome(const Waiter& waiter, const Service& service,
                                                unsigned attempts_at_request) const
{
    const ServiceState st = service.state();
    const bool attempted = service.spawn_attempts() > attempts_at_request;
    auto result = [&](bool ok, std::string message) {
        return ActionResult{service.name(), ok, service.status(), std::move(message)};
    };

    if (waiter.action == Action::stop) {
        if (is_at_rest(st) && !service.has_live_processes()) {
            return result(true, std::string(to_string(st)));
        }
        return std::nullopt;
    }
    if (st == ServiceState::running && (waiter.action == Action::start || attempted)) {
        return result(true, "running");
    }
    if (pending_starts_.contains(service.name()) || st == ServiceState::starting ||
        st == ServiceState::stopping) {
        return std::nullopt;
    }
    // A failed attempt with retries left is not the answer yet: `start || alert` must not
    // fire for a service that comes up on its second try. Unlimited retries have no end to
    // wait for, so there the first failure is reported.
    if (st == ServiceState::backoff && service.config().start_retries) {
        return std::nullopt;
    }
    if (st == ServiceState::exited && service.last_exit() &&
        service.last_exit()->is_success(service.config().success_exit_codes) && attempted) {
        return result(true, "completed: " + service.message());
    }
    if (st == ServiceState::running) {
        return std::nullopt;  // A restart whose new process has not been spawned yet.
    }
    const std::string why = service.message().empty() ? std::string(to_string(st))
                                                       : service.message();
    ActionResult failed = result(false, why);
    // What the program said before it died is usually the real reason.
    failed.output_tail = service.output_sink(true)->last_lines_of_run(5);
    return failed;
}

// A stop followed by a start or restart of the same service (or the reverse) will not end
// as the earlier request wanted: its client gets that answer now instead of waiting for a
// state that is not coming (and holding a connection while it waits).
void Supervisor::supersede_waiters(const Service& service, Action by)
{
    const bool by_stop = by == Action::stop;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        Waiter& w = **it;
        const auto p = w.pending.find(service.name());
        if (p == w.pending.end() || (w.action == Action::stop) == by_stop) {
            ++it;
            continue;
        }
        w.pending.erase(p);
        w.results.push_back(ActionResult{
            service.name(), false, service.status(),
            by_stop ? "superseded by a later stop" : "superseded by a later start or restart"});
        it = answer_if_complete(it);
    }
}

// Answers the waiter at `it` and drops it once nothing it waits for is pending; returns the
// position of the next waiter either way.
Supervisor::WaiterList::iterator Supervisor::answer_if_complete(WaiterList::iterator it)
{
    Waiter& w = **it;
    if (!w.pending.empty()) {
        return std::next(it);
    }
    auto done = std::move(w.done);
    auto results = std::move(w.results);
    it = waiters_.erase(it);
    done(std::move(results));
    return it;
}

void Supervisor::check_waiters()
{
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        Waiter& w = **it;
        for (auto p = w.pending.begin(); p != w.pending.end();) {
            const Service* s = find(p->first);
            std::optional<ActionResult> r =
                s ? outcome(w, *s, p->second)
                  : std::optional<ActionResult>(ActionResult{p->first, false, {}, "removed"});
            if (r) {
                w.results.push_back(std::move(*r));
                p = w.pending.erase(p);
            } else {
                ++p;
            }
        }
        it = answer_if_complete(it);
    }
}

Supervisor::Subscription Supervisor::subscribe(StateObserver observer)
{
    auto subscription = std::make_shared<StateObserver>(std::move(observer));
    subscribers_.push_back(subscription);
    return subscription;
}

void Supervisor::on_state_change(Service& service, ServiceState from, ServiceState to)
{
    if (observer_) {
        observer_(service, from, to);
    }
    std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
    for (const auto& weak : std::vector(subscribers_)) {
        if (auto subscriber = weak.lock()) {
            (*subscriber)(service, from, to);
        }
    }
    if (service.config().essential && !shutting_down_ && from != to &&
        (to == ServiceState::exited || to == ServiceState::fatal)) {
        on_essential_end(service);
    }
    retire_finished();
    try_pending_starts();
    check_waiters();
    if (shutting_down_) {
        advance_shutdown();
    }
}

void Supervisor::on_essential_end(const Service& service)
{
    // 127 when it never ran: what a shell says of a command it could not start.
    const int status = service.last_exit() ? service.last_exit()->shell_code() : 127;
    // A job that finished well (`procsup run -- make`) is no error.
    spdlog::log(status == 0 ? spdlog::level::info : spdlog::level::err,
                "essential service '{}' ended for good ({}); shutting down with status {}",
                service.name(),
                service.last_exit() ? service.last_exit()->describe() : service.message(),
                status);
    essential_exit_status_ = status;
    shutdown();
}

void Supervisor::shutdown()
{
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    for (const auto& s : services_) {
        if (pending_starts_.erase(s->name()) > 0) {
            s->abandon_start("the daemon is shutting down");
        }
    }
    advance_shutdown();
}

bool Supervisor::has_live_dependents(const Service& service) const
{
    for (const auto& s : services_) {
        if (s->config().depends_on.contains(service.name()) &&
            (!is_at_rest(s->state()) || s->has_live_processes())) {
            return true;
        }
    }
    return false;
}

void Supervisor::advance_shutdown()
{
    bool all_done = true;
    for (const auto& s : services_) {
        if (is_at_rest(s->state()) && !s->has_live_processes()) {
            continue;
        }
        all_done = false;
        if (s->state() != ServiceState::stopping && !has_live_dependents(*s)) {
            stopped_by_shutdown_.insert(s->name());
            s->stop();
        }
    }
    retire_finished();
    all_done = all_done && retiring_.empty();
    if (!all_done || !shutdown_done_) {
        return;
    }
    // Decided here, not from state-change notifications: those are posted and may not have
    // run yet when the last exit is reaped.
    const bool any_killed = std::any_of(services_.begin(), services_.end(), [&](const auto& s) {
        return stopped_by_shutdown_.contains(s->name()) && s->was_killed();
    });
    const int status = essential_exit_status_.value_or(any_killed ? 137 : 0);
    notify_socket_.close();
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done(status);
}

void Supervisor::reap_children()
{
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            break;  // 0: children left but none exited; -1/ECHILD: no children at all.
        }
        const bool known =
            std::any_of(services_.begin(), services_.end(),
                        [&](const auto& s) { return s->handle_exit(pid, status); }) ||
            std::any_of(retiring_.begin(), retiring_.end(),
                        [&](const auto& s) { return s->handle_exit(pid, status); });
        if (!known && !children_.dispatch(pid, status)) {
            spdlog::debug("reaped orphaned process {} ({})", pid,
                          ExitStatus::from_wait_status(status).describe());
        }
    }
    if (shutting_down_) {
        advance_shutdown();
    }
}

void ChildRegistry::watch(pid_t pid, ExitCallback on_exit)
{
    callbacks_[pid] = std::move(on_exit);
}

void ChildRegistry::forget(pid_t pid)
{
    callbacks_.erase(pid);
}

bool ChildRegistry::watches(pid_t pid) const
{
    return callbacks_.contains(pid);
}

bool ChildRegistry::dispatch(pid_t pid, int wait_status)
{
    const auto it = callbacks_.find(pid);
    if (it == callbacks_.end()) {
        return false;
    }
    ExitCallback callback = std::move(it->second);
    callbacks_.erase(it);
    callback(wait_status);
    return true;
}

void Supervisor::kill_stopping_services()
{
    for (const auto& s : services_) {
        if (s->state() == ServiceState::stopping) {
            s->kill_now();
        }
    }
}

void Supervisor::reopen_logs()
{
    for (const auto& s : services_) {
        s->reopen_logs();
    }
}

}  // namespace procsup
