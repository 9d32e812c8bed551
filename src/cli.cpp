#include "procsup/cli.hpp"

#include <unistd.h>

#include <boost/version.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/version.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "procsup/config.hpp"
#include "procsup/control_client.hpp"
#include "procsup/exit_codes.hpp"
#include "procsup/expand.hpp"
#include "procsup/daemon.hpp"
#include "procsup/logs_command.hpp"
#include "procsup/protocol.hpp"
#include "procsup/render.hpp"
#include "procsup/run_command.hpp"
#include "procsup/units.hpp"

namespace procsup {

namespace json = boost::json;

namespace {


const char* const default_config = "/etc/procsup/procsup.toml";

struct GlobalOptions {
    std::string config;
    std::string socket;
    bool json = false;
};

// `socket = "..."` under [supervisor], found line by line in text that is not valid TOML.
// toml++ gives nothing back from a file with a syntax error, but such a file is exactly what
// an operator has open in an editor while the daemon runs the previous version.
std::optional<std::string> scan_for_socket(const std::string& text)
{
    std::istringstream lines(text);
    bool in_supervisor = false;
    for (std::string line; std::getline(lines, line);) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') {
            continue;
        }
        line.erase(0, first);
        if (line[0] == '[') {
            const auto close = line.find(']');
            std::string header = line.substr(1, close == std::string::npos ? 0 : close - 1);
            header.erase(0, header.find_first_not_of(" \t"));
            header.erase(header.find_last_not_of(" \t") + 1);
            in_supervisor = header == "supervisor";
            continue;
        }
        if (!in_supervisor || line.compare(0, 6, "socket") != 0) {
            continue;
        }
        auto at = line.find_first_not_of(" \t", 6);
        if (at == std::string::npos || line[at] != '=') {
            continue;
        }
        at = line.find_first_not_of(" \t", at + 1);
        if (at == std::string::npos || (line[at] != '"' && line[at] != '\'')) {
            continue;
        }
        const auto end = line.find(line[at], at + 1);
        const std::string value = line.substr(at + 1, end == std::string::npos ? 0 : end - at - 1);
        if (end != std::string::npos && !value.empty() && value.find('\\') == std::string::npos) {
            return value;
        }
    }
    return std::nullopt;
}

// The socket named in a config that does not validate, read without validation, so that a
// broken edit does not cut the operator off from the daemon still running the old one.
// nullopt when the file certainly names none (the default applies). Rethrows `error` when
// that cannot be told, as for a file that cannot be read, or is not TOML and has no
// socket line: guessing the default socket could then act on another daemon.
std::optional<std::filesystem::path> socket_from_raw_config(const std::filesystem::path& file,
                                                            const Environment& env,
                                                            const ConfigError& error)
{
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
        throw error;
    }
    std::optional<std::string> socket;
    try {
        const toml::table table = toml::parse(text.str(), file.string());
        socket = table["supervisor"]["socket"].value<std::string>();
    } catch (const toml::parse_error&) {
        socket = scan_for_socket(text.str());
        if (!socket) {
            throw error;
        }
    }
    if (!socket) {
        return std::nullopt;
    }
    const ExpandResult expanded = expand_variables(*socket, env);
    if (const auto* value = std::get_if<std::string>(&expanded)) {
        socket = *value;
    }
    const std::filesystem::path p(*socket);
    return p.is_absolute() ? p : std::filesystem::absolute(file).parent_path() / p;
}

std::filesystem::path resolve_socket(const GlobalOptions& global)
{
    if (!global.socket.empty()) {
        return global.socket;
    }
    const Environment env = current_environment();
    const std::filesystem::path file = global.config.empty() ? default_config : global.config;
    std::error_code ec;
    if (!global.config.empty() || std::filesystem::exists(file, ec)) {
        try {
            return load_supervisor_config(file, env).socket;
        } catch (const ConfigError& error) {
            if (auto socket = socket_from_raw_config(file, env, error)) {
                return *socket;
            }
        }
    }
    return default_socket_path(env);
}

// Reports a daemon error reply and maps it to an exit status; nullopt for a success reply.
std::optional<int> check_error(const json::object& reply, bool as_json)
{
    const json::value* err = reply.if_contains("error");
    if (!err || !err->is_object()) {
        return std::nullopt;
    }
    const json::object& e = err->as_object();
    const std::string code(e.at("code").as_string());
    if (as_json) {
        std::cout << json::serialize(reply) << "\n";
    } else {
        std::fprintf(stderr, "procsup: %s\n",
                     std::string(e.at("message").as_string()).c_str());
    }
    if (code == protocol::error_unknown_service) {
        return exit_unknown_service;
    }
    if (code == protocol::error_bad_request) {
        return exit_usage;
    }
    return exit_failed;
}

class Client {
public:
    explicit Client(const GlobalOptions& global) : global_(global) {}

    // Sends `request` and returns the reply, or an exit status when there is none to use.
    // Requests that wait for an outcome (start, stop, restart) have no time limit; every
    // other one gets an answer within seconds from a healthy daemon.
    std::variant<json::object, int> call(json::object request)
    {
        const std::filesystem::path socket = resolve_socket(global_);
        std::string error;
        if (!client_.connect(socket, error)) {
            std::fprintf(stderr, "procsup: %s\n(is the daemon running? start it with "
                                 "'procsup daemon')\n",
                         error.c_str());
            return exit_unreachable;
        }
        request["version"] = protocol::version;
        const json::value* wait = request.if_contains("wait");
        const std::string_view command = request.at("command").as_string();
        const bool waits = (command == "start" || command == "stop" || command == "restart") &&
                           !(wait && wait->is_bool() && !wait->as_bool());
        auto reply = client_.call(request, error,
                                  waits ? std::nullopt
                                        : std::optional<std::chrono::milliseconds>(
                                              std::chrono::seconds(10)));
        if (!reply) {
            std::fprintf(stderr, "procsup: %s\n", error.c_str());
            return exit_unreachable;
        }
        return std::move(*reply);
    }

    // Like call(), but an error reply is reported here: the caller gets the successful
    // reply, or the exit status to end with.
    std::variant<json::object, int> ask(json::object request)
    {
        auto reply = call(std::move(request));
        if (const auto* r = std::get_if<json::object>(&reply)) {
            if (const auto status = check_error(*r, global_.json)) {
                return *status;
            }
        }
        return reply;
    }

    ControlClient& connection() { return client_; }

private:
    const GlobalOptions& global_;
    ControlClient client_;
};

json::array names_array(const std::vector<std::string>& names)
{
    json::array a;
    for (const std::string& n : names) {
        a.emplace_back(n);
    }
    return a;
}

bool use_color()
{
    return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

int cmd_status(const GlobalOptions& global, const std::vector<std::string>& names)
{
    Client client(global);
    auto reply = client.ask({{"command", "status"}, {"services", names_array(names)}});
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    const json::object& r = std::get<json::object>(reply);
    const json::array& services = r.at("services").as_array();
    if (global.json) {
        json::object out{{"schema_version", r.at("schema_version")}, {"services", services}};
        std::cout << json::serialize(out) << "\n";
    } else {
        std::cout << render_status_table(services, RenderOptions{use_color()});
    }
    if (names.empty()) {
        return exit_ok;
    }
    for (const json::value& s : services) {
        if (s.as_object().at("state").as_string() != "running") {
            return exit_not_running;
        }
    }
    return exit_ok;
}

// `procsup health`: fit for Docker's HEALTHCHECK. 0 when every named service is healthy
// (or running without a check), 3 when one is not running, 1 when one is unhealthy or
// still starting its checks.
int cmd_health(const GlobalOptions& global, const std::vector<std::string>& names, bool all)
{
    (void)all;  // No names means every service, so `HEALTHCHECK CMD procsup health` works.
    Client client(global);
    auto reply = client.ask({{"command", "status"}, {"services", names_array(names)}});
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    const json::object& r = std::get<json::object>(reply);
    int worst = exit_ok;
    json::array report;
    for (const json::value& v : r.at("services").as_array()) {
        const json::object& s = v.as_object();
        const std::string_view state = s.at("state").as_string();
        const std::string_view health = s.at("health").as_string();
        // A job that ran to a successful end (a migration before the server) is fine.
        const bool completed = state == "exited" && s.at("last_exit").is_object() &&
                               s.at("last_exit").at("code") == json::value(0);
        int code = exit_ok;
        if (state != "running" && !completed) {
            code = exit_not_running;
        } else if (state == "running" && health != "healthy" && health != "none") {
            code = exit_failed;
        }
        worst = std::max(worst, code);
        if (!global.json) {
            std::string what = "not running (" + std::string(state) + ")";
            if (completed) {
                what = "completed (exit 0)";
            } else if (state == "running") {
                what = health == "none" ? "running (no health check)" : std::string(health);
            }
            std::printf("%s: %s%s\n", std::string(s.at("name").as_string()).c_str(),
                        what.c_str(),
                        code == exit_failed && !s.at("health_output").as_string().empty()
                            ? (": " + std::string(s.at("health_output").as_string())).c_str()
                            : "");
        }
        report.push_back(json::object{{"name", s.at("name")}, {"state", s.at("state")},
                                      {"health", s.at("health")}, {"exit_code", code}});
    }
    if (global.json) {
        std::cout << json::serialize(json::object{{"services", report}}) << "\n";
    }
    return worst;
}

int print_results(const GlobalOptions& global, const json::object& reply)
{
    const json::value* results = reply.if_contains("results");
    if (global.json) {
        std::cout << json::serialize(reply) << "\n";
    } else if (results && results->is_array()) {
        std::cout << render_action_results(results->as_array());
    }
    const json::value* ok = reply.if_contains("ok");
    return ok && ok->is_bool() && ok->as_bool() ? exit_ok : exit_failed;
}

int cmd_action(const GlobalOptions& global, const std::string& command,
               const std::vector<std::string>& names, bool all, bool no_wait,
               const std::string& signal = {})
{
    if (names.empty() && !all) {
        std::fprintf(stderr, "procsup: %s: name at least one service, or use --all\n",
                     command.c_str());
        return exit_usage;
    }
    json::object request{{"command", command}, {"services", names_array(names)}};
    if (all) {
        request["all"] = true;
    }
    if (no_wait) {
        request["wait"] = false;
    }
    if (!signal.empty()) {
        if (!parse_signal(signal) || signal == "0") {
            std::fprintf(stderr, "procsup: unknown signal '%s' (use a name such as TERM or "
                                 "SIGHUP, or a number from 1 to 64)\n",
                         signal.c_str());
            return exit_usage;
        }
        request["signal"] = signal;
    }
    Client client(global);
    auto reply = client.ask(std::move(request));
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    return print_results(global, std::get<json::object>(reply));
}

int cmd_simple(const GlobalOptions& global, const std::string& command, const char* done)
{
    Client client(global);
    auto reply = client.ask({{"command", command}});
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    const json::object& r = std::get<json::object>(reply);
    if (global.json) {
        std::cout << json::serialize(r) << "\n";
    } else if (done) {
        std::cout << done << "\n";
    }
    return exit_ok;
}

// True once `pid` is gone or a zombie (its parent, not us, reaps it).
bool has_exited(pid_t pid)
{
    std::FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
    if (!f) {
        return true;
    }
    char line[512] = {};
    const bool read = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    const char* paren = read ? std::strrchr(line, ')') : nullptr;
    return !paren || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

void wait_for_exit(pid_t pid, std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!has_exited(pid) && std::chrono::steady_clock::now() < deadline) {
        ::usleep(2000);
    }
}

int cmd_shutdown(const GlobalOptions& global, bool no_wait)
{
    Client client(global);
    auto reply = client.ask({{"command", "shutdown"}});
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    if (!no_wait) {
        // The daemon closes every connection as it exits: end of file means it is nearly
        // done; then wait for the process itself, so that "shutdown" returning means gone.
        std::string ignored;
        while (client.connection().read_reply(ignored)) {
        }
        const json::value* pid = std::get<json::object>(reply).if_contains("pid");
        if (pid && pid->is_int64()) {
            wait_for_exit(static_cast<pid_t>(pid->as_int64()), std::chrono::seconds(10));
        }
    }
    if (global.json) {
        std::cout << json::serialize(std::get<json::object>(reply)) << "\n";
    }
    return exit_ok;
}

int cmd_update(const GlobalOptions& global, bool dry_run)
{
    Client client(global);
    json::object request{{"command", "update"}};
    if (dry_run) {
        request["dry_run"] = true;
    }
    auto reply = client.ask(std::move(request));
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    const json::object& r = std::get<json::object>(reply);
    if (global.json) {
        std::cout << json::serialize(r) << "\n";
    } else {
        std::cout << (dry_run ? "would change: " : "")
                  << std::string(r.at("summary").as_string()) << "\n";
    }
    return exit_ok;
}

// Follows the daemon's event stream until interrupted or the daemon goes away.
int cmd_events(const GlobalOptions& global)
{
    Client client(global);
    auto reply = client.ask({{"command", "events"}});
    if (const int* status = std::get_if<int>(&reply)) {
        return *status;
    }
    exit_zero_on_interrupt();  // Each line is flushed (std::endl): nothing is left to lose.
    std::string error;
    while (auto message = client.connection().read_reply(error)) {
        const json::value* event = message->if_contains("event");
        if (!event || !event->is_object()) {
            if (const json::value* dropped = message->if_contains("dropped")) {
                std::fprintf(stderr, "procsup: %s events dropped (reader too slow)\n",
                             json::serialize(*dropped).c_str());
            }
            continue;
        }
        const json::object& e = event->as_object();
        if (global.json) {
            std::cout << json::serialize(e) << std::endl;
            continue;
        }
        std::string line = std::string(e.at("time").as_string()) + " " +
                           std::string(e.at("service").as_string()) + ": ";
        if (e.at("kind").as_string() == "health") {
            line += "health " + std::string(e.at("health").as_string());
        } else {
            const std::string from(e.at("from").as_string());
            const std::string to(e.at("to").as_string());
            line += from + " -> " + to;
            // running -> starting is a crash and an immediate restart: say how it ended.
            if ((from == "running" || from == "starting") && to != "running" &&
                to != "stopping" && e.at("last_exit").is_object()) {
                line += " after " + render_last_exit(e.at("last_exit"));
            }
        }
        if (e.at("pid").is_int64()) {
            line += " (pid " + std::to_string(e.at("pid").as_int64()) + ")";
        }
        if (!e.at("message").as_string().empty()) {
            line += ": " + std::string(e.at("message").as_string());
        }
        std::cout << line << std::endl;
    }
    return exit_ok;  // The daemon went away: the stream has ended.
}

int cmd_check_config(const GlobalOptions& global)
{
    const std::filesystem::path file = global.config.empty() ? default_config : global.config;
    try {
        const Config config = load_config(file, current_environment());
        std::string names;
        for (const ServiceConfig& s : config.services) {
            names += (names.empty() ? "" : ", ") + s.name;
        }
        if (config.services.empty()) {
            std::printf("%s: ok, no services\n", config.file.c_str());
        } else {
            std::printf("%s: ok, %zu service%s (%s)\n", config.file.c_str(),
                        config.services.size(), config.services.size() == 1 ? "" : "s",
                        names.c_str());
        }
        return exit_ok;
    } catch (const ConfigError& e) {
        for (const ConfigDiagnostic& d : e.diagnostics()) {
            std::fprintf(stderr, "%s\n", d.to_string().c_str());
        }
        return exit_usage;
    }
}

int cmd_version()
{
    std::printf("procsup %s\nbuilt with g++ %d.%d, Boost %d.%d, toml++ %d.%d, spdlog %d.%d\n",
                PROCSUP_VERSION, __GNUC__, __GNUC_MINOR__, BOOST_VERSION / 100000,
                BOOST_VERSION / 100 % 1000, TOML_LIB_MAJOR, TOML_LIB_MINOR, SPDLOG_VER_MAJOR,
                SPDLOG_VER_MINOR);
    return exit_ok;
}

}  // namespace

namespace {

// What the command line says, filled in by CLI11; each verb's callback sets `result`.
struct CliState {
    GlobalOptions global;
    std::vector<std::string> names;
    bool all = false;
    bool no_wait = false;
    int result = exit_usage;
};

void add_global_options(CLI::App& app, CliState& s)
{
    app.add_option("-c,--config", s.global.config,
                   "config file (default " + std::string(default_config) + ")")
        ->envname("PROCSUP_CONFIG");
    app.add_option("-s,--socket", s.global.socket, "control socket of the daemon")
        ->envname("PROCSUP_SOCKET");
    app.add_flag("--json", s.global.json, "print JSON instead of text");
}

void add_daemon_commands(CLI::App& app, CliState& s)
{
    auto options = std::make_shared<DaemonOptions>();
    auto pidfile = std::make_shared<std::string>();
    auto* daemon = app.add_subcommand("daemon", "run the supervisor");
    daemon->add_flag("--detach", options->detach,
                     "run in the background; return once the daemon is ready");
    daemon->add_option("--pidfile", *pidfile, "write the daemon's PID to this file");
    daemon->callback([&s, options, pidfile] {
        options->config_file = s.global.config.empty() ? default_config : s.global.config;
        if (!pidfile->empty()) {
            options->pidfile = *pidfile;
        }
        if (!s.global.socket.empty()) {
            options->socket = s.global.socket;
        }
        s.result = run_daemon(*options);
    });
    app.add_subcommand("check-config", "validate the config; exit 0 or 2")
        ->callback([&s] { s.result = cmd_check_config(s.global); });
    app.add_subcommand("version", "print version and build information")
        ->callback([&s] { s.result = cmd_version(); });
}

void add_query_commands(CLI::App& app, CliState& s)
{
    auto* status = app.add_subcommand("status", "show services");
    status->add_option("names", s.names, "services (default: all)");
    status->callback([&s] { s.result = cmd_status(s.global, s.names); });

    auto* health = app.add_subcommand("health", "exit 0 when the services are healthy");
    health->add_option("names", s.names, "services (default: all)");
    health->add_flag("--all", s.all, "every service");
    health->callback([&s] { s.result = cmd_health(s.global, s.names, s.all); });

    auto logs_options = std::make_shared<LogsOptions>();
    auto* logs = app.add_subcommand("logs", "print a service's captured output");
    logs->add_option("name", logs_options->service, "service")->required();
    logs->add_flag("-f,--follow", logs_options->follow, "keep printing new lines until ^C");
    logs->add_option("-n,--lines", logs_options->lines, "how many of the last lines (default 10)");
    logs->add_flag("--stderr", logs_options->stderr_stream, "the stderr stream, not stdout");
    logs->callback([&s, logs_options] {
        logs_options->json = s.global.json;
        s.result = run_logs_command(resolve_socket(s.global), *logs_options);
    });

    app.add_subcommand("events", "follow every state and health change")
        ->callback([&s] { s.result = cmd_events(s.global); });
}

void add_action_commands(CLI::App& app, CliState& s)
{
    auto add_action = [&](const char* name, const char* help) {
        auto* sub = app.add_subcommand(name, help);
        sub->add_option("names", s.names, "services");
        sub->add_flag("--all", s.all, "every service");
        sub->add_flag("--no-wait", s.no_wait, "return without waiting for the outcome");
        sub->callback([&s, name] {
            s.result = cmd_action(s.global, name, s.names, s.all, s.no_wait);
        });
    };
    add_action("start", "start services; wait until they run or fail");
    add_action("stop", "stop services; wait until they are stopped");
    add_action("restart", "restart services; wait for the outcome");
    add_action("reload", "send each service its reload_signal");

    auto signal_text = std::make_shared<std::string>();
    auto* signal = app.add_subcommand("signal", "send a signal to services");
    signal->add_option("signal", *signal_text, "signal name or number, e.g. TERM or 15")
        ->required();
    signal->add_option("names", s.names, "services");
    signal->add_flag("--all", s.all, "every service");
    signal->callback([&s, signal_text] {
        s.result = cmd_action(s.global, "signal", s.names, s.all, false, *signal_text);
    });

    app.add_subcommand("reopen-logs", "reopen every log file (as SIGHUP to the daemon)")
        ->callback([&s] { s.result = cmd_simple(s.global, "reopen-logs", "reopened log files"); });
    auto dry_run = std::make_shared<bool>(false);
    auto* update = app.add_subcommand("update", "re-read the config and apply the difference");
    update->add_flag("--dry-run", *dry_run, "print what would change, change nothing");
    update->callback([&s, dry_run] { s.result = cmd_update(s.global, *dry_run); });
    auto* shutdown = app.add_subcommand("shutdown", "stop every service, then the daemon");
    shutdown->add_flag("--no-wait", s.no_wait, "return without waiting for the daemon to exit");
    shutdown->callback([&s] { s.result = cmd_shutdown(s.global, s.no_wait); });
}

void add_run_command(CLI::App& app, CliState& s)
{
    auto o = std::make_shared<RunOptions>();
    auto detach = std::make_shared<bool>(false);
    auto* run = app.add_subcommand("run", "supervise one command without a config file");
    run->add_option("--name", o->name, "service name (default: the command's name)");
    run->add_option("--restart", o->restart, "always | on-failure | never")
        ->capture_default_str();
    run->add_option("--stop-signal", o->stop_signal)->capture_default_str();
    run->add_option("--stop-timeout", o->stop_timeout)->capture_default_str();
    run->add_option("--start-seconds", o->start_seconds)->capture_default_str();
    run->add_option("--log", o->log, "write the command's output to this file");
    run->add_option("--log-max-size", o->log_max_size)->capture_default_str();
    run->add_option("--log-backups", o->log_backups)->capture_default_str();
    run->add_option("--pidfile", o->pidfile, "write the command's PID to this file");
    run->add_option("--health-cmd", o->health_cmd, "health check: a shell command");
    run->add_option("--health-http", o->health_http, "health check: http://host:port/");
    run->add_option("--health-tcp", o->health_tcp, "health check: host:port");
    run->add_option("--health-interval", o->health_interval)->capture_default_str();
    run->add_option("--health-timeout", o->health_timeout)->capture_default_str();
    run->add_option("--health-retries", o->health_retries)->capture_default_str();
    run->add_option("--user", o->user, "run the command as this user (needs root)");
    run->add_option("--env", o->env, "KEY=VALUE for the command's environment");
    run->add_flag("--group", o->group, "signal the command's whole process group");
    run->add_flag("--detach", *detach,
                  "return once the command runs, print its PID, survive the terminal");
    run->add_option("command", o->command, "the command and its arguments, after --")
        ->required();
    run->callback([&s, o, detach] {
        o->socket = s.global.socket;
        auto config = make_run_config(*o);
        if (const std::string* error = std::get_if<std::string>(&config)) {
            std::fprintf(stderr, "procsup: %s\n", error->c_str());
            s.result = exit_usage;
            return;
        }
        DaemonOptions options;
        options.config = std::move(std::get<Config>(config));
        options.run_mode = true;
        options.detach = *detach;
        s.result = run_daemon(options);
    });
}

}  // namespace

int run_cli(int argc, char** argv)
{
    CLI::App app{"procsup: keeps long-running programs alive", "procsup"};
    app.require_subcommand(1);
    app.fallthrough();  // Global options may also follow the verb: `procsup daemon -c FILE`.
    CliState state;
    add_global_options(app, state);
    add_daemon_commands(app, state);
    add_query_commands(app, state);
    add_action_commands(app, state);
    add_run_command(app, state);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    } catch (const ConfigError& e) {
        // From resolve_socket(): the config cannot tell which daemon is meant.
        std::fprintf(stderr, "procsup: cannot tell the daemon's socket from the config "
                             "(use -s SOCKET):\n");
        for (const ConfigDiagnostic& d : e.diagnostics()) {
            std::fprintf(stderr, "%s\n", d.to_string().c_str());
        }
        return exit_usage;
    }
    return state.result;
}

}  // namespace procsup
