// The validated configuration: what `procsup daemon` supervises and how. Produced by
// load_config() from a TOML file (plus its includes) and the daemon's environment; every
// path in it is absolute and every value is checked, so later layers never re-validate.
//
// Rules load_config() applies beyond DESIGN.md section 3:
// - `${VAR}` and `${VAR:-default}` (see expand.hpp) are expanded in every string value
//   except the elements of an array `command` (of a service or of a health check) and the
//   values of `environment`: those reach the process exactly as written, so "$HOME" or
//   "${PATH}" in an argv array stays literal. A string `command` is expanded, then split.
//   env_file contents are never expanded.
// - Relative paths: stdout/stderr files are taken from `log_dir`; `env_file` from the
//   service's `directory` when given, else from the main config file's folder; everything
//   else (directory, pidfile, socket, log, log_dir, include) from the main config file's
//   folder. All paths are stored absolute and lexically normalised.
// - Defaults: log_dir = "<config folder>/logs"; stdout = file "<log_dir>/<name>.log";
//   stderr = "stdout"; socket = default_socket_path(env).
// - An included file may hold [services.*] tables only; a file matched twice is read once.
// - Limits: at most 1000 services; log_backups from 0 to 1000; health retries from 1 to
//   1000000; umask and socket_mode from 0 to 0777; backoff_max >= backoff > 0;
//   start_timeout > 0 and watchdog > 0. `watchdog` needs type = "notify"; start_timeout is
//   accepted for a simple service but has no effect there.
// - Two streams (of one service or of two) may not write the same log file: rotation by two
//   writers would lose lines. Use stderr = "stdout" to share one file.
// - Config::services is in dependency order; ties keep file order (main file, then the
//   included files in sorted glob order).
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
// simple: started once it stays up start_seconds; notify: once it sends READY=1.
enum class ServiceType { simple, notify };

// Where a stream of a service goes.
struct OutputTarget {
    // passthrough: the daemon's own descriptor is handed to the child (`procsup run`).
    enum class Kind { file, inherit, null, merge_into_stdout, passthrough };
    Kind kind = Kind::file;
    std::filesystem::path path;  // absolute, for Kind::file only

    bool operator==(const OutputTarget&) const = default;
};

struct HealthCheckConfig {
    enum class Kind { http, tcp, command };
    Kind kind = Kind::http;
    std::string http_url;              // Kind::http: "http://host:port/path", as written
    std::string http_host;             // Kind::http: parts of http_url; IPv6 without brackets
    std::uint16_t http_port = 80;      // Kind::http
    std::string http_path = "/";       // Kind::http: path and query, never empty
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
    ServiceType type = ServiceType::simple;
    RestartPolicy restart = RestartPolicy::on_failure;
    Duration start_seconds = std::chrono::seconds(1);
    Duration start_timeout = std::chrono::seconds(90);  // type = "notify": limit for READY=1
    std::optional<Duration> watchdog;  // type = "notify" only: longest gap between WATCHDOG=1
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
    // No `stdout` key: the daemon may choose "inherit" instead of the file (as PID 1 or
    // under journald, see README "Logs").
    bool stdout_is_default = false;
    OutputTarget stderr_target{OutputTarget::Kind::merge_into_stdout, {}};
    std::uint64_t log_max_size = 10'000'000;  // 0: never rotate by size
    int log_backups = 5;
    std::map<std::string, DependencyCondition> depends_on;
    std::optional<HealthCheckConfig> health;

    // Where the definition came from, for messages: "file:line:col".
    std::string origin;

    // Compares every field except `origin` (the supervisor tells changed services apart on
    // `update` with it). A field added above must be added to it too.
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

// Only the [supervisor] table of `file`, read and checked as load_config() reads it; the
// services and includes are not read. For clients, which need the socket and nothing else:
// validating 200 services cost `procsup -c FILE status` 2 ms.
SupervisorConfig load_supervisor_config(const std::filesystem::path& file, const Environment& env);

// The socket path used when neither -s, PROCSUP_SOCKET nor the config names one:
// /run/procsup/procsup.sock as root, $XDG_RUNTIME_DIR/procsup.sock otherwise (or
// /tmp/procsup-UID/procsup.sock when XDG_RUNTIME_DIR is unset).
std::filesystem::path default_socket_path(const Environment& env);

}  // namespace procsup
