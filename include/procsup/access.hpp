// Who may control the daemon (DESIGN §7), shared by the control socket and the D-Bus API:
// root, the daemon's own user, or a member of [supervisor] socket_group.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace procsup {

// The group ID of `name` (a group name or a number), or nullopt when there is none.
std::optional<gid_t> lookup_group(const std::string& name);

}  // namespace procsup
