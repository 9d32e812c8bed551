#include "procsup/exit_status.hpp"

#include <sys/wait.h>

#include <algorithm>

#include "procsup/units.hpp"

namespace procsup {

ExitStatus ExitStatus::from_wait_status(int status)
{
    if (WIFSIGNALED(status)) {
        return ExitStatus{std::nullopt, WTERMSIG(status)};
    }
    return ExitStatus{WEXITSTATUS(status), std::nullopt};
}

int ExitStatus::shell_code() const
{
    return signal ? 128 + *signal : code.value_or(0);
}

std::string ExitStatus::describe() const
{
    if (signal) {
        return "killed by " + signal_name(*signal);
    }
    return "exit " + std::to_string(code.value_or(0));
}

bool ExitStatus::is_success(const std::vector<int>& success_codes) const
{
    return code && std::find(success_codes.begin(), success_codes.end(), *code) !=
                       success_codes.end();
}

}  // namespace procsup
