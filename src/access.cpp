#include "procsup/access.hpp"

#include <grp.h>

#include <cstdlib>

namespace procsup {

std::optional<gid_t> lookup_group(const std::string& name)
{
    group entry{};
    group* found = nullptr;
    char buffer[4096];
    if (::getgrnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) == 0 && found) {
        return found->gr_gid;
    }
    char* end = nullptr;
    const unsigned long id = std::strtoul(name.c_str(), &end, 10);
    if (!name.empty() && *end == '\0') {
        return static_cast<gid_t>(id);
    }
    return std::nullopt;
}

}  // namespace procsup
