// The only translation unit that includes sdbus-c++ (and the adaptor generated from
// systemd/org.procsup.Supervisor1.xml). sdbus-c++ reports errors as exceptions: every call
// into it is wrapped here, so that no sdbus::Error reaches the event loop (STYLE §5).
#include "procsup/dbus_api.hpp"

#include "procsup/access.hpp"

#include <grp.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include "procsup/protocol.hpp"
#include "procsup/supervisor1_adaptor.hpp"
#include "procsup/supervisor.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace {

constexpr const char* bus_name = "org.procsup.Supervisor1";
constexpr const char* object_path = "/org/procsup/Supervisor1";
constexpr auto reconnect_delay = std::chrono::seconds(5);
// Bounds every synchronous bus call (Hello, RequestName) and the credentials queries, so a
// bus daemon that accepts but never answers cannot hold the event loop for sd-bus's 25 s.
constexpr auto bus_call_timeout = std::chrono::seconds(2);
constexpr std::size_t max_remembered_callers = 256;

using ServiceList =
    std::vector<sdbus::Struct<std::string, std::string, std::string, uint32_t, uint32_t>>;
using Details = std::map<std::string, sdbus::Variant>;
using Results = std::vector<sdbus::Struct<std::string, bool, std::string>>;
// Why a caller is refused; empty when it may call.
using Refusal = std::optional<std::string>;

// protocol.hpp's error codes as D-Bus error names: "unknown_service" becomes
// "org.procsup.Error.UnknownService".
sdbus::Error make_error(std::string_view code, const std::string& message)
{
    std::string name = "org.procsup.Error.";
    bool upper = true;
    for (char c : code) {
        if (c == '_') {
            upper = true;
            continue;
        }
        name.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                             : c);
        upper = false;
    }
    return sdbus::Error(name, message);
}

// The JSON of `status --json` as a{sv}. Null members are left out: D-Bus has no null.
Details to_details(const boost::json::object& object);

std::optional<sdbus::Variant> to_variant(const boost::json::value& value)
{
    switch (value.kind()) {
    case boost::json::kind::string:
        return sdbus::Variant(std::string(value.get_string()));
    case boost::json::kind::int64:
        return sdbus::Variant(value.get_int64());
    case boost::json::kind::uint64:
        return sdbus::Variant(static_cast<int64_t>(value.get_uint64()));
    case boost::json::kind::bool_:
        return sdbus::Variant(value.get_bool());
    case boost::json::kind::double_:
        return sdbus::Variant(value.get_double());
    case boost::json::kind::object:
        return sdbus::Variant(to_details(value.get_object()));
    case boost::json::kind::array:
    case boost::json::kind::null:
        return std::nullopt;
    }
    return std::nullopt;
}

Details to_details(const boost::json::object& object)
{
    Details details;
    for (const auto& member : object) {
        if (auto variant = to_variant(member.value())) {
            details.emplace(std::string(member.key()), std::move(*variant));
        }
    }
    return details;
}

uint32_t pid_or_zero(std::optional<pid_t> pid)
{
    return pid ? static_cast<uint32_t>(*pid) : 0;
}

class Session;

// A method call that awaits its answer. Copyable, so it fits in the supervisor's callbacks;
// the call itself stays in its Session, because an sdbus message must not outlive its
// connection. When the session is gone, answering does nothing.
template <typename T>
class Reply {
public:
    Reply(std::weak_ptr<Session> session, std::uint64_t id) : session_(std::move(session)), id_(id)
    {
    }

    void send(const T& value) const;
    void fail(std::string_view code, const std::string& message) const;

private:
    std::weak_ptr<Session> session_;
    std::uint64_t id_;
};

}  // namespace

struct DbusApi::Impl {
    Impl(boost::asio::io_context& io, Supervisor& supervisor, const SupervisorConfig& config)
        : io_(io), supervisor_(supervisor), config_(config), retry_timer_(io)
    {
    }

    void connect(bool retrying);
    std::unique_ptr<sdbus::IConnection> open_connection() const;
    std::string bus_description() const;
    void report_trouble(const std::string& why);
    void schedule_retry();
    void on_connection_lost(const std::string& why);
    void on_state_change(const Service& service, ServiceState from, ServiceState to);
    Refusal judge_caller(const sdbus::Error* error, const Details& credentials);

    boost::asio::io_context& io_;
    Supervisor& supervisor_;
    SupervisorConfig config_;
    std::optional<gid_t> allowed_gid_;
    std::shared_ptr<Session> session_;
    boost::asio::steady_timer retry_timer_;
    Supervisor::Subscription subscription_;
    bool stopped_ = false;
    bool trouble_logged_ = false;  // a lost or unreachable bus is logged once, not per retry
    std::set<uid_t> refused_uids_logged_;
};

namespace {

class Adaptor final : public sdbus::AdaptorInterfaces<org::procsup::Supervisor1_adaptor> {
public:
    Adaptor(sdbus::IConnection& connection, Session& session)
        : AdaptorInterfaces(connection, object_path), session_(session)
    {
        registerAdaptor();
    }
    ~Adaptor() { unregisterAdaptor(); }
    Adaptor(const Adaptor&) = delete;
    Adaptor& operator=(const Adaptor&) = delete;

    // The unique name of the caller whose method call is being dispatched.
    std::string current_sender() const
    {
        const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
        return message ? message->getSender() : std::string();
    }

    void emit_counts_changed()
    {
        getObject().emitPropertiesChangedSignal(INTERFACE_NAME,
                                                {"ServiceCount", "RunningCount", "FailedCount"});
    }

private:
    void ListServices(sdbus::Result<ServiceList>&& result) override;
    void GetService(sdbus::Result<Details>&& result, std::string name) override;
    void Start(sdbus::Result<Results>&& result, std::vector<std::string> names) override;
    void Stop(sdbus::Result<Results>&& result, std::vector<std::string> names) override;
    void Restart(sdbus::Result<Results>&& result, std::vector<std::string> names) override;
    void Reload(sdbus::Result<Results>&& result, std::vector<std::string> names) override;
    std::string Version() override { return PROCSUP_VERSION; }
    uint32_t ServiceCount() override;
    uint32_t RunningCount() override;
    uint32_t FailedCount() override;

    Session& session_;
};

// One live connection with the exported object, driven from asio: the bus fd is watched
// for what sd-bus asks (getEventLoopPollData), plus its timeout; after every round of
// processPendingRequest the watches are armed again. Replaced as a whole when the bus goes.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(DbusApi::Impl& api, std::unique_ptr<sdbus::IConnection> connection)
        : api_(api),
          connection_(std::move(connection)),
          descriptor_(api.io_),
          timer_(api.io_)
    {
    }
    ~Session()
    {
        // The fd belongs to sd-bus, which closes it with the connection.
        if (descriptor_.is_open()) {
            descriptor_.release();
        }
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Exports the object, takes the bus name and starts processing. Throws sdbus::Error.
    void open();
    void release_name();
    // Processes soon, from the loop: after a reply or a signal was queued outside a round.
    void kick();

    template <typename T>
    Reply<T> hold(sdbus::Result<T>&& result);
    // Runs `work` once the caller is known to be allowed; answers PermissionDenied otherwise.
    template <typename T>
    void when_allowed(sdbus::Result<T>&& result, std::function<void(const Reply<T>&)> work);
    template <typename T>
    void answer(std::uint64_t id, const std::function<void(const sdbus::Result<T>&)>& how);

    void list_services(const Reply<ServiceList>& reply);
    void get_service(const Reply<Details>& reply, const std::string& name);
    void act(const Reply<Results>& reply, Action action, const std::vector<std::string>& names);
    void reload(const Reply<Results>& reply, const std::vector<std::string>& names);
    void emit_state_change(const Service& service, ServiceState from, ServiceState to);
    Supervisor& supervisor() { return api_.supervisor_; }

private:
    void process();
    void arm();
    template <typename Handler>
    auto on_ready(Handler handler);
    void check_caller(const std::string& sender, std::function<void(const Refusal&)> then);
    template <typename T>
    bool check_names(const Reply<T>& reply, const std::vector<std::string>& names);

    DbusApi::Impl& api_;
    // Destroyed in reverse order: every message (pending_) and the object before the
    // connection they point into.
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> bus_proxy_;  // org.freedesktop.DBus, for credentials
    std::unique_ptr<Adaptor> adaptor_;
    std::map<std::uint64_t, std::shared_ptr<void>> pending_;  // sdbus::Result<T> by id
    std::uint64_t next_id_ = 0;
    // Unique names never come back on the same bus, so a verdict holds for the connection.
    std::map<std::string, Refusal> callers_;
    boost::asio::posix::stream_descriptor descriptor_;
    boost::asio::steady_timer timer_;
    unsigned generation_ = 0;  // tells stale wake-ups from the current watches
    bool kick_posted_ = false;
};

template <typename T>
void Reply<T>::send(const T& value) const
{
    if (auto session = session_.lock()) {
        session->template answer<T>(id_,
                                    [&](const sdbus::Result<T>& r) { r.returnResults(value); });
    }
}

template <typename T>
void Reply<T>::fail(std::string_view code, const std::string& message) const
{
    if (auto session = session_.lock()) {
        session->template answer<T>(
            id_, [&](const sdbus::Result<T>& r) { r.returnError(make_error(code, message)); });
    }
}

template <typename T>
Reply<T> Session::hold(sdbus::Result<T>&& result)
{
    const std::uint64_t id = next_id_++;
    pending_.emplace(id, std::make_shared<sdbus::Result<T>>(std::move(result)));
    return Reply<T>(weak_from_this(), id);
}

template <typename T>
void Session::answer(std::uint64_t id, const std::function<void(const sdbus::Result<T>&)>& how)
{
    const auto it = pending_.find(id);
    if (it == pending_.end()) {
        return;
    }
    const auto result = std::static_pointer_cast<sdbus::Result<T>>(it->second);
    pending_.erase(it);
    try {
        how(*result);
    } catch (const sdbus::Error& e) {
        // The caller or the bus went away; the next round notices a dead bus.
        spdlog::debug("D-Bus reply not sent: {}; ignoring", e.getMessage());
    }
    kick();
}

template <typename T>
void Session::when_allowed(sdbus::Result<T>&& result, std::function<void(const Reply<T>&)> work)
{
    const Reply<T> reply = hold(std::move(result));
    check_caller(adaptor_->current_sender(), [reply, work = std::move(work)](const Refusal& no) {
        if (no) {
            reply.fail(protocol::error_permission_denied, *no);
            return;
        }
        work(reply);
    });
}

void Session::open()
{
    connection_->setMethodCallTimeout(bus_call_timeout);
    bus_proxy_ = sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    adaptor_ = std::make_unique<Adaptor>(*connection_, *this);
    connection_->requestName(bus_name);
    boost::system::error_code ec;
    descriptor_.assign(connection_->getEventLoopPollData().fd, ec);
    if (ec) {
        api_.on_connection_lost("cannot watch the connection: " + ec.message());
        return;
    }
    process();
}

void Session::release_name()
{
    try {
        connection_->releaseName(bus_name);
    } catch (const sdbus::Error& e) {
        spdlog::debug("D-Bus name '{}' not released: {}; ignoring", bus_name, e.getMessage());
    }
}

void Session::kick()
{
    if (kick_posted_) {
        return;
    }
    kick_posted_ = true;
    boost::asio::post(api_.io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            self->kick_posted_ = false;
            self->process();
        }
    });
}

void Session::process()
{
    // on_connection_lost() drops the session; it must outlive this call.
    const auto self = shared_from_this();
    try {
        while (connection_->processPendingRequest()) {
        }
    } catch (const sdbus::Error& e) {
        api_.on_connection_lost(e.getMessage());
        return;
    }
    arm();
}

template <typename Handler>
auto Session::on_ready(Handler handler)
{
    return [weak = weak_from_this(), generation = generation_,
            handler = std::move(handler)](boost::system::error_code ec) {
        if (ec) {
            return;  // operation_aborted: re-armed or shut down
        }
        auto self = weak.lock();
        if (self && self->generation_ == generation) {
            handler(*self);
        }
    };
}

void Session::arm()
{
    sdbus::IConnection::PollData data{};
    try {
        data = connection_->getEventLoopPollData();
    } catch (const sdbus::Error& e) {
        api_.on_connection_lost(e.getMessage());
        return;
    }
    ++generation_;
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
    timer_.cancel();
    const auto run = [](Session& s) { s.process(); };
    if (data.events & POLLIN) {
        descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_read, on_ready(run));
    }
    if (data.events & POLLOUT) {
        descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_write, on_ready(run));
    }
    if (const auto timeout = data.getRelativeTimeout()) {
        timer_.expires_after(*timeout);
        timer_.async_wait(on_ready(run));
    }
}

void Session::check_caller(const std::string& sender, std::function<void(const Refusal&)> then)
{
    if (const auto known = callers_.find(sender); known != callers_.end()) {
        then(known->second);
        return;
    }
    // Asked of the bus daemon, asynchronously: it recorded the caller's uid and groups
    // when the caller connected (SO_PEERCRED, SO_PEERGROUPS), as the control socket reads.
    auto decide = [this, sender, then](const sdbus::Error* error, const Details& credentials) {
        const Refusal verdict = api_.judge_caller(error, credentials);
        if (callers_.size() >= max_remembered_callers) {
            callers_.clear();
        }
        if (!error) {
            callers_.emplace(sender, verdict);
        }
        then(verdict);
    };
    try {
        bus_proxy_->callMethodAsync("GetConnectionCredentials")
            .onInterface("org.freedesktop.DBus")
            .withArguments(sender)
            .uponReplyInvoke([decide](const sdbus::Error* error, Details credentials) {
                decide(error, credentials);
            });
    } catch (const sdbus::Error& e) {
        decide(&e, {});
    }
}

template <typename T>
bool Session::check_names(const Reply<T>& reply, const std::vector<std::string>& names)
{
    if (names.empty()) {
        reply.fail(protocol::error_bad_request, "name at least one service");
        return false;
    }
    for (const std::string& name : names) {
        if (!supervisor().find(name)) {
            reply.fail(protocol::error_unknown_service,
                       fmt::format("unknown service '{}'; nothing was done", name));
            return false;
        }
    }
    return true;
}

void Session::list_services(const Reply<ServiceList>& reply)
{
    ServiceList list;
    for (const ServiceStatus& s : supervisor().status()) {
        list.emplace_back(s.name, std::string(to_string(s.state)),
                          std::string(to_string(s.health)), pid_or_zero(s.pid),
                          static_cast<uint32_t>(s.restarts));
    }
    reply.send(list);
}

void Session::get_service(const Reply<Details>& reply, const std::string& name)
{
    const Service* service = supervisor().find(name);
    if (!service) {
        reply.fail(protocol::error_unknown_service, fmt::format("unknown service '{}'", name));
        return;
    }
    reply.send(to_details(protocol::to_json(service->status())));
}

void Session::act(const Reply<Results>& reply, Action action,
                  const std::vector<std::string>& names)
{
    if (!check_names(reply, names)) {
        return;
    }
    if (supervisor().is_shutting_down() && action != Action::stop) {
        reply.fail(protocol::error_shutting_down, "the daemon is shutting down");
        return;
    }
    // Answered when the supervisor reports the outcome; the loop serves others meanwhile.
    supervisor().act(action, names, true, [reply](std::vector<ActionResult> outcomes) {
        Results results;
        for (const ActionResult& r : outcomes) {
            results.emplace_back(r.name, r.ok, r.message);
        }
        reply.send(results);
    });
}

void Session::reload(const Reply<Results>& reply, const std::vector<std::string>& names)
{
    if (!check_names(reply, names)) {
        return;
    }
    Results results;
    for (const std::string& name : names) {
        Service* service = supervisor().find(name);
        const int signo = service->config().reload_signal;
        const std::error_code ec = service->reload();
        std::string message = fmt::format("sent {}", signal_name(signo));
        if (ec) {
            message = fmt::format("not signalled: {}", ec == std::errc::no_such_process
                                                            ? "not running"
                                                            : ec.message());
        }
        results.emplace_back(name, !ec, message);
    }
    reply.send(results);
}

void Session::emit_state_change(const Service& service, ServiceState from, ServiceState to)
{
    try {
        adaptor_->emitServiceStateChanged(service.name(), std::string(to_string(from)),
                                          std::string(to_string(to)),
                                          pid_or_zero(service.main_pid()));
        adaptor_->emit_counts_changed();
    } catch (const sdbus::Error& e) {
        spdlog::debug("D-Bus signal for '{}' not sent: {}; ignoring", service.name(),
                      e.getMessage());
    }
    kick();  // sd-bus 1.2 has no wake-up of its own: flush the queued signal from the loop.
}

void Adaptor::ListServices(sdbus::Result<ServiceList>&& result)
{
    session_.when_allowed<ServiceList>(
        std::move(result), [this](const Reply<ServiceList>& r) { session_.list_services(r); });
}

void Adaptor::GetService(sdbus::Result<Details>&& result, std::string name)
{
    session_.when_allowed<Details>(std::move(result), [this, name](const Reply<Details>& r) {
        session_.get_service(r, name);
    });
}

void Adaptor::Start(sdbus::Result<Results>&& result, std::vector<std::string> names)
{
    session_.when_allowed<Results>(std::move(result), [this, names](const Reply<Results>& r) {
        session_.act(r, Action::start, names);
    });
}

void Adaptor::Stop(sdbus::Result<Results>&& result, std::vector<std::string> names)
{
    session_.when_allowed<Results>(std::move(result), [this, names](const Reply<Results>& r) {
        session_.act(r, Action::stop, names);
    });
}

void Adaptor::Restart(sdbus::Result<Results>&& result, std::vector<std::string> names)
{
    session_.when_allowed<Results>(std::move(result), [this, names](const Reply<Results>& r) {
        session_.act(r, Action::restart, names);
    });
}

void Adaptor::Reload(sdbus::Result<Results>&& result, std::vector<std::string> names)
{
    session_.when_allowed<Results>(std::move(result), [this, names](const Reply<Results>& r) {
        session_.reload(r, names);
    });
}

// The properties are counts anyone may see; they are not checked per caller, because a
// getter must answer at once and the caller's credentials take a bus round trip.
uint32_t Adaptor::ServiceCount()
{
    return static_cast<uint32_t>(session_.supervisor().status().size());
}

uint32_t Adaptor::RunningCount()
{
    const auto all = session_.supervisor().status();
    return static_cast<uint32_t>(std::count_if(all.begin(), all.end(), [](const auto& s) {
        return s.state == ServiceState::running;
    }));
}

uint32_t Adaptor::FailedCount()
{
    const auto all = session_.supervisor().status();
    return static_cast<uint32_t>(std::count_if(all.begin(), all.end(), [](const auto& s) {
        return s.state == ServiceState::fatal;
    }));
}

}  // namespace

std::string DbusApi::Impl::bus_description() const
{
    if (config_.dbus != "auto") {
        return "'" + config_.dbus + "'";
    }
    return ::geteuid() == 0 ? "the system bus" : "the session bus";
}

std::unique_ptr<sdbus::IConnection> DbusApi::Impl::open_connection() const
{
    if (config_.dbus != "auto") {
        return sdbus::createSessionBusConnectionWithAddress(config_.dbus);
    }
    if (::geteuid() == 0) {
        return sdbus::createSystemBusConnection();
    }
    return sdbus::createSessionBusConnection();
}

void DbusApi::Impl::connect(bool retrying)
{
    std::unique_ptr<sdbus::IConnection> connection;
    try {
        connection = open_connection();
    } catch (const sdbus::Error& e) {
        if (config_.dbus == "auto" && !retrying) {
            // Containers and minimal hosts have no bus: that is normal, not a fault.
            spdlog::debug("no D-Bus API: {} is not reachable ({})", bus_description(),
                          e.getMessage());
            return;
        }
        report_trouble(e.getMessage());
        return;
    }
    // A bus that is there but refuses the name (no policy file, another procsup) is worth
    // a warning even with "auto".
    try {
        auto session = std::make_shared<Session>(*this, std::move(connection));
        session_ = session;
        session->open();
        if (session_ != session) {
            return;  // Lost at once; on_connection_lost() said so and retries.
        }
    } catch (const sdbus::Error& e) {
        session_.reset();
        report_trouble(e.getMessage());
        return;
    }
    spdlog::info("D-Bus API '{}' offered on {}", bus_name, bus_description());
    trouble_logged_ = false;
}

void DbusApi::Impl::report_trouble(const std::string& why)
{
    if (!trouble_logged_) {
        spdlog::warn("cannot offer the D-Bus API on {}: {}; retrying every {}s",
                     bus_description(), why, reconnect_delay.count());
        trouble_logged_ = true;
    }
    schedule_retry();
}

void DbusApi::Impl::schedule_retry()
{
    retry_timer_.expires_after(reconnect_delay);
    retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !stopped_) {
            connect(true);
        }
    });
}

void DbusApi::Impl::on_connection_lost(const std::string& why)
{
    session_.reset();
    if (!trouble_logged_) {
        spdlog::warn("D-Bus connection to {} lost: {}; reconnecting every {}s", bus_description(),
                     why, reconnect_delay.count());
        trouble_logged_ = true;
    }
    schedule_retry();
}

void DbusApi::Impl::on_state_change(const Service& service, ServiceState from, ServiceState to)
{
    if (session_) {
        session_->emit_state_change(service, from, to);
    }
}

Refusal DbusApi::Impl::judge_caller(const sdbus::Error* error, const Details& credentials)
{
    if (error) {
        return "cannot read the caller's credentials: " + error->getMessage();
    }
    const auto uid_entry = credentials.find("UnixUserID");
    if (uid_entry == credentials.end() || !uid_entry->second.containsValueOfType<uint32_t>()) {
        return std::string("the bus gave no user ID for the caller");
    }
    const auto uid = static_cast<uid_t>(uid_entry->second.get<uint32_t>());
    if (uid == 0 || uid == ::geteuid()) {
        return std::nullopt;
    }
    // Without UnixGroupIDs (dbus-daemon before 1.11) group members are refused: safe side.
    const auto groups = credentials.find("UnixGroupIDs");
    if (allowed_gid_ && groups != credentials.end() &&
        groups->second.containsValueOfType<std::vector<uint32_t>>()) {
        const auto gids = groups->second.get<std::vector<uint32_t>>();
        if (std::find(gids.begin(), gids.end(), *allowed_gid_) != gids.end()) {
            return std::nullopt;
        }
    }
    if (refused_uids_logged_.insert(uid).second) {
        spdlog::warn("refused D-Bus call from uid {}: not root, not the daemon's user and not "
                     "in socket_group; further refusals of this uid are not logged",
                     uid);
    }
    return fmt::format("permission denied: uid {} may not control this procsup daemon", uid);
}

DbusApi::DbusApi(boost::asio::io_context& io, Supervisor& supervisor,
                 const SupervisorConfig& config)
    : impl_(std::make_unique<Impl>(io, supervisor, config))
{
}

DbusApi::~DbusApi()
{
    stop();
}

bool DbusApi::start(std::string& error)
{
    Impl& impl = *impl_;
    if (impl.config_.dbus == "off") {
        spdlog::debug("no D-Bus API: dbus = \"off\"");
        return true;
    }
    if (impl.config_.socket_group) {
        impl.allowed_gid_ = lookup_group(*impl.config_.socket_group);
        if (!impl.allowed_gid_) {
            error = fmt::format("socket_group '{}' does not exist", *impl.config_.socket_group);
            return false;
        }
    }
    impl.subscription_ = impl.supervisor_.subscribe(
        [&impl](const Service& service, ServiceState from, ServiceState to) {
            impl.on_state_change(service, from, to);
        });
    impl.connect(false);
    return true;
}

void DbusApi::stop()
{
    Impl& impl = *impl_;
    if (impl.stopped_) {
        return;
    }
    impl.stopped_ = true;
    impl.retry_timer_.cancel();
    impl.subscription_.reset();
    if (impl.session_) {
        impl.session_->release_name();
        impl.session_.reset();
    }
}

}  // namespace procsup
