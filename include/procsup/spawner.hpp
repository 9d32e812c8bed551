// Starts a child process the way a supervisor needs it: its own session and process group,
// stdin on /dev/null, no inherited descriptors, a clean signal mask and dispositions, its
// own environment, directory, umask and user. Boost.Process 1.81 was rejected for this job
// (see README, "Dependencies"): it leaks descriptors, calls exit() after a failed exec and
// steals exit statuses from the central waitpid(-1) reaper.
//
// spawn() is synchronous: it returns once the child has called execve() or has failed to.
// A child that failed before execve() is reaped here, so the caller never sees its PID.
// The caller owns reaping of successful children (waitpid(-1) in one place).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace procsup {

struct SpawnRequest {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH of `env` unless it has a '/'
    std::vector<std::string> env;   // "KEY=value", complete: nothing is added
    std::optional<std::filesystem::path> directory;
    std::optional<unsigned> umask;
    std::optional<std::string> user;   // name or numeric uid; needs root
    std::optional<std::string> group;  // name or numeric gid; defaults to the user's group
    int stdout_fd = -1;                // -1: /dev/null
    int stderr_fd = -1;                // -1: /dev/null
    bool ignore_sighup = false;        // nohup: start with SIGHUP ignored
    bool new_session = true;           // setsid(); false only for `procsup run` in a group
};

// Why a child could not be started, e.g. {"execve '/usr/bin/x'", ENOENT}.
struct SpawnError {
    std::string step;  // what failed, naming the object: "chdir '/srv/app'"
    int error = 0;     // errno value, 0 when the failure has none (e.g. unknown user)
    std::string detail;  // used when error == 0

    // "chdir '/srv/app': No such file or directory"
    std::string to_string() const;
};

using SpawnResult = std::variant<pid_t, SpawnError>;

SpawnResult spawn(const SpawnRequest& request);

// Looks up `program` the way execvp() would, in `path_list` (a colon-separated PATH).
// Returns the absolute path of the first executable match, or nullopt.
std::optional<std::filesystem::path> find_in_path(const std::string& program,
                                                  const std::string& path_list);

}  // namespace procsup
