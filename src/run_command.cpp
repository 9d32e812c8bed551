#include "procsup/run_command.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "procsup/units.hpp"

namespace procsup {

namespace {

namespace fs = std::filesystem;

struct Invalid {
    std::string message;
};

Duration duration_option(const std::string& option, const std::string& text)
{
    const auto d = parse_duration(text);
    if (!d) {
        throw Invalid{fmt::format("{}: '{}' is not a duration (e.g. \"10s\", \"250ms\")", option,
                                  text)};
    }
    return *d;
}

int signal_option(const std::string& option, const std::string& text)
{
    const auto s = parse_signal(text);
    if (!s) {
        throw Invalid{fmt::format("{}: '{}' is not a signal (e.g. TERM, INT, 15)", option, text)};
    }
    return *s;
}

RestartPolicy restart_option(const std::string& text)
{
    if (text == "always") {
        return RestartPolicy::always;
    }
    if (text == "on-failure") {
        return RestartPolicy::on_failure;
    }
    if (text == "never") {
        return RestartPolicy::never;
    }
    throw Invalid{fmt::format("--restart: '{}' is not one of always, on-failure, never", text)};
}

std::optional<HealthCheckConfig> health_option(const RunOptions& o)
{
    const int kinds = !o.health_cmd.empty() + !o.health_http.empty() + !o.health_tcp.empty();
    if (kinds == 0) {
        return std::nullopt;
    }
    if (kinds > 1) {
        throw Invalid{"--health-cmd, --health-http and --health-tcp exclude each other"};
    }
    HealthCheckConfig h;
    h.interval = duration_option("--health-interval", o.health_interval);
    h.timeout = duration_option("--health-timeout", o.health_timeout);
    if (o.health_retries < 1) {
        throw Invalid{"--health-retries: must be at least 1"};
    }
    h.retries = o.health_retries;
    if (!o.health_cmd.empty()) {
        h.kind = HealthCheckConfig::Kind::command;
        h.command = {"/bin/sh", "-c", o.health_cmd};
    } else if (!o.health_http.empty()) {
        if (!o.health_http.starts_with("http://")) {
            throw Invalid{fmt::format("--health-http: '{}' is not an http:// URL", o.health_http)};
        }
        h.kind = HealthCheckConfig::Kind::http;
        h.http_url = o.health_http;
    } else {
        const std::size_t colon = o.health_tcp.rfind(':');
        const std::string port = colon == std::string::npos ? "" : o.health_tcp.substr(colon + 1);
        char* end = nullptr;
        const long n = std::strtol(port.c_str(), &end, 10);
        if (colon == 0 || colon == std::string::npos || port.empty() || *end || n < 1 ||
            n > 65535) {
            throw Invalid{fmt::format("--health-tcp: '{}' is not host:port", o.health_tcp)};
        }
        h.kind = HealthCheckConfig::Kind::tcp;
        h.tcp_host = o.health_tcp.substr(0, colon);
        h.tcp_port = static_cast<std::uint16_t>(n);
    }
    return h;
}

ServiceConfig service_from(const RunOptions& o, const fs::path& cwd)
{
    ServiceConfig s;
    s.command = o.command;
    s.name = o.name.empty() ? fs::path(o.command.front()).filename().string() : o.name;
    s.origin = "command line";
    s.restart = restart_option(o.restart);
    s.stop_signal = signal_option("--stop-signal", o.stop_signal);
    s.stop_timeout = duration_option("--stop-timeout", o.stop_timeout);
    s.start_seconds = duration_option("--start-seconds", o.start_seconds);
    s.kill_group = o.group;
    // The command's end is procsup's end: it exits with the command's status.
    s.essential = true;
    if (o.log.empty()) {
        s.stdout_target = OutputTarget{OutputTarget::Kind::passthrough, {}};
        s.stderr_target = OutputTarget{OutputTarget::Kind::passthrough, {}};
    } else {
        s.stdout_target = OutputTarget{OutputTarget::Kind::file, fs::absolute(cwd / o.log)};
        s.stderr_target = OutputTarget{OutputTarget::Kind::merge_into_stdout, {}};
        const auto size = parse_size(o.log_max_size);
        if (!size) {
            throw Invalid{fmt::format("--log-max-size: '{}' is not a size (e.g. \"10MB\")",
                                      o.log_max_size)};
        }
        s.log_max_size = *size;
        s.log_backups = o.log_backups;
    }
    if (!o.pidfile.empty()) {
        s.pidfile = fs::absolute(cwd / o.pidfile);
    }
    if (!o.user.empty()) {
        s.user = o.user;
    }
    for (const std::string& kv : o.env) {
        const std::size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw Invalid{fmt::format("--env: '{}' is not KEY=VALUE", kv)};
        }
        s.environment[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    s.directory = cwd;
    s.health = health_option(o);
    return s;
}

}  // namespace

std::variant<Config, std::string> make_run_config(const RunOptions& options)
{
    if (options.command.empty()) {
        return std::string("run: name the command to run after '--'");
    }
    std::error_code ec;
    const fs::path cwd = fs::current_path(ec);
    try {
        Config config;
        config.file = "(command line)";
        config.services.push_back(service_from(options, cwd));
        config.supervisor.socket =
            options.socket.empty() ? fs::path() : fs::absolute(cwd / options.socket);
        config.supervisor.log = "-";
        // Quiet like tini: only problems, unless the socket makes it a small daemon.
        config.supervisor.log_level = "warn";
        config.supervisor.log_dir = cwd;
        config.supervisor.dbus = "off";
        return config;
    } catch (const Invalid& e) {
        return e.message;
    }
}

}  // namespace procsup
