// The daemon's own log (spdlog): to stderr ("-") or to a file that SIGHUP reopens, so
// logrotate's `create` mode loses nothing. Sets spdlog's default logger.
#pragma once

#include <string>

namespace procsup {

// `target` is "-" or an absolute path; `level` one of trace..off. Returns false, with a
// message, when the file cannot be opened (the log then goes to stderr).
bool setup_daemon_log(const std::string& target, const std::string& level, std::string& error);

// Reopens the log file (no-op for stderr). Safe to call from the event loop only.
void reopen_daemon_log();

}  // namespace procsup
