// How a process ended: an exit code or a signal, decoded once from a wait status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace procsup {

struct ExitStatus {
    std::optional<int> code;    // set when the process called exit()
    std::optional<int> signal;  // set when a signal killed it

    static ExitStatus from_wait_status(int status);

    // The status a shell would report: the code, or 128 + the signal number.
    int shell_code() const;

    // "exit 1", "exit 0", "killed by SIGKILL".
    std::string describe() const;

    // An exit code listed in `success_codes`. A death by signal is never a success.
    bool is_success(const std::vector<int>& success_codes) const;

    bool operator==(const ExitStatus&) const = default;
};

}  // namespace procsup
