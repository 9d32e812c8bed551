#include "procsup/control_server.hpp"

#include "procsup/access.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include "procsup/event_stream.hpp"
#include "procsup/log_stream.hpp"
#include "procsup/output_capture.hpp"
#include "procsup/protocol.hpp"
#include "procsup/supervisor.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace json = boost::json;
using boost::asio::local::stream_protocol;

namespace {

constexpr auto request_timeout = std::chrono::seconds(30);
constexpr std::size_t max_connections = 256;

const std::set<std::string_view> known_fields{"version", "command", "services", "all",
                                              "wait",    "signal",  "dry_run",  "stream",
                                              "lines",   "follow"};

// The peer's groups as the kernel recorded them when it connected (SO_PEERGROUPS, Linux
// 4.13): its real supplementary groups, not what /etc/group says about its user.
bool peer_in_group(int fd, gid_t primary, gid_t wanted)
{
    if (primary == wanted) {
        return true;
    }
    std::vector<gid_t> groups(64);
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) {
        if (errno != ERANGE) {
            return false;
        }
        groups.resize(len / sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) {
            return false;
        }
    }
    groups.resize(len / sizeof(gid_t));
    return std::find(groups.begin(), groups.end(), wanted) != groups.end();
}

}  // namespace

// One client. Reads one request at a time and answers it before reading the next.
struct ControlServer::Connection : std::enable_shared_from_this<Connection> {
    Connection(ControlServer& server, stream_protocol::socket socket)
        : server_(server),
          socket_(std::move(socket)),
          buffer_(protocol::max_request_bytes),
          timer_(socket_.get_executor())
    {
        ++server_.open_connections_;
    }
    ~Connection() { --server_.open_connections_; }

    void read_request();
    void on_request(const std::string& line);
    void handle(const json::object& request);
    void handle_action(const json::object& request, Action action);
    void handle_signal(const json::object& request, bool reload);
    void handle_logs(const json::object& request);
    std::optional<std::vector<std::string>> service_names(const json::object& request,
                                                          bool empty_means_all);
    void reply(json::object response, bool then_close = false);

    ControlServer& server_;
    stream_protocol::socket socket_;
    boost::asio::streambuf buffer_;
    boost::asio::steady_timer timer_;
    std::string out_;
};

void ControlServer::Connection::read_request()
{
    timer_.expires_after(request_timeout);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) {
            boost::system::error_code ignored;
            self->socket_.close(ignored);  // Silent client: free its slot.
        }
    });
    boost::asio::async_read_until(
        socket_, buffer_, '\n',
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            self->timer_.cancel();
            if (ec == boost::asio::error::not_found) {
                self->reply(protocol::make_error(protocol::error_bad_request,
                                                 "request larger than 64 KiB"),
                            true);
                return;
            }
            if (ec) {
                return;  // The client went away, or timed out.
            }
            std::string line(boost::asio::buffers_begin(self->buffer_.data()),
                             boost::asio::buffers_begin(self->buffer_.data()) +
                                 static_cast<std::ptrdiff_t>(n - 1));
            self->buffer_.consume(n);
            self->on_request(line);
        });
}

void ControlServer::Connection::on_request(const std::string& line)
{
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec || !value.is_object()) {
        reply(protocol::make_error(protocol::error_bad_request,
                                   ec ? "request is not valid JSON: " + ec.message()
                                      : std::string("request is not a JSON object")));
        return;
    }
    const json::object& request = value.as_object();
    for (const auto& field : request) {
        if (!known_fields.contains(std::string_view(field.key()))) {
            reply(protocol::make_error(protocol::error_bad_request,
                                       fmt::format("unknown field '{}'",
                                                   std::string_view(field.key()))));
            return;
        }
    }
    const json::value* version = request.if_contains("version");
    if (!version || !version->is_int64() || version->as_int64() != protocol::version) {
        reply(protocol::make_error(protocol::error_bad_request,
                                   "field 'version' must be 1 (this daemon speaks version 1)"));
        return;
    }
    const json::value* command = request.if_contains("command");
    if (!command || !command->is_string()) {
        reply(protocol::make_error(protocol::error_bad_request,
                                   "field 'command' must be a string"));
        return;
    }
    handle(request);
}

void ControlServer::Connection::handle(const json::object& request)
{
    const std::string_view command = request.at("command").as_string();
    Supervisor& sup = server_.supervisor_;

    if (command == "ping" || command == "version") {
        json::object r = protocol::make_ok();
        r["daemon_version"] = PROCSUP_VERSION;
        r["pid"] = ::getpid();
        reply(std::move(r));
    } else if (command == "status") {
        const auto names = service_names(request, true);
        if (!names) {
            return;
        }
        json::object r = protocol::make_ok();
        r["schema_version"] = protocol::status_schema_version;
        json::array services;
        // service_names() has checked the types of both fields.
        const json::value* all_flag = request.if_contains("all");
        const json::value* listed = request.if_contains("services");
        const bool all = (all_flag && all_flag->as_bool()) || !listed ||
                         listed->as_array().empty();
        if (all) {
            for (const ServiceStatus& s : sup.status_with_removed()) {
                services.push_back(protocol::to_json(s));
            }
        } else {
            for (const std::string& name : *names) {
                services.push_back(protocol::to_json(sup.find(name)->status()));
            }
        }
        r["services"] = std::move(services);
        reply(std::move(r));
    } else if (command == "start") {
        handle_action(request, Action::start);
    } else if (command == "stop") {
        handle_action(request, Action::stop);
    } else if (command == "restart") {
        handle_action(request, Action::restart);
    } else if (command == "reload") {
        handle_signal(request, true);
    } else if (command == "signal") {
        handle_signal(request, false);
    } else if (command == "logs") {
        handle_logs(request);
    } else if (command == "events") {
        // The connection becomes a stream: no more requests, and no read timeout.
        start_event_stream(socket_, shared_from_this(), server_.supervisor_);
    } else if (command == "reopen-logs") {
        server_.controls_.reopen_logs();
        reply(protocol::make_ok());
    } else if (command == "update" && server_.controls_.update) {
        const json::value* dry = request.if_contains("dry_run");
        reply(server_.controls_.update(dry && dry->is_bool() && dry->as_bool()));
    } else if (command == "shutdown") {
        json::object r = protocol::make_ok();
        r["pid"] = ::getpid();  // The client waits for this process to be gone.
        reply(std::move(r));
        server_.controls_.shutdown();
    } else {
        reply(protocol::make_error(protocol::error_bad_request,
                                   fmt::format("unknown command '{}'", command)));
    }
}

std::optional<std::vector<std::string>> ControlServer::Connection::service_names(
    const json::object& request, bool empty_means_all)
{
    const Supervisor& sup = server_.supervisor_;
    const json::value* all = request.if_contains("all");
    const json::value* services = request.if_contains("services");
    if ((all && !all->is_bool()) || (services && !services->is_array())) {
        reply(protocol::make_error(protocol::error_bad_request,
                                   "'all' must be a boolean and 'services' an array"));
        return std::nullopt;
    }
    std::vector<std::string> names;
    if (services) {
        for (const json::value& v : services->as_array()) {
            if (!v.is_string()) {
                reply(protocol::make_error(protocol::error_bad_request,
                                           "'services' must hold strings"));
                return std::nullopt;
            }
            names.emplace_back(v.as_string());
        }
    }
    if ((all && all->as_bool()) || (names.empty() && empty_means_all)) {
        names.clear();
        for (const ServiceStatus& s : sup.status()) {
            names.push_back(s.name);
        }
        return names;
    }
    if (names.empty()) {
        reply(protocol::make_error(protocol::error_bad_request,
                                   "name at least one service, or use --all"));
        return std::nullopt;
    }
    json::array unknown;
    for (const std::string& name : names) {
        if (!sup.find(name)) {
            unknown.emplace_back(name);
        }
    }
    if (!unknown.empty()) {
        json::object r = protocol::make_error(
            protocol::error_unknown_service,
            fmt::format("unknown service '{}'", std::string_view(unknown[0].as_string())));
        r["unknown"] = std::move(unknown);
        reply(std::move(r));
        return std::nullopt;
    }
    return names;
}

void ControlServer::Connection::handle_action(const json::object& request, Action action)
{
    const auto names = service_names(request, false);
    if (!names) {
        return;
    }
    if (server_.supervisor_.is_shutting_down() && action != Action::stop) {
        reply(protocol::make_error(protocol::error_shutting_down, "the daemon is shutting down"));
        return;
    }
    const json::value* wait = request.if_contains("wait");
    const bool should_wait = !wait || !wait->is_bool() || wait->as_bool();
    server_.supervisor_.act(
        action, *names, should_wait,
        [self = shared_from_this()](std::vector<ActionResult> results) {
            json::object r = protocol::make_ok();
            json::array items;
            bool all_ok = true;
            for (const ActionResult& result : results) {
                all_ok = all_ok && result.ok;
                json::object item;
                item["name"] = result.name;
                item["ok"] = result.ok;
                item["message"] = result.message;
                item["status"] = protocol::to_json(result.status);
                json::array tail;
                for (const std::string& line : result.output_tail) {
                    tail.emplace_back(to_valid_utf8(line));
                }
                item["output_tail"] = std::move(tail);
                items.push_back(std::move(item));
            }
            r["ok"] = all_ok;
            r["results"] = std::move(items);
            self->reply(std::move(r));
        });
}

void ControlServer::Connection::handle_signal(const json::object& request, bool reload)
{
    std::optional<int> signo;
    if (!reload) {
        const json::value* sig = request.if_contains("signal");
        if (sig && sig->is_string()) {
            signo = parse_signal(std::string_view(sig->as_string()));
        } else if (sig && sig->is_int64()) {
            signo = parse_signal(std::to_string(sig->as_int64()));
        }
        if (!signo) {
            reply(protocol::make_error(protocol::error_bad_request,
                                       "field 'signal' must name a signal, e.g. \"TERM\""));
            return;
        }
    }
    const auto names = service_names(request, false);
    if (!names) {
        return;
    }
    json::object r = protocol::make_ok();
    json::array items;
    bool all_ok = true;
    for (const std::string& name : *names) {
        Service* s = server_.supervisor_.find(name);
        const int sig = reload ? s->config().reload_signal : *signo;
        const std::error_code ec = reload ? s->reload() : s->send_signal(sig);
        all_ok = all_ok && !ec;
        json::object item;
        item["name"] = name;
        item["ok"] = !ec;
        item["message"] = ec ? fmt::format("not signalled: {}", ec == std::errc::no_such_process
                                                                    ? "not running"
                                                                    : ec.message())
                             : fmt::format("sent {}", signal_name(sig));
        item["status"] = protocol::to_json(s->status());
        items.push_back(std::move(item));
    }
    r["ok"] = all_ok;
    r["results"] = std::move(items);
    reply(std::move(r));
}

void ControlServer::Connection::handle_logs(const json::object& request)
{
    LogRequest parsed;
    std::string error;
    if (!parse_log_request(request, parsed, error)) {
        reply(protocol::make_error(protocol::error_bad_request, error));
        return;
    }
    const auto names = service_names(request, false);
    if (!names) {
        return;
    }
    if (names->size() != 1) {
        reply(protocol::make_error(protocol::error_bad_request, "name exactly one service"));
        return;
    }
    const auto sink = server_.supervisor_.find(names->front())->output_sink(parsed.stderr_stream);
    json::object first = make_log_reply(*sink, parsed);
    if (!parsed.follow) {
        reply(std::move(first));
        return;
    }
    // The connection becomes a stream: no more requests, and no read timeout.
    start_log_follower(socket_, shared_from_this(), *sink, std::move(first));
}

void ControlServer::Connection::reply(json::object response, bool then_close)
{
    out_ = json::serialize(response);
    out_.push_back('\n');
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this(), then_close](boost::system::error_code ec, std::size_t) {
            if (ec || then_close) {
                boost::system::error_code ignored;
                self->socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
                self->socket_.close(ignored);
                return;
            }
            self->read_request();
        });
}

ControlServer::ControlServer(boost::asio::io_context& io, Supervisor& supervisor,
                             DaemonControls controls)
    : io_(io), supervisor_(supervisor), controls_(std::move(controls)), acceptor_(io)
{
}

ControlServer::~ControlServer()
{
    close();
}

bool ControlServer::listen(const SupervisorConfig& config, std::string& error)
{
    path_ = config.socket;
    // Asio's endpoint throws on a path longer than sun_path holds; say which path it is.
    if (path_.native().size() >= sizeof(sockaddr_un::sun_path)) {
        error = fmt::format("socket path '{}' is too long: {} bytes, at most {}", path_.string(),
                            path_.native().size(), sizeof(sockaddr_un::sun_path) - 1);
        return false;
    }
    if (config.socket_group) {
        allowed_gid_ = lookup_group(*config.socket_group);
        if (!allowed_gid_) {
            error = fmt::format("socket_group '{}' does not exist", *config.socket_group);
            return false;
        }
    }
    if (!make_socket_directory(error) || !replace_stale_socket(error) || !bind(error)) {
        return false;
    }
    ::chmod(path_.c_str(), config.socket_mode);
    if (allowed_gid_) {
        [[maybe_unused]] int rc = ::chown(path_.c_str(), static_cast<uid_t>(-1), *allowed_gid_);
    }
    accept_next();
    return true;
}

bool ControlServer::make_socket_directory(std::string& error)
{
    const auto dir = path_.parent_path();
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
        return true;
    }
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        error = fmt::format("cannot create socket directory '{}': {}", dir.string(),
                            ec.message());
        return false;
    }
    // Only the daemon's user (and the socket group) may even look inside.
    ::chmod(dir.c_str(), allowed_gid_ ? 0750 : 0700);
    if (allowed_gid_) {
        [[maybe_unused]] int rc = ::chown(dir.c_str(), static_cast<uid_t>(-1), *allowed_gid_);
    }
    return true;
}

bool ControlServer::replace_stale_socket(std::string& error)
{
    struct stat st {};
    if (::lstat(path_.c_str(), &st) != 0) {
        return true;
    }
    if (!S_ISSOCK(st.st_mode)) {
        error = fmt::format("'{}' exists and is not a socket; not replacing it", path_.string());
        return false;
    }
    stream_protocol::socket probe(io_);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path_.string()), ec);
    if (!ec) {
        error = fmt::format("another procsup daemon is listening on '{}'", path_.string());
        return false;
    }
    spdlog::warn("replacing stale control socket '{}' (nothing answers on it)", path_.string());
    ::unlink(path_.c_str());
    return true;
}

bool ControlServer::bind(std::string& error)
{
    boost::system::error_code ec;
    acceptor_.open(stream_protocol(), ec);
    // The socket file is created with the umask's mode: 0177 leaves no window in which
    // another user could connect before the chmod that follows.
    const mode_t old_mask = ::umask(0177);
    if (!ec) {
        acceptor_.bind(stream_protocol::endpoint(path_.string()), ec);
    }
    ::umask(old_mask);
    if (!ec) {
        acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        error = fmt::format("cannot listen on '{}': {}", path_.string(), ec.message());
        acceptor_.close(ec);
        return false;
    }
    return true;
}

void ControlServer::close()
{
    if (!acceptor_.is_open()) {
        return;
    }
    boost::system::error_code ec;
    acceptor_.close(ec);
    ::unlink(path_.c_str());
}

void ControlServer::accept_next()
{
    acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted) {
            return;
        }
        if (!ec) {
            auto connection = std::make_shared<Connection>(*this, std::move(socket));
            std::string who;
            if (open_connections_ > max_connections) {
                connection->reply(protocol::make_error(protocol::error_failed,
                                                       "too many connections; try again"),
                                  true);
            } else if (!is_peer_allowed(connection->socket_.native_handle(), who)) {
                connection->reply(
                    protocol::make_error(protocol::error_permission_denied,
                                         "permission denied: " + who +
                                             " may not control this procsup daemon"),
                    true);
            } else {
                connection->read_request();
            }
        }
        accept_next();
    });
}

bool ControlServer::is_peer_allowed(int fd, std::string& who)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        who = "a peer without credentials";
        return false;
    }
    if (cred.uid == 0 || cred.uid == ::geteuid() ||
        (allowed_gid_ && peer_in_group(fd, cred.gid, *allowed_gid_))) {
        return true;
    }
    who = fmt::format("uid {}", cred.uid);
    if (refused_uids_logged_.insert(cred.uid).second) {
        spdlog::warn("refused control connection from uid {} (pid {}): not root, not the "
                     "daemon's user and not in socket_group; further refusals of this uid are "
                     "not logged",
                     cred.uid, cred.pid);
    }
    return false;
}

}  // namespace procsup
