// The validated configuration: what `procsup daemon` supervises and how. Produced by
// load_config() from a TOML file (plus its includes) and the daemon's environment; every
// path in it is absolute and every value is checked, so later layers never re-validate.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "procsup/expand.hpp"
#include "procsup/units.hpp"

namespace procsup {

enum class RestartPolicy { always, on_failure, never };
enum class DependencyCondition { started, healthy, completed };
enum class UnhealthyAction { restart, ignore };

// Where a stream of a service goes.
struct OutputTarget {
    enum class Kind { file, inherit, null, merge_into_stdout };
    Kind kind = Kind::file;
    std::filesystem::path path;  // absolute, for Kind::file only

    bool operator==(const OutputTarget&) const = default;
};

struct HealthCheckConfig {
    enum class Kind { http, tcp, command };
    Kind kind = Kind::http;
    std::string http_url;              // Kind::http: "http://host:port/path"
    std::string tcp_host;              // Kind::tcp
    std::uint16_t tcp_port = 0;        // Kind::tcp
    std::vector<std::string> command;  // Kind::command: argv
    Duration interval = std::chrono::seconds(30);
    Duration timeout = std::chrono::seconds(3);
    Duration start_period = std::chrono::seconds(0);
    int retries = 3;
    UnhealthyAction on_unhealthy = UnhealthyAction::restart;

    bool operator==(const HealthCheckConfig&) const = default;
};

struct ServiceConfig {
    std::string name;
    std::vector<std::string> command;  // argv; never empty
    std::optional<std::filesystem::path> directory;
    std::map<std::string, std::string> environment;  // env_file first, then `environment`
    std::optional<std::string> user;
    std::optional<std::string> group;
    std::optional<unsigned> umask;
    bool autostart = true;
    RestartPolicy restart = RestartPolicy::on_failure;
    Duration start_seconds = std::chrono::seconds(1);
    std::optional<int> start_retries = 5;  // nullopt: "unlimited"
    Duration backoff = std::chrono::seconds(1);
    Duration backoff_max = std::chrono::seconds(60);
    std::vector<int> success_exit_codes{0};
    int stop_signal = 15;
    Duration stop_timeout = std::chrono::seconds(10);
    int reload_signal = 1;
    bool kill_group = true;
    bool essential = false;
    bool nohup = false;
    std::optional<std::filesystem::path> pidfile;
    OutputTarget stdout_target;
    OutputTarget stderr_target{OutputTarget::Kind::merge_into_stdout, {}};
    std::uint64_t log_max_size = 10'000'000;  // 0: never rotate by size
    int log_backups = 5;
    std::map<std::string, DependencyCondition> depends_on;
    std::optional<HealthCheckConfig> health;

    // Where the definition came from, for messages: "file:line:col".
    std::string origin;

    bool operator==(const ServiceConfig& other) const;
};

struct SupervisorConfig {
    std::filesystem::path socket;
    unsigned socket_mode = 0600;
    std::optional<std::string> socket_group;
    std::optional<std::filesystem::path> pidfile;
    std::string log = "-";  // "-" or an absolute path
    std::string log_level = "info";
    std::filesystem::path log_dir;  // absolute
    std::string dbus = "auto";
};

struct Config {
    std::filesystem::path file;  // absolute path of the main config file
    SupervisorConfig supervisor;
    std::vector<ServiceConfig> services;  // in dependency order: dependencies first

    const ServiceConfig* find(std::string_view name) const;
};

// One problem found in a config file.
struct ConfigDiagnostic {
    std::filesystem::path file;
    int line = 0;  // 1-based; 0 when the problem has no position (e.g. a missing file)
    int column = 0;
    std::string key;  // dotted path, e.g. "services.web.stop_timeout"; may be empty
    std::string message;

    // "FILE:LINE:COL: KEY: message", leaving out what is unknown.
    std::string to_string() const;
};

// Thrown by load_config with every problem found in one pass.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<ConfigDiagnostic> diagnostics);
    const std::vector<ConfigDiagnostic>& diagnostics() const { return diagnostics_; }

private:
    std::vector<ConfigDiagnostic> diagnostics_;
};

// The daemon's environment, as a lookup, so that tests can pass their own. The type
// `Environment` (a name-to-value map) is declared in procsup/expand.hpp.
Environment current_environment();

// Reads, expands and validates `file` and its includes. Throws ConfigError.
Config load_config(const std::filesystem::path& file, const Environment& env);

// The socket path used when neither -s, PROCSUP_SOCKET nor the config names one:
// /run/procsup/procsup.sock as root, $XDG_RUNTIME_DIR/procsup.sock otherwise (or
// /tmp/procsup-UID/procsup.sock when XDG_RUNTIME_DIR is unset).
std::filesystem::path default_socket_path(const Environment& env);

}  // namespace procsup
