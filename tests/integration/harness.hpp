// Test harness for the end-to-end tests: a private folder per test, the real procsup binary
// run as a daemon and as a client, polling with deadlines, and a cleanup that ends every
// process the test started (found by a token in their environment) even when a check fails.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace procsup::test {

using namespace std::chrono_literals;

struct CommandResult {
    int exit_code = -1;  // 128+N when killed by signal N; -1 when it timed out
    std::string out;
    std::string err;
};

// Runs `argv` with the given extra environment, collects its output, kills it at `timeout`.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 20s,
                          const std::vector<std::string>& extra_env = {});

// Starts `argv` in the background with stdout and stderr into the given files. The caller
// must collect it with wait_exit (or kill it) before the test ends.
pid_t spawn_background(const std::vector<std::string>& argv, const std::filesystem::path& out,
                       const std::filesystem::path& err,
                       const std::vector<std::string>& extra_env = {});

// Waits for a child started with spawn_background: its exit code (128+N for signal N), or
// nullopt when it is still running at the deadline.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds limit = 20s);

// Polls `condition` every few milliseconds until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s);

// A free TCP port on 127.0.0.1 (bound, read, released).
int free_port();

bool process_alive(pid_t pid);  // a zombie counts as gone
std::optional<pid_t> read_pid(const std::filesystem::path& file);
std::string read_file(const std::filesystem::path& file);
void write_file(const std::filesystem::path& file, const std::string& text);

// PIDs of live processes whose environment holds PROCSUP_TEST_TOKEN=<token>.
std::vector<pid_t> processes_with_token(const std::string& token);
// Children of `parent` that are zombies.
std::vector<pid_t> zombie_children(pid_t parent);

// One test's world: a temp folder, a config, a daemon, and a token that every service
// started through this fixture carries in its environment.
class Fixture {
public:
    Fixture();
    ~Fixture();
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;

    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path path(const std::string& name) const { return dir_ / name; }
    const std::string& token() const { return token_; }
    std::filesystem::path config_path() const { return dir_ / "procsup.toml"; }
    std::filesystem::path socket_path() const { return dir_ / "procsup.sock"; }
    std::filesystem::path pidfile_path() const { return dir_ / "procsup.pid"; }
    std::filesystem::path log_path() const { return dir_ / "procsup.log"; }

    // Writes the config: a [supervisor] table for this folder, then `services` (TOML text in
    // which @DIR@ and @TOKEN@ are replaced). Each [services.X] gets the token environment
    // unless it sets `environment` itself (then the test adds PROCSUP_TEST_TOKEN).
    void write_config(const std::string& services);

    // `procsup daemon --detach`; REQUIREs success and returns the result.
    CommandResult start_daemon();
    std::optional<pid_t> daemon_pid() const { return read_pid(pidfile_path()); }

    // `procsup daemon` in the foreground, as a container or systemd runs it; stdout and
    // stderr go to daemon.out / daemon.err in the folder. The fixture kills it at cleanup.
    pid_t start_foreground_daemon(const std::vector<std::string>& extra_args = {},
                                  const std::vector<std::string>& extra_env = {});
    // Starts any command in the background the same way (e.g. `procsup run`).
    pid_t start_background(const std::vector<std::string>& argv,
                           const std::vector<std::string>& extra_env = {});
    // Collects a process started by the two above: its exit code, or nullopt on timeout.
    std::optional<int> wait_exit_of(pid_t pid, std::chrono::milliseconds limit = 20s);

    // A client verb against this fixture's socket.
    CommandResult cli(const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = 20s);

    // status --json, parsed; the service object, or null when absent.
    boost::json::value status_of(const std::string& service);
    std::string state_of(const std::string& service);
    std::optional<pid_t> pid_of(const std::string& service);

    // Stops the daemon and ends whatever the test left behind.
    void cleanup();

private:
    std::filesystem::path dir_;
    std::string token_;
    bool cleaned_ = false;
    std::vector<pid_t> children_;
};

std::filesystem::path procsup_binary();

}  // namespace procsup::test
