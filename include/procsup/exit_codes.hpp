// The exit statuses of the CLI verbs (DESIGN §2), shared by every verb.
#pragma once

namespace procsup {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;            // the operation failed
inline constexpr int exit_usage = 2;             // usage or configuration error
inline constexpr int exit_not_running = 3;       // a named service is not running
inline constexpr int exit_unknown_service = 4;
inline constexpr int exit_unreachable = 5;       // the daemon cannot be reached

}  // namespace procsup
