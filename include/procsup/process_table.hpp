// Read-only questions to /proc about the daemon's own children. Used to find processes of a
// service that left its process group (setsid, setpgid) and were re-parented to procsup as
// child subreaper: they are procsup's children, so their PIDs cannot be reused while
// unreaped, and signalling them is safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace procsup {

// The environment variable every process of a service carries: PROCSUP_SERVICE=<name>.
inline constexpr std::string_view service_marker_variable = "PROCSUP_SERVICE";

// Live (not yet exited) children of this process, from /proc/self/task/*/children.
std::vector<pid_t> direct_children();

// True when /proc/PID/environ holds exactly `entry` ("KEY=value").
bool environment_contains(pid_t pid, std::string_view entry);

// The process group of `pid`, or -1.
pid_t process_group_of(pid_t pid);

}  // namespace procsup
