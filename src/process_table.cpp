#include "procsup/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace procsup {

std::vector<pid_t> direct_children()
{
    std::vector<pid_t> children;
    DIR* tasks = ::opendir("/proc/self/task");
    if (!tasks) {
        return children;
    }
    while (const dirent* entry = ::readdir(tasks)) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        std::ifstream in(std::string("/proc/self/task/") + entry->d_name + "/children");
        pid_t pid = 0;
        while (in >> pid) {
            children.push_back(pid);
        }
    }
    ::closedir(tasks);
    return children;
}

bool environment_contains(pid_t pid, std::string_view entry)
{
    const std::string path = "/proc/" + std::to_string(pid) + "/environ";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    std::string env;
    char buffer[8192];
    ssize_t n = 0;
    // Environments are small; a bound keeps a hostile process from making us read forever.
    while (env.size() < (1u << 20) && (n = ::read(fd, buffer, sizeof buffer)) > 0) {
        env.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::size_t start = 0;
    while (start < env.size()) {
        std::size_t end = env.find('\0', start);
        if (end == std::string::npos) {
            end = env.size();
        }
        if (std::string_view(env).substr(start, end - start) == entry) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

pid_t process_group_of(pid_t pid)
{
    return ::getpgid(pid);
}

}  // namespace procsup
