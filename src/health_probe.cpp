// The three health probes (HTTP GET, TCP connect, exec'd command). This is the only file
// that includes Beast: each translation unit that does costs about 15 s to compile.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "procsup/exit_status.hpp"
#include "procsup/health_check.hpp"
#include "procsup/spawner.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using DoneCallback = std::function<void(HealthResult)>;

constexpr std::size_t max_http_body = 64 * 1024;
constexpr std::size_t max_body_in_output = 200;
constexpr std::size_t max_command_output = 1024;
// Bounds the final read after a command exited, against a grandchild that keeps writing.
constexpr std::size_t max_drain = 64 * 1024;

// Makes text fit on one log line: control characters become spaces, ends are trimmed.
std::string one_line(std::string_view text)
{
    std::string line;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        line += (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) {
        return {};
    }
    return line.substr(first, line.find_last_not_of(' ') - first + 1);
}

// "connection refused": the system's message, starting lower-case like our own messages.
std::string describe(const error_code& ec)
{
    std::string text = ec.message();
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
        text[0] = static_cast<char>(text[0] - 'A' + 'a');
    }
    return text;
}

struct HostPort {
    std::string host;  // a name, or an address literal (IPv6 without brackets)
    std::uint16_t port = 0;
};

struct HttpTarget {
    HostPort server;
    std::string host_header;  // "host:port" as written in the URL
    std::string path;         // path and query, never empty
};

// Splits "host", "host:port", "[v6]" or "[v6]:port". Returns nullopt when malformed.
std::optional<HostPort> split_authority(std::string_view authority, std::uint16_t default_port)
{
    HostPort result{{}, default_port};
    std::string_view port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        result.host = authority.substr(1, close - 1);
        port = authority.substr(close + 1);
    } else {
        const auto colon = authority.find(':');
        result.host = authority.substr(0, colon);
        port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    }
    if (result.host.empty()) {
        return std::nullopt;
    }
    if (port.empty()) {
        return result;
    }
    unsigned number = 0;
    const char* end = port.data() + port.size();
    const auto [ptr, ec] = std::from_chars(port.data() + 1, end, number);
    if (port[0] != ':' || ec != std::errc() || ptr != end || number == 0 || number > 65535) {
        return std::nullopt;
    }
    result.port = static_cast<std::uint16_t>(number);
    return result;
}

// Parses "http://host[:port][/path]". The config loader has already validated the URL and
// filled http_host/http_port/http_path; this covers a config built without the loader.
std::optional<HttpTarget> parse_http_url(std::string_view url)
{
    constexpr std::string_view scheme = "http://";
    // A space or control character could smuggle a header line into the request.
    const bool has_control = std::any_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
    });
    if (!url.starts_with(scheme) || has_control) {
        return std::nullopt;
    }
    url.remove_prefix(scheme.size());
    const auto path_start = url.find_first_of("/?#");
    const auto authority = url.substr(0, path_start);
    auto server = split_authority(authority, 80);
    if (!server || authority.find('@') != std::string_view::npos) {
        return std::nullopt;
    }
    std::string path(path_start == std::string_view::npos ? "" : url.substr(path_start));
    path = path.substr(0, path.find('#'));
    if (path.empty() || path[0] != '/') {
        path.insert(0, "/");
    }
    return HttpTarget{std::move(*server), std::string(authority), std::move(path)};
}

std::optional<HttpTarget> http_target_of(const HealthCheckConfig& config)
{
    if (config.http_host.empty()) {
        return parse_http_url(config.http_url);
    }
    const bool is_v6 = config.http_host.find(':') != std::string::npos;
    std::string host_header = is_v6 ? "[" + config.http_host + "]" : config.http_host;
    if (config.http_port != 80) {
        host_header += ":" + std::to_string(config.http_port);
    }
    return HttpTarget{{config.http_host, config.http_port},
                      std::move(host_header),
                      config.http_path.empty() ? "/" : config.http_path};
}

// One check in flight. Its handlers hold it by shared_ptr, so it outlives a cancel() or
// the probe itself until they have run; emptying `done_` (finish or cancel) turns every
// later handler into a no-op. Runs on the loop's thread only.
class CheckRun : public std::enable_shared_from_this<CheckRun> {
public:
    CheckRun(asio::io_context& io, Duration timeout) : io_(io), deadline_(io), timeout_(timeout) {}
    CheckRun(const CheckRun&) = delete;
    CheckRun& operator=(const CheckRun&) = delete;
    virtual ~CheckRun() = default;

    void start(DoneCallback done)
    {
        done_ = std::move(done);
        deadline_.expires_after(timeout_);
        deadline_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) {
                self->finish(false, "timed out after " + format_duration(self->timeout_));
            }
        });
        start_operations();
    }

    bool is_active() const { return static_cast<bool>(done_); }

    void cancel()
    {
        done_ = nullptr;
        deadline_.cancel();
        stop();
    }

protected:
    // Starts the kind's own operations; may call fail_soon(), never done_ directly.
    virtual void start_operations() = 0;
    // Ends the kind's own operations; their handlers then see !is_active().
    virtual void stop() = 0;

    void finish(bool passed, std::string output)
    {
        if (!done_) {
            return;
        }
        auto done = std::move(done_);
        done_ = nullptr;
        deadline_.cancel();
        stop();
        // Last: `done` may destroy the probe; this run lives on in the calling handler.
        done(HealthResult{passed, std::move(output)});
    }

    // Reports a failure from the loop, so that run() never calls `done` itself.
    void fail_soon(std::string output)
    {
        asio::post(io_, [self = shared_from_this(), output = std::move(output)]() mutable {
            self->finish(false, std::move(output));
        });
    }

    template <typename T>
    std::shared_ptr<T> self_as()
    {
        return std::static_pointer_cast<T>(shared_from_this());
    }

    asio::io_context& io_;
    asio::steady_timer deadline_;

private:
    Duration timeout_;
    DoneCallback done_;
};

// A check that first finds the server's addresses, then connects.
class NetworkRun : public CheckRun {
public:
    NetworkRun(asio::io_context& io, Duration timeout, HostPort server)
        : CheckRun(io, timeout), resolver_(io), server_(std::move(server))
    {
    }

protected:
    virtual void start_connect(const std::vector<tcp::endpoint>& endpoints) = 0;

    // An address literal needs no lookup: that keeps Asio's resolver thread for names only.
    void start_operations() override
    {
        error_code ec;
        const auto address = asio::ip::make_address(server_.host, ec);
        if (!ec) {
            start_connect({tcp::endpoint(address, server_.port)});
            return;
        }
        resolver_.async_resolve(
            server_.host, std::to_string(server_.port),
            [self = self_as<NetworkRun>()](error_code rec, tcp::resolver::results_type found) {
                self->on_resolve(rec, found);
            });
    }

    void stop() override { resolver_.cancel(); }

    std::string server_text() const
    {
        const bool is_v6 = server_.host.find(':') != std::string::npos;
        const std::string host = is_v6 ? "[" + server_.host + "]" : server_.host;
        return host + ":" + std::to_string(server_.port);
    }

private:
    void on_resolve(error_code ec, const tcp::resolver::results_type& found)
    {
        if (!is_active()) {
            return;
        }
        if (ec) {
            finish(false, "cannot resolve '" + server_.host + "': " + describe(ec));
            return;
        }
        std::vector<tcp::endpoint> endpoints;
        for (const auto& entry : found) {
            endpoints.push_back(entry.endpoint());
        }
        start_connect(endpoints);
    }

    tcp::resolver resolver_;
    HostPort server_;
};

class TcpRun final : public NetworkRun {
public:
    using NetworkRun::NetworkRun;

private:
    void start_connect(const std::vector<tcp::endpoint>& endpoints) override
    {
        asio::async_connect(socket_, endpoints,
                            [self = self_as<TcpRun>()](error_code ec, const tcp::endpoint&) {
                                self->on_connect(ec);
                            });
    }

    void on_connect(error_code ec)
    {
        if (!is_active()) {
            return;
        }
        if (ec) {
            finish(false, describe(ec));
            return;
        }
        finish(true, "connected to " + server_text());
    }

    void stop() override
    {
        NetworkRun::stop();
        error_code ignored;
        socket_.close(ignored);
    }

    tcp::socket socket_{io_};
};

class HttpRun final : public NetworkRun {
public:
    HttpRun(asio::io_context& io, Duration timeout, HttpTarget target)
        : NetworkRun(io, timeout, target.server), stream_(io)
    {
        request_.method(http::verb::get);
        request_.target(target.path);
        request_.version(11);
        request_.set(http::field::host, target.host_header);
        request_.set(http::field::user_agent, "procsup-health");
        // One request per connection: no keep-alive state to manage between checks.
        request_.set(http::field::connection, "close");
        parser_.body_limit(max_http_body);
    }

private:
    void start_connect(const std::vector<tcp::endpoint>& endpoints) override
    {
        // Beast's own deadline for connect, write and read together (PLATFORM A3); it ends
        // with the run's deadline, which also covers the name lookup.
        stream_.expires_at(deadline_.expiry());
        stream_.async_connect(endpoints,
                              [self = self_as<HttpRun>()](error_code ec, const tcp::endpoint&) {
                                  self->on_connect(ec);
                              });
    }

    void on_connect(error_code ec)
    {
        if (fail_on(ec)) {
            return;
        }
        http::async_write(
            stream_, request_,
            [self = self_as<HttpRun>()](error_code wec, std::size_t) { self->on_write(wec); });
    }

    void on_write(error_code ec)
    {
        if (fail_on(ec)) {
            return;
        }
        http::async_read(
            stream_, buffer_, parser_,
            [self = self_as<HttpRun>()](error_code rec, std::size_t) { self->on_read(rec); });
    }

    void on_read(error_code ec)
    {
        // An oversized body does not change the verdict: the status line is what counts.
        const bool too_long = ec == http::error::body_limit && parser_.is_header_done();
        if (!too_long && fail_on(ec)) {
            return;
        }
        const auto& response = parser_.get();
        const unsigned status = response.result_int();
        // A redirect passes as is and is never followed, so a check stays on its host.
        const bool passed = status >= 200 && status < 400;
        std::string output = "HTTP " + std::to_string(status);
        const std::string body =
            one_line(std::string_view(response.body()).substr(0, max_body_in_output));
        if (!body.empty()) {
            output += ": " + body;
        }
        finish(passed, std::move(output));
    }

    // True when the exchange is over: cancelled, or failed with `ec` (now reported).
    bool fail_on(error_code ec)
    {
        if (!is_active()) {
            return true;
        }
        if (!ec) {
            return false;
        }
        if (ec == beast::error::timeout) {
            // The run's deadline fires at the same moment and words it.
            return true;
        }
        finish(false, describe(ec));
        return true;
    }

    void stop() override
    {
        NetworkRun::stop();
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::empty_body> request_;
    http::response_parser<http::string_body> parser_;
};

// A URL that cannot be checked fails every check, saying why.
class InvalidRun final : public CheckRun {
public:
    InvalidRun(asio::io_context& io, Duration timeout, std::string reason)
        : CheckRun(io, timeout), reason_(std::move(reason))
    {
    }

private:
    void start_operations() override { fail_soon(reason_); }
    void stop() override {}

    std::string reason_;
};

class CommandRun final : public CheckRun {
public:
    CommandRun(asio::io_context& io, Duration timeout, SpawnRequest request, ChildWatcher& children)
        : CheckRun(io, timeout), request_(std::move(request)), children_(children), pipe_(io)
    {
    }

private:
    void start_operations() override;
    void stop() override;
    void start_read();
    void on_read(error_code ec, std::size_t size);
    void on_exit(int wait_status);
    void end_leftovers();
    void complete();
    void keep_output(std::size_t size);

    SpawnRequest request_;
    ChildWatcher& children_;
    asio::posix::stream_descriptor pipe_;
    std::array<char, 4096> chunk_{};
    std::string output_;
    std::optional<pid_t> pid_;        // set once spawned
    std::optional<int> wait_status_;  // set once the reaper reported the exit
    bool reading_ = false;
};

void CommandRun::start_operations()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) {
        fail_soon(std::string("cannot create a pipe: ") + std::strerror(errno));
        return;
    }
    request_.stdout_fd = fds[1];
    request_.stderr_fd = fds[1];
    const SpawnResult spawned = spawn(request_);
    ::close(fds[1]);
    if (const auto* error = std::get_if<SpawnError>(&spawned)) {
        ::close(fds[0]);
        fail_soon(error->to_string());
        return;
    }
    pid_ = std::get<pid_t>(spawned);
    pipe_.assign(fds[0]);
    // The reaper runs on this thread, so the child cannot be reaped before this line. Weak:
    // once the check is over, the exit is still taken from the reaper, and dropped.
    std::weak_ptr<CommandRun> weak = self_as<CommandRun>();
    children_.watch(*pid_, [weak](int wait_status) {
        if (auto self = weak.lock()) {
            self->on_exit(wait_status);
        }
    });
    start_read();
}

void CommandRun::stop()
{
    // Only until the exit is reported: after that the PID and group may belong to others.
    if (pid_ && !wait_status_) {
        // A session leader's group ID is its PID; this reaches the check's own children too.
        ::kill(-*pid_, SIGKILL);
    }
    error_code ignored;
    pipe_.close(ignored);
}

void CommandRun::start_read()
{
    reading_ = true;
    pipe_.async_read_some(asio::buffer(chunk_),
                          [self = self_as<CommandRun>()](error_code ec, std::size_t size) {
                              self->on_read(ec, size);
                          });
}

void CommandRun::keep_output(std::size_t size)
{
    const std::size_t room = max_command_output - std::min(output_.size(), max_command_output);
    output_.append(chunk_.data(), std::min(size, room));
}

// Reads on past the 1 KiB kept, so that a chatty check never blocks on a full pipe.
void CommandRun::on_read(error_code ec, std::size_t size)
{
    reading_ = false;
    if (!is_active()) {
        return;
    }
    keep_output(size);
    if (wait_status_) {
        complete();  // on_exit() cancelled this read to collect the rest
        return;
    }
    if (!ec) {
        start_read();
    }
    // EOF or a read error: the exit (or the deadline) ends the check.
}

void CommandRun::on_exit(int wait_status)
{
    wait_status_ = wait_status;
    end_leftovers();
    if (!is_active()) {
        return;
    }
    // Output may sit in the pipe or in a read completion queued behind this handler: let
    // that read finish first (cancelled, it completes with what it already has).
    if (reading_) {
        error_code ignored;
        pipe_.cancel(ignored);
        return;
    }
    complete();
}

// A check is a probe, not a launcher: what it left running in its group (`sh -c 'x &'`)
// would pile up, one per interval. Its leader is reaped by now. While any member of the
// group lives, the kernel does not hand the group's number out as a PID, so when no process
// has that PID, a group of that number is still the check's own.
void CommandRun::end_leftovers()
{
    if (pid_ && ::kill(*pid_, 0) < 0 && errno == ESRCH) {
        ::kill(-*pid_, SIGKILL);
    }
}

void CommandRun::complete()
{
    // The process is gone, so what it wrote is in the pipe already; take it without waiting.
    error_code ec;
    pipe_.non_blocking(true, ec);
    for (std::size_t drained = 0; !ec && drained < max_drain;) {
        const std::size_t size = pipe_.read_some(asio::buffer(chunk_), ec);
        keep_output(size);
        drained += size;
    }
    const ExitStatus status = ExitStatus::from_wait_status(*wait_status_);
    std::string output = one_line(output_);
    if (output.empty()) {
        output = status.describe();
    }
    finish(status.code == 0, std::move(output));
}

// The probe: creates one run per check and holds the current one.
class Probe final : public HealthProbe {
public:
    using RunFactory = std::function<std::shared_ptr<CheckRun>()>;

    explicit Probe(RunFactory make_run) : make_run_(std::move(make_run)) {}
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;
    ~Probe() override { cancel(); }

    void run(std::function<void(HealthResult)> done) override
    {
        assert(!(current_ && current_->is_active()) && "one health check at a time");
        current_ = make_run_();
        current_->start(std::move(done));
    }

    void cancel() override
    {
        if (current_) {
            current_->cancel();
            current_.reset();
        }
    }

private:
    RunFactory make_run_;
    std::shared_ptr<CheckRun> current_;
};

Probe::RunFactory http_runs(asio::io_context& io, const HealthCheckConfig& config)
{
    const Duration timeout = config.timeout;
    auto target = http_target_of(config);
    if (!target) {
        std::string reason = "invalid health check URL '" + config.http_url + "'";
        return [&io, timeout, reason] { return std::make_shared<InvalidRun>(io, timeout, reason); };
    }
    return [&io, timeout, target = std::move(*target)] {
        return std::make_shared<HttpRun>(io, timeout, target);
    };
}

Probe::RunFactory command_runs(asio::io_context& io, const HealthCheckConfig& config,
                               CheckContext context, ChildWatcher& children)
{
    SpawnRequest request;
    request.argv = config.command;
    request.env = std::move(context.env);
    request.directory = std::move(context.directory);
    request.user = std::move(context.user);
    request.group = std::move(context.group);
    request.umask = context.umask;
    return [&io, &children, timeout = config.timeout, request = std::move(request)] {
        return std::make_shared<CommandRun>(io, timeout, request, children);
    };
}

}  // namespace

std::unique_ptr<HealthProbe> HealthProbe::create(boost::asio::io_context& io,
                                                 const HealthCheckConfig& config,
                                                 CheckContext context, ChildWatcher& children)
{
    switch (config.kind) {
        case HealthCheckConfig::Kind::http:
            return std::make_unique<Probe>(http_runs(io, config));
        case HealthCheckConfig::Kind::tcp:
            return std::make_unique<Probe>([&io, timeout = config.timeout,
                                            server = HostPort{config.tcp_host, config.tcp_port}] {
                return std::make_shared<TcpRun>(io, timeout, server);
            });
        case HealthCheckConfig::Kind::command:
            return std::make_unique<Probe>(command_runs(io, config, std::move(context), children));
    }
    assert(false && "unknown health check kind");
    return nullptr;
}

}  // namespace procsup
