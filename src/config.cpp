#include "procsup/config.hpp"

#include <sys/un.h>
#include <unistd.h>

#include <system_error>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "config_values.hpp"
#include <glob.h>
#include <toml++/toml.h>

#include "procsup/dependency_graph.hpp"
#include "procsup/env_file.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere in a header for C++

namespace procsup {

using detail::assign;
using detail::Choice;
using detail::in_quotes;
using detail::Position;
using detail::position_of;
using detail::ReadContext;
using detail::TableReader;
using detail::ValueReader;
using detail::Zero;
namespace fs = std::filesystem;

namespace {

// A config can make this list grow, and every service costs pipes, timers and processes.
constexpr std::size_t max_services = 1000;
constexpr std::size_t max_service_name = 64;
constexpr std::int64_t max_log_backups = 1000;

constexpr std::string_view top_level_keys[] = {"supervisor", "services"};
constexpr std::string_view supervisor_keys[] = {
    "socket",    "socket_mode", "socket_group", "pidfile", "log",
    "log_level", "log_dir",     "include",      "dbus",
};
constexpr std::string_view service_keys[] = {
    "command",       "directory",
    "environment",   "env_file",
    "user",          "group",
    "umask",         "autostart",
    "restart",       "start_seconds",
    "start_retries", "backoff",
    "backoff_max",   "success_exit_codes",
    "stop_signal",   "stop_timeout",
    "reload_signal", "kill_group",
    "essential",     "nohup",
    "pidfile",       "stdout",
    "stderr",        "log_max_size",
    "log_backups",   "depends_on",
    "health",        "type",
    "start_timeout", "watchdog",
};
constexpr std::string_view health_keys[] = {
    "http", "tcp", "command", "interval", "timeout", "start_period", "retries", "on_unhealthy",
};
constexpr std::string_view health_kinds[] = {"http", "tcp", "command"};

constexpr Choice<RestartPolicy> restart_choices[] = {
    {"always", RestartPolicy::always},
    {"on-failure", RestartPolicy::on_failure},
    {"never", RestartPolicy::never},
};
constexpr Choice<ServiceType> type_choices[] = {
    {"simple", ServiceType::simple},
    {"notify", ServiceType::notify},
};
constexpr Choice<DependencyCondition> condition_choices[] = {
    {"started", DependencyCondition::started},
    {"healthy", DependencyCondition::healthy},
    {"completed", DependencyCondition::completed},
};
constexpr Choice<UnhealthyAction> unhealthy_choices[] = {
    {"restart", UnhealthyAction::restart},
    {"ignore", UnhealthyAction::ignore},
};
constexpr Choice<std::string_view> log_level_choices[] = {
    {"trace", "trace"}, {"debug", "debug"},       {"info", "info"}, {"warn", "warn"},
    {"error", "error"}, {"critical", "critical"}, {"off", "off"},
};

template <class T, std::size_t N>
std::optional<T> read_choice(const TableReader& t, std::string_view key,
                             const Choice<T> (&choices)[N])
{
    return t.read(key, &ValueReader::choice<T>, std::span<const Choice<T>>(choices));
}

std::string location(const fs::path& file, Position at)
{
    return file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

// The characters of a bare TOML key.
bool is_bare_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool is_valid_service_name(std::string_view name)
{
    // Not "-h" (a command-line option to every verb), not "." or ".." (default log files
    // are named after the service).
    if (name.empty() || name.size() > max_service_name || name[0] == '-' || name[0] == '.') {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_bare_key_char(c) || c == '.'; });
}

// "services.web", or services."a.b" when the name is not a bare TOML key, as TOML writes it.
std::string service_key_path(std::string_view name)
{
    bool is_bare = !name.empty() && std::all_of(name.begin(), name.end(), is_bare_key_char);
    return "services." + (is_bare ? std::string(name) : "\"" + std::string(name) + "\"");
}

std::variant<std::string, std::error_code> read_text_file(const fs::path& path)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "re"),
                                                         &std::fclose);
    if (!file) {
        return std::error_code(errno, std::generic_category());
    }
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
        text.append(buffer, n);
    }
    if (std::ferror(file.get())) {
        return std::error_code(errno, std::generic_category());
    }
    return text;
}

struct HostPort {
    std::string host;
    std::uint16_t port = 0;
};

// "host:port", "[::1]:port", or just the host when `default_port` is given. Returns an
// error message on failure.
std::variant<HostPort, std::string> parse_host_port(std::string_view text,
                                                    std::optional<std::uint16_t> default_port)
{
    HostPort result;
    std::string_view rest;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            return std::string("missing ']' after the IPv6 address");
        }
        result.host = std::string(text.substr(1, close - 1));
        rest = text.substr(close + 1);
    } else {
        auto colon = text.find(':');
        if (colon != std::string_view::npos &&
            text.find(':', colon + 1) != std::string_view::npos) {
            return std::string("an IPv6 address needs brackets, as in [::1]:8080");
        }
        result.host = std::string(text.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    }
    if (result.host.empty() || result.host.find_first_of(" \t@/") != std::string::npos) {
        return std::string("missing or invalid host");
    }
    if (rest.empty()) {
        if (!default_port) {
            return std::string("missing port; expected host:port");
        }
        result.port = *default_port;
        return result;
    }
    auto port = rest.substr(1);
    unsigned number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (rest.front() != ':' || port.empty() || ec != std::errc() ||
        end != port.data() + port.size() || number == 0 || number > 65535) {
        return std::string("invalid port; expected a number from 1 to 65535");
    }
    result.port = static_cast<std::uint16_t>(number);
    return result;
}

// Fills the http_* fields from "http://host[:port][/path]"; returns an error message.
std::optional<std::string> parse_http_url(std::string_view url, HealthCheckConfig& health)
{
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme) {
        return url.substr(0, 8) == "https://"
                   ? "https is not supported; the check runs on the same host, use http://"
                   : "expected a URL of the form http://host:port/path";
    }
    url.remove_prefix(scheme.size());
    auto path_start = url.find_first_of("/?#");
    auto authority = url.substr(0, path_start);
    auto parsed = parse_host_port(authority, 80);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        return *error + " in the URL";
    }
    health.http_host = std::get<HostPort>(parsed).host;
    health.http_port = std::get<HostPort>(parsed).port;
    std::string path(path_start == std::string_view::npos ? "" : url.substr(path_start));
    path = path.substr(0, path.find('#'));
    health.http_path = path.empty() || path.front() != '/' ? "/" + path : path;
    return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The loader: reads the main file and its includes, then checks what spans services.

namespace {

struct DependencyRef {
    std::string name;
    DependencyCondition condition = DependencyCondition::started;
    Position position;
};

// A service as read, with what later checks need to point at the right place.
struct LoadedService {
    ServiceConfig config;
    fs::path file;
    Position position;             // of its table
    Position depends_on_position;  // of the depends_on key, or of the table
    std::vector<DependencyRef> dependencies;
    Position stdout_position;
    Position stderr_position;
};

struct IncludePattern {
    std::string pattern;
    Position position;
    std::string key;
};

class ConfigLoader {
public:
    ConfigLoader(const fs::path& file, const Environment& env)
        : file_(file), env_(env), config_dir_(fs::absolute(file).lexically_normal().parent_path())
    {
        config_.file = fs::absolute(file).lexically_normal();
    }

    Config load();
    SupervisorConfig load_supervisor();

private:
    void report(const fs::path& file, Position at, std::string key, std::string message)
    {
        diagnostics_.push_back(
            ConfigDiagnostic{file, at.line, at.column, std::move(key), std::move(message)});
    }

    std::optional<toml::table> parse(const fs::path& file);
    bool mark_read(const fs::path& file);
    void read_top_level(const TableReader& root, bool is_include);

    void read_supervisor(const toml::table& root, const ValueReader& values);
    void read_daemon_log(const TableReader& t);
    void read_dbus(const TableReader& t);
    void read_include_patterns(const TableReader& t);
    void read_includes();
    std::vector<fs::path> glob_include(const IncludePattern& include);
    void read_included_file(const fs::path& file);

    void read_services(const toml::table& root, const ValueReader& values);
    void read_service(const toml::key& key, const toml::node& node, const ValueReader& values);
    void read_process_keys(const TableReader& t, ServiceConfig& service);
    void read_environment(const TableReader& t, ServiceConfig& service);
    void read_env_file(const TableReader& t, ServiceConfig& service);
    void read_lifecycle_keys(const TableReader& t, ServiceConfig& service);
    void read_readiness_keys(const TableReader& t, ServiceConfig& service);
    void read_start_retries(const TableReader& t, ServiceConfig& service);
    void read_exit_codes(const TableReader& t, ServiceConfig& service);
    void read_output_keys(const TableReader& t, LoadedService& service);
    std::optional<OutputTarget> read_output(const TableReader& t, std::string_view key,
                                            bool may_merge);
    void read_dependencies(const TableReader& t, LoadedService& service);
    std::optional<HealthCheckConfig> read_health(const TableReader& service);
    void read_health_kind(const TableReader& t, HealthCheckConfig& health);
    void read_http_check(const TableReader& t, HealthCheckConfig& health);
    void read_tcp_check(const TableReader& t, HealthCheckConfig& health);

    const LoadedService* find_loaded(std::string_view name) const;
    void check_dependencies(const DependencyGraph& graph);
    void check_log_files();
    void sort_diagnostics();
    void check_one_log_file(std::map<fs::path, std::string>& owners, const LoadedService& service,
                            const OutputTarget& target, std::string_view stream, Position position);

    fs::path file_;  // the main file as given, for messages
    const Environment& env_;
    fs::path config_dir_;
    Config config_;
    std::vector<ConfigDiagnostic> diagnostics_;
    std::vector<LoadedService> services_;
    std::vector<IncludePattern> includes_;
    std::set<fs::path> loaded_files_;
};

Config ConfigLoader::load()
{
    auto root = parse(file_);
    if (!root) {
        throw ConfigError(std::move(diagnostics_));
    }
    mark_read(file_);
    ReadContext context{file_, env_, diagnostics_};
    ValueReader values(context);
    read_top_level(TableReader(*root, "", values), false);
    read_supervisor(*root, values);
    read_services(*root, values);
    read_includes();

    DependencyGraph graph;
    for (const auto& service : services_) {
        std::vector<std::string> names;
        for (const auto& dependency : service.dependencies) {
            names.push_back(dependency.name);
        }
        graph.add(service.config.name, std::move(names));
    }
    check_dependencies(graph);
    check_log_files();
    if (!diagnostics_.empty()) {
        sort_diagnostics();
        throw ConfigError(std::move(diagnostics_));
    }

    for (const auto& name : graph.start_order()) {
        config_.services.push_back(find_loaded(name)->config);
    }
    return std::move(config_);
}

SupervisorConfig ConfigLoader::load_supervisor()
{
    auto root = parse(file_);
    if (!root) {
        throw ConfigError(std::move(diagnostics_));
    }
    ReadContext context{file_, env_, diagnostics_};
    ValueReader values(context);
    read_top_level(TableReader(*root, "", values), false);
    read_supervisor(*root, values);
    if (!diagnostics_.empty()) {
        sort_diagnostics();
        throw ConfigError(std::move(diagnostics_));
    }
    return std::move(config_.supervisor);
}

std::optional<toml::table> ConfigLoader::parse(const fs::path& file)
{
    // toml++ reports a missing file at 0:0 with a vague message: read it ourselves.
    auto text = read_text_file(file);
    if (auto* error = std::get_if<std::error_code>(&text)) {
        report(file, {}, "", "cannot read the config file: " + error->message());
        return std::nullopt;
    }
    try {
        return toml::parse(std::string_view(std::get<std::string>(text)),
                           std::string_view(file.native()));
    } catch (const toml::parse_error& error) {
        report(file, position_of(error.source()), "", std::string(error.description()));
        return std::nullopt;
    }
}

// Records `file` as read; false when it was read before (an include pattern that also
// matches the main file, or two patterns matching one file).
bool ConfigLoader::mark_read(const fs::path& file)
{
    std::error_code ignored;
    fs::path canonical = fs::weakly_canonical(fs::absolute(file), ignored);
    return loaded_files_.insert(canonical.empty() ? file : canonical).second;
}

void ConfigLoader::read_top_level(const TableReader& root, bool is_include)
{
    if (!is_include) {
        root.report_unknown_keys(top_level_keys);
        return;
    }
    for (auto&& [key, node] : root.table()) {
        std::string message;
        if (key.str() == "supervisor") {
            message =
                "[supervisor] may only appear in the main config file; an included file "
                "holds [services.*] tables only";
        } else if (key.str() != "services") {
            message = "unknown key " + in_quotes(key.str()) +
                      "; an included file holds "
                      "[services.*] tables only";
        } else {
            continue;
        }
        report(root.values().context().file, position_of(key.source()), std::string(key.str()),
               std::move(message));
    }
}

// --- [supervisor] ----------------------------------------------------------------------

void ConfigLoader::read_supervisor(const toml::table& root, const ValueReader& values)
{
    SupervisorConfig& supervisor = config_.supervisor;
    supervisor.socket = default_socket_path(env_);
    supervisor.log_dir = config_dir_ / "logs";
    const toml::node* node = root.get("supervisor");
    const toml::table* table = node ? values.table(*node, "supervisor") : nullptr;
    if (table == nullptr) {
        return;
    }
    TableReader t(*table, "supervisor", values);
    t.report_unknown_keys(supervisor_keys);
    assign(supervisor.socket, t.read("socket", &ValueReader::path, config_dir_));
    // bind(2) takes at most sizeof sun_path - 1 bytes; a longer path fails only at start-up.
    if (supervisor.socket.native().size() >= sizeof(sockaddr_un::sun_path)) {
        t.report_at_value("socket", "socket path " + in_quotes(supervisor.socket.string()) +
                                        " is too long: " +
                                        std::to_string(supervisor.socket.native().size()) +
                                        " bytes, at most " +
                                        std::to_string(sizeof(sockaddr_un::sun_path) - 1));
    }
    assign(supervisor.socket_mode, t.read("socket_mode", &ValueReader::mode));
    assign(supervisor.socket_group, t.read("socket_group", &ValueReader::non_empty_string));
    assign(supervisor.pidfile, t.read("pidfile", &ValueReader::path, config_dir_));
    assign(supervisor.log_level, read_choice(t, "log_level", log_level_choices));
    assign(supervisor.log_dir, t.read("log_dir", &ValueReader::path, config_dir_));
    read_daemon_log(t);
    read_dbus(t);
    read_include_patterns(t);
}

void ConfigLoader::read_daemon_log(const TableReader& t)
{
    auto log = t.read("log", &ValueReader::non_empty_string);
    if (log) {
        config_.supervisor.log =
            *log == "-" ? *log : detail::resolve_path(config_dir_, *log).string();
    }
}

void ConfigLoader::read_dbus(const TableReader& t)
{
    auto dbus = t.read("dbus", &ValueReader::non_empty_string);
    if (!dbus) {
        return;
    }
    if (*dbus != "auto" && *dbus != "off" && dbus->find(':') == std::string::npos) {
        t.report_at_value("dbus", "invalid value " + in_quotes(*dbus) +
                                      "; expected \"auto\", \"off\" or a bus address such as "
                                      "\"unix:path=/run/dbus/system_bus_socket\"");
        return;
    }
    config_.supervisor.dbus = *dbus;
}

void ConfigLoader::read_include_patterns(const TableReader& t)
{
    const toml::node* node = t.find("include");
    if (node == nullptr) {
        return;
    }
    std::string key = t.key_path("include");
    if (t.values().string_array(*node, key)) {
        const auto& array = *node->as_array();
        for (std::size_t i = 0; i < array.size(); ++i) {
            std::string element_key = key + "[" + std::to_string(i) + "]";
            auto pattern = t.values().non_empty_string(array[i], element_key);
            if (pattern) {
                includes_.push_back({*pattern, position_of(array[i].source()), element_key});
            }
        }
    }
}

// --- includes --------------------------------------------------------------------------

void ConfigLoader::read_includes()
{
    for (const auto& include : includes_) {
        for (const auto& file : glob_include(include)) {
            read_included_file(file);
        }
    }
}

std::vector<fs::path> ConfigLoader::glob_include(const IncludePattern& include)
{
    // Relative to the main file as given, so that messages show paths the way the user
    // wrote them.
    fs::path pattern = file_.parent_path() / include.pattern;
    glob_t matches{};
    // No GLOB_ERR: a pattern whose folder does not exist yet (conf.d/*.toml on a fresh
    // host) matches nothing, as an empty folder would.
    int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
    std::unique_ptr<glob_t, void (*)(glob_t*)> release(&matches, &::globfree);
    bool is_pattern = include.pattern.find_first_of("*?[") != std::string::npos;
    if (rc == GLOB_NOMATCH) {
        if (!is_pattern) {
            report(file_, include.position, include.key,
                   "included file " + in_quotes(pattern.string()) + " does not exist");
        }
        return {};
    }
    if (rc != 0) {
        report(file_, include.position, include.key,
               "cannot list the files matching " + in_quotes(pattern.string()));
        return {};
    }
    std::vector<fs::path> files;
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
        std::error_code ec;
        if (fs::is_directory(matches.gl_pathv[i], ec)) {
            // Said at the pattern: reading it would report "cannot read the config file"
            // at no line, as if the main file were meant.
            report(file_, include.position, include.key,
                   "included path " + in_quotes(matches.gl_pathv[i]) +
                       " is a folder; name the files, e.g. " +
                       in_quotes((fs::path(include.pattern) / "*.toml").string()));
            continue;
        }
        files.emplace_back(matches.gl_pathv[i]);
    }
    return files;
}

void ConfigLoader::read_included_file(const fs::path& file)
{
    if (!mark_read(file)) {
        return;
    }
    auto root = parse(file);
    if (!root) {
        return;
    }
    ReadContext context{file, env_, diagnostics_};
    ValueReader values(context);
    read_top_level(TableReader(*root, "", values), true);
    read_services(*root, values);
}

// --- [services.NAME] -------------------------------------------------------------------

void ConfigLoader::read_services(const toml::table& root, const ValueReader& values)
{
    const toml::node* node = root.get("services");
    const toml::table* table = node ? values.table(*node, "services") : nullptr;
    if (table == nullptr) {
        return;
    }
    for (auto [key, service] : detail::in_file_order(*table)) {
        read_service(*key, *service, values);
    }
}

const LoadedService* ConfigLoader::find_loaded(std::string_view name) const
{
    for (const auto& service : services_) {
        if (service.config.name == name) {
            return &service;
        }
    }
    return nullptr;
}

void ConfigLoader::read_service(const toml::key& key, const toml::node& node,
                                const ValueReader& values)
{
    std::string name(key.str());
    std::string path = service_key_path(name);
    const fs::path& file = values.context().file;
    if (!is_valid_service_name(name)) {
        report(file, position_of(key.source()), path,
               "invalid service name " + in_quotes(name) +
                   "; use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-', "
                   "not starting with '.' or '-'");
    }
    const toml::table* table = values.table(node, path);
    if (table == nullptr) {
        return;
    }
    TableReader t(*table, path, values);
    if (const auto* first = find_loaded(name)) {
        report(file, t.table_position(), path,
               "service " + in_quotes(name) + " is already defined at " +
                   location(first->file, first->position));
        return;
    }
    if (services_.size() == max_services) {
        report(file, t.table_position(), path,
               "too many services; at most " + std::to_string(max_services) + " are supported");
        return;
    }

    LoadedService service;
    service.file = file;
    service.position = t.table_position();
    service.config.name = name;
    service.config.origin = location(file, service.position);
    t.report_unknown_keys(service_keys);
    read_process_keys(t, service.config);
    read_lifecycle_keys(t, service.config);
    read_output_keys(t, service);
    read_dependencies(t, service);
    service.config.health = read_health(t);
    services_.push_back(std::move(service));
}

void ConfigLoader::read_process_keys(const TableReader& t, ServiceConfig& service)
{
    if (t.find("command") == nullptr) {
        t.report_at_key("command", "missing required key 'command'");
    }
    assign(service.command, t.read("command", &ValueReader::command));
    assign(service.directory, t.read("directory", &ValueReader::path, config_dir_));
    if (!service.directory) {
        // The same folder relative paths resolve against, whether the daemon runs in the
        // foreground from some shell or detached in `/`.
        service.directory = config_dir_;
    }
    assign(service.user, t.read("user", &ValueReader::non_empty_string));
    assign(service.group, t.read("group", &ValueReader::non_empty_string));
    assign(service.umask, t.read("umask", &ValueReader::mode));
    read_env_file(t, service);
    read_environment(t, service);
}

void ConfigLoader::read_env_file(const TableReader& t, ServiceConfig& service)
{
    const fs::path& base = service.directory ? *service.directory : config_dir_;
    auto path = t.read("env_file", &ValueReader::path, base);
    if (!path) {
        return;
    }
    auto text = read_text_file(*path);
    if (auto* error = std::get_if<std::error_code>(&text)) {
        t.report_at_key("env_file", "cannot read env file " + in_quotes(path->string()) + ": " +
                                        error->message());
        return;
    }
    auto contents = parse_env_file(std::get<std::string>(text));
    for (const auto& error : contents.errors) {
        report(*path, Position{static_cast<int>(error.line), 1}, t.key_path("env_file"),
               error.message);
    }
    for (auto& [name, value] : contents.entries) {
        service.environment[name] = std::move(value);
    }
}

void ConfigLoader::read_environment(const TableReader& t, ServiceConfig& service)
{
    const toml::node* node = t.find("environment");
    std::string key = t.key_path("environment");
    const toml::table* table = node ? t.values().table(*node, key) : nullptr;
    if (table == nullptr) {
        return;
    }
    for (auto&& [name, value_node] : *table) {
        std::string name_key = key + "." + std::string(name.str());
        if (name.str().empty() ||
            name.str().find_first_of(std::string_view("=\0", 2)) != std::string_view::npos) {
            report(t.values().context().file, position_of(name.source()), name_key,
                   "invalid variable name " + in_quotes(name.str()));
            continue;
        }
        // Values are passed exactly as written: no ${VAR} expansion (see config.hpp).
        auto value = t.values().verbatim_string(value_node, name_key);
        if (value) {
            service.environment[std::string(name.str())] = std::move(*value);
        }
    }
}

void ConfigLoader::read_lifecycle_keys(const TableReader& t, ServiceConfig& service)
{
    assign(service.autostart, t.read("autostart", &ValueReader::boolean));
    assign(service.restart, read_choice(t, "restart", restart_choices));
    assign(service.start_seconds, t.read("start_seconds", &ValueReader::duration, Zero::allowed));
    read_readiness_keys(t, service);
    read_start_retries(t, service);
    assign(service.backoff, t.read("backoff", &ValueReader::duration, Zero::refused));
    auto backoff_max = t.read("backoff_max", &ValueReader::duration, Zero::refused);
    if (backoff_max && *backoff_max < service.backoff) {
        t.report_at_value("backoff_max", "backoff_max (" + format_duration(*backoff_max) +
                                             ") is shorter than backoff (" +
                                             format_duration(service.backoff) + ")");
        backoff_max.reset();
    }
    assign(service.backoff_max, backoff_max);
    read_exit_codes(t, service);
    assign(service.stop_signal, t.read("stop_signal", &ValueReader::signal));
    assign(service.stop_timeout, t.read("stop_timeout", &ValueReader::duration, Zero::allowed));
    assign(service.reload_signal, t.read("reload_signal", &ValueReader::signal));
    assign(service.kill_group, t.read("kill_group", &ValueReader::boolean));
    assign(service.essential, t.read("essential", &ValueReader::boolean));
    assign(service.nohup, t.read("nohup", &ValueReader::boolean));
    assign(service.pidfile, t.read("pidfile", &ValueReader::path, config_dir_));
}

void ConfigLoader::read_readiness_keys(const TableReader& t, ServiceConfig& service)
{
    assign(service.type, read_choice(t, "type", type_choices));
    assign(service.start_timeout, t.read("start_timeout", &ValueReader::duration, Zero::refused));
    auto watchdog = t.read("watchdog", &ValueReader::duration, Zero::refused);
    if (watchdog && service.type != ServiceType::notify) {
        // Only a notify service has the socket to send WATCHDOG=1 on.
        t.report_at_key("watchdog", "watchdog needs type = \"notify\"");
        watchdog.reset();
    }
    assign(service.watchdog, watchdog);
}

void ConfigLoader::read_start_retries(const TableReader& t, ServiceConfig& service)
{
    const toml::node* node = t.find("start_retries");
    if (node == nullptr) {
        return;
    }
    std::string key = t.key_path("start_retries");
    if (node->is_integer()) {
        auto retries = t.values().integer(*node, key, 0, std::numeric_limits<int>::max());
        if (retries) {
            service.start_retries = static_cast<int>(*retries);
        }
        return;
    }
    auto text = node->is_string() ? t.values().string(*node, key) : std::nullopt;
    if (text && *text == "unlimited") {
        service.start_retries = std::nullopt;
        return;
    }
    std::string got =
        node->is_string() ? in_quotes(text.value_or("")) : detail::type_name(node->type());
    t.values().report(*node, key, "expected an integer of at least 0 or \"unlimited\", got " + got);
}

void ConfigLoader::read_exit_codes(const TableReader& t, ServiceConfig& service)
{
    const toml::node* node = t.find("success_exit_codes");
    if (node == nullptr) {
        return;
    }
    std::string key = t.key_path("success_exit_codes");
    const auto* array = node->as_array();
    if (array == nullptr) {
        t.values().report(*node, key,
                          "expected an array of integers, got " + detail::type_name(node->type()));
        return;
    }
    std::vector<int> codes;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        auto code = t.values().integer((*array)[i], key + "[" + std::to_string(i) + "]", 0, 255);
        ok = ok && code.has_value();
        codes.push_back(static_cast<int>(code.value_or(0)));
    }
    if (ok) {
        service.success_exit_codes = std::move(codes);
    }
}

// --- output ----------------------------------------------------------------------------

void ConfigLoader::read_output_keys(const TableReader& t, LoadedService& service)
{
    ServiceConfig& config = service.config;
    config.stdout_target =
        OutputTarget{OutputTarget::Kind::file, config_.supervisor.log_dir / (config.name + ".log")};
    assign(config.stdout_target, read_output(t, "stdout", false));
    config.stdout_is_default = !t.has("stdout");
    assign(config.stderr_target, read_output(t, "stderr", true));
    service.stdout_position = t.key_position("stdout");
    service.stderr_position = t.key_position("stderr");
    assign(config.log_max_size, t.read("log_max_size", &ValueReader::size));
    assign(config.log_backups, t.read("log_backups", &ValueReader::integer, 0, max_log_backups));
}

std::optional<OutputTarget> ConfigLoader::read_output(const TableReader& t, std::string_view key,
                                                      bool may_merge)
{
    auto text = t.read(key, &ValueReader::non_empty_string);
    if (!text) {
        return std::nullopt;
    }
    if (*text == "inherit") {
        return OutputTarget{OutputTarget::Kind::inherit, {}};
    }
    if (*text == "null") {
        return OutputTarget{OutputTarget::Kind::null, {}};
    }
    if (may_merge && *text == "stdout") {
        return OutputTarget{OutputTarget::Kind::merge_into_stdout, {}};
    }
    if (*text == "stdout" || *text == "stderr") {
        // Surely meant as a keyword, not as a file named "stdout" in the log folder.
        std::string expected = may_merge ? "a path, \"stdout\", \"inherit\" or \"null\""
                                         : "a path, \"inherit\" or \"null\"";
        t.report_at_value(key, "invalid value " + in_quotes(*text) + "; expected " + expected);
        return std::nullopt;
    }
    return OutputTarget{OutputTarget::Kind::file,
                        detail::resolve_path(config_.supervisor.log_dir, *text)};
}

// --- depends_on ------------------------------------------------------------------------

void ConfigLoader::read_dependencies(const TableReader& t, LoadedService& service)
{
    service.depends_on_position = t.key_position("depends_on");
    const toml::node* node = t.find("depends_on");
    if (node == nullptr) {
        return;
    }
    std::string key = t.key_path("depends_on");
    const ValueReader& values = t.values();
    if (const auto* array = node->as_array()) {
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& element = (*array)[i];
            auto name = values.string(element, key + "[" + std::to_string(i) + "]");
            if (name) {
                service.dependencies.push_back(
                    {*name, DependencyCondition::started, position_of(element.source())});
            }
        }
    } else if (const auto* table = node->as_table()) {
        for (auto [name, condition_node] : detail::in_file_order(*table)) {
            auto condition =
                values.choice(*condition_node, key + "." + std::string(name->str()),
                              std::span<const Choice<DependencyCondition>>(condition_choices));
            service.dependencies.push_back({std::string(name->str()),
                                            condition.value_or(DependencyCondition::started),
                                            position_of(name->source())});
        }
    } else {
        values.report(*node, key,
                      "expected an array of service names or a table of "
                      "name = \"started\"|\"healthy\"|\"completed\", got " +
                          detail::type_name(node->type()));
    }
    for (const auto& dependency : service.dependencies) {
        service.config.depends_on.emplace(dependency.name, dependency.condition);
    }
}

// --- [services.NAME.health] ------------------------------------------------------------

std::optional<HealthCheckConfig> ConfigLoader::read_health(const TableReader& service)
{
    const toml::node* node = service.find("health");
    std::string key = service.key_path("health");
    const toml::table* table = node ? service.values().table(*node, key) : nullptr;
    if (table == nullptr) {
        return std::nullopt;
    }
    TableReader t(*table, key, service.values());
    t.report_unknown_keys(health_keys);
    HealthCheckConfig health;
    read_health_kind(t, health);
    assign(health.interval, t.read("interval", &ValueReader::duration, Zero::refused));
    assign(health.timeout, t.read("timeout", &ValueReader::duration, Zero::refused));
    assign(health.start_period, t.read("start_period", &ValueReader::duration, Zero::allowed));
    auto retries = t.read("retries", &ValueReader::integer, 1, 1'000'000);
    if (retries) {
        health.retries = static_cast<int>(*retries);
    }
    assign(health.on_unhealthy, read_choice(t, "on_unhealthy", unhealthy_choices));
    return health;
}

void ConfigLoader::read_health_kind(const TableReader& t, HealthCheckConfig& health)
{
    std::vector<std::string_view> given;
    for (auto kind : health_kinds) {
        if (t.find(kind) != nullptr) {
            given.push_back(kind);
        }
    }
    if (given.empty()) {
        t.values().context().report(t.table_position(), t.path(),
                                    "a health check needs one of 'http', 'tcp' or 'command'");
        return;
    }
    for (std::size_t i = 1; i < given.size(); ++i) {
        t.report_at_key(given[i], "a health check has exactly one of 'http', 'tcp' or 'command'; " +
                                      in_quotes(given[0]) + " is already given");
    }
    if (given[0] == "http") {
        read_http_check(t, health);
    } else if (given[0] == "tcp") {
        read_tcp_check(t, health);
    } else {
        health.kind = HealthCheckConfig::Kind::command;
        assign(health.command, t.read("command", &ValueReader::command));
    }
}

void ConfigLoader::read_http_check(const TableReader& t, HealthCheckConfig& health)
{
    health.kind = HealthCheckConfig::Kind::http;
    auto url = t.read("http", &ValueReader::non_empty_string);
    if (!url) {
        return;
    }
    health.http_url = *url;
    if (auto error = parse_http_url(*url, health)) {
        t.report_at_value("http", "invalid URL " + in_quotes(*url) + ": " + *error);
    }
}

void ConfigLoader::read_tcp_check(const TableReader& t, HealthCheckConfig& health)
{
    health.kind = HealthCheckConfig::Kind::tcp;
    auto address = t.read("tcp", &ValueReader::non_empty_string);
    if (!address) {
        return;
    }
    auto parsed = parse_host_port(*address, std::nullopt);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        t.report_at_value("tcp", "invalid address " + in_quotes(*address) + ": " + *error);
        return;
    }
    health.tcp_host = std::get<HostPort>(parsed).host;
    health.tcp_port = std::get<HostPort>(parsed).port;
}

// --- checks across services ------------------------------------------------------------

void ConfigLoader::check_dependencies(const DependencyGraph& graph)
{
    std::vector<std::string_view> names;
    for (const auto& service : services_) {
        names.push_back(service.config.name);
    }
    for (const auto& service : services_) {
        std::string key = service_key_path(service.config.name) + ".depends_on";
        for (const auto& dependency : service.dependencies) {
            const LoadedService* target = find_loaded(dependency.name);
            if (target == nullptr) {
                std::vector<std::string_view> others = names;
                std::erase(others, service.config.name);
                report(service.file, dependency.position, key,
                       "unknown service " + in_quotes(dependency.name) +
                           detail::did_you_mean(dependency.name, others));
            } else if (dependency.condition == DependencyCondition::healthy &&
                       !target->config.health) {
                report(service.file, dependency.position, key,
                       "service " + in_quotes(dependency.name) +
                           " has no health check, so it can never become healthy");
            }
        }
    }
    for (const auto& cycle : graph.cycles()) {
        std::string path;
        for (const auto& name : cycle) {
            path += (path.empty() ? "" : " -> ") + name;
        }
        const LoadedService* first = find_loaded(cycle.front());
        report(first->file, first->depends_on_position,
               service_key_path(first->config.name) + ".depends_on", "dependency cycle: " + path);
    }
}

// Two writers rotating one file would rename it under each other and lose lines.
void ConfigLoader::check_log_files()
{
    std::map<fs::path, std::string> owners;
    for (const auto& service : services_) {
        check_one_log_file(owners, service, service.config.stdout_target, "stdout",
                           service.stdout_position);
        check_one_log_file(owners, service, service.config.stderr_target, "stderr",
                           service.stderr_position);
    }
}

void ConfigLoader::check_one_log_file(std::map<fs::path, std::string>& owners,
                                      const LoadedService& service, const OutputTarget& target,
                                      std::string_view stream, Position position)
{
    if (target.kind != OutputTarget::Kind::file) {
        return;
    }
    std::string owner =
        "the " + std::string(stream) + " of service " + in_quotes(service.config.name);
    auto [it, inserted] = owners.emplace(target.path, owner);
    if (inserted) {
        return;
    }
    std::string hint = it->second == "the stdout of service " + in_quotes(service.config.name)
                           ? "; use stderr = \"stdout\" to send both streams to one file"
                           : "; give each stream its own file";
    report(service.file, position,
           service_key_path(service.config.name) + "." + std::string(stream),
           "log file " + in_quotes(target.path.string()) + " is already written by " + it->second +
               hint);
}

// Files in the order they were read, then top to bottom: checks run key by key and
// service by service, but a reader fixes a file from its first line down.
void ConfigLoader::sort_diagnostics()
{
    std::vector<fs::path> files;
    for (const auto& diagnostic : diagnostics_) {
        if (std::find(files.begin(), files.end(), diagnostic.file) == files.end()) {
            files.push_back(diagnostic.file);
        }
    }
    auto rank = [&](const ConfigDiagnostic& d) {
        return std::find(files.begin(), files.end(), d.file) - files.begin();
    };
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [&](const ConfigDiagnostic& a, const ConfigDiagnostic& b) {
                         return std::tuple(rank(a), a.line, a.column) <
                                std::tuple(rank(b), b.line, b.column);
                     });
}

std::string join_diagnostics(const std::vector<ConfigDiagnostic>& diagnostics)
{
    std::string text;
    for (const auto& diagnostic : diagnostics) {
        text += (text.empty() ? "" : "\n") + diagnostic.to_string();
    }
    return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::string ConfigDiagnostic::to_string() const
{
    std::string text;
    if (!file.empty()) {
        text += file.string();
        if (line > 0) {
            text += ":" + std::to_string(line);
            if (column > 0) {
                text += ":" + std::to_string(column);
            }
        }
        text += ": ";
    }
    if (!key.empty()) {
        text += key + ": ";
    }
    return text + message;
}

ConfigError::ConfigError(std::vector<ConfigDiagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics))
{
}

bool ServiceConfig::operator==(const ServiceConfig& other) const
{
    // Every field except `origin`: moving a definition within the file is not a change.
    auto fields = [](const ServiceConfig& s) {
        return std::tie(s.name, s.command, s.directory, s.environment, s.user, s.group, s.umask,
                        s.autostart, s.type, s.restart, s.start_seconds, s.start_timeout,
                        s.watchdog, s.start_retries, s.backoff, s.backoff_max,
                        s.success_exit_codes, s.stop_signal, s.stop_timeout,
                        s.reload_signal, s.kill_group, s.essential, s.nohup, s.pidfile,
                        s.stdout_target, s.stderr_target, s.log_max_size, s.log_backups,
                        s.depends_on, s.health);
    };
    return fields(*this) == fields(other);
}

const ServiceConfig* Config::find(std::string_view name) const
{
    for (const auto& service : services) {
        if (service.name == name) {
            return &service;
        }
    }
    return nullptr;
}

Environment current_environment()
{
    Environment env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        auto equals = text.find('=');
        if (equals != std::string_view::npos) {
            env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
        }
    }
    return env;
}

Config load_config(const std::filesystem::path& file, const Environment& env)
{
    return ConfigLoader(file, env).load();
}

SupervisorConfig load_supervisor_config(const std::filesystem::path& file, const Environment& env)
{
    return ConfigLoader(file, env).load_supervisor();
}

std::filesystem::path default_socket_path(const Environment& env)
{
    if (::geteuid() == 0) {
        return "/run/procsup/procsup.sock";
    }
    auto runtime = env.find("XDG_RUNTIME_DIR");
    if (runtime != env.end() && !runtime->second.empty() && runtime->second.front() == '/') {
        return std::filesystem::path(runtime->second) / "procsup.sock";
    }
    return "/tmp/procsup-" + std::to_string(::geteuid()) + "/procsup.sock";
}

}  // namespace procsup
