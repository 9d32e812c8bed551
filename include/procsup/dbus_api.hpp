// The D-Bus front end: exports org.procsup.Supervisor1 (systemd/org.procsup.Supervisor1.xml)
// on the bus that [supervisor] dbus names, and drives the connection from the daemon's own
// event loop, on its one thread. D-Bus is optional: with "auto" and no bus, or when the bus
// goes away, the daemon carries on and tries to connect again later. Callers are checked as
// on the control socket: root, the daemon's user, or a member of socket_group.
//
// This header stays free of sdbus-c++ so that only src/dbus_api.cpp pays for it.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "procsup/config.hpp"

namespace procsup {

class Supervisor;

class DbusApi {
public:
    DbusApi(boost::asio::io_context& io, Supervisor& supervisor, const SupervisorConfig& config);
    DbusApi(const DbusApi&) = delete;
    DbusApi& operator=(const DbusApi&) = delete;
    ~DbusApi();

    // Connects and takes the bus name. Returns false with `error` only for problems that
    // will not go away by waiting (a socket_group that does not exist); a bus that cannot be
    // reached is logged and retried, and is no error.
    bool start(std::string& error);

    // Drops the bus name and the connection; pending calls get no answer. Idempotent.
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace procsup
