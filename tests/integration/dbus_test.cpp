// End-to-end: the D-Bus API (DESIGN §9, systemd/org.procsup.Supervisor1.xml) on a private
// bus daemon that each test starts and ends by PID, driven with busctl, dbus-send and gdbus
// as callers would.
#include <signal.h>

#include <doctest/doctest.h>

#include <sstream>

#include "harness.hpp"

using namespace procsup::test;

namespace {

const std::string object = "/org/procsup/Supervisor1";
const std::string interface = "org.procsup.Supervisor1";

// A dbus-daemon of the test's own: listens on a socket in the test's folder, lets anyone
// connect, own and call (procsup does its own checks), and activates nothing. `policy` is
// appended to the config, to try the shipped system bus policy on top of it.
class PrivateBus {
public:
    explicit PrivateBus(const std::filesystem::path& dir, const std::string& policy = "")
        : config_(dir / "bus.conf"), socket_(dir / "bus.sock")
    {
        write_file(config_, R"(<busconfig>
  <type>session</type>
  <listen>unix:path=)" + socket_.string() + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
)" + policy + "</busconfig>\n");
        start();
    }
    ~PrivateBus() { kill(); }
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    void start()
    {
        const auto r = run_command({"dbus-daemon", "--config-file=" + config_.string(), "--fork",
                                    "--print-address=1", "--print-pid=1"},
                                   10s);
        INFO("dbus-daemon: ", r.err);
        REQUIRE(r.exit_code == 0);
        std::istringstream lines(r.out);
        std::string address_line;
        lines >> address_line >> pid_;
        REQUIRE(pid_ > 0);
    }

    // Ends the bus daemon and waits until it is gone (it is not our child after --fork).
    void kill()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            wait_until([&] { return !process_alive(pid_); }, 5s);
            pid_ = 0;
        }
        std::filesystem::remove(socket_);
    }

    std::string address() const { return "unix:path=" + socket_.string(); }

private:
    std::filesystem::path config_;
    std::filesystem::path socket_;
    pid_t pid_ = 0;
};

// busctl against the bus, optionally as user nobody with the given supplementary groups.
CommandResult busctl(const PrivateBus& bus, const std::vector<std::string>& args,
                     bool as_nobody = false, const std::string& groups = "")
{
    std::vector<std::string> argv;
    if (as_nobody) {
        argv = {"setpriv", "--reuid=65534", "--regid=65534",
                groups.empty() ? "--clear-groups" : "--groups=" + groups};
    }
    argv.insert(argv.end(), {"busctl", "--address=" + bus.address()});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 20s);
}

CommandResult call(const PrivateBus& bus, const std::string& method,
                   const std::vector<std::string>& args = {}, bool as_nobody = false,
                   const std::string& groups = "")
{
    std::vector<std::string> full{"call", "org.procsup.Supervisor1", object, interface, method};
    full.insert(full.end(), args.begin(), args.end());
    return busctl(bus, full, as_nobody, groups);
}

std::string property(const PrivateBus& bus, const std::string& name)
{
    return busctl(bus, {"get-property", "org.procsup.Supervisor1", object, interface, name}).out;
}

// dbus-send prints the D-Bus error name, which busctl leaves out.
CommandResult dbus_send(const PrivateBus& bus, const std::string& method,
                        const std::vector<std::string>& args = {}, bool as_nobody = false)
{
    std::vector<std::string> argv;
    if (as_nobody) {
        argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    }
    argv.insert(argv.end(), {"dbus-send", "--bus=" + bus.address(), "--print-reply",
                             "--dest=org.procsup.Supervisor1", object, interface + "." + method});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 20s);
}

bool has(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

// The config: `dbus` (and `extra` [supervisor] keys) land in the fixture's [supervisor]
// table because they come before the first service table.
void write_config(Fixture& f, const std::string& dbus, const std::string& extra = "")
{
    f.write_config("dbus = \"" + dbus + "\"\n" + extra + R"(
[services.app]
command = ["sh", "-c", "trap 'echo hup >> @DIR@/got' HUP; echo $$ > @DIR@/ready; while :; do sleep 0.05; done"]
[services.idle]
command = ["sleep", "1000"]
autostart = false
)");
}

bool owns_name(const PrivateBus& bus)
{
    return has(busctl(bus, {"list", "--no-legend", "--acquired"}).out, "org.procsup.Supervisor1");
}

}  // namespace

TEST_SUITE("dbus")
{
    TEST_CASE("every method and property answers, and stop and start emit the state signal" *
              doctest::timeout(90))
    {
        Fixture f;
        PrivateBus bus(f.dir());
        write_config(f, bus.address());
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        REQUIRE(wait_until([&] { return owns_name(bus); }));
        const std::string pid = std::to_string(*f.pid_of("app"));

        const auto list = call(bus, "ListServices");
        CHECK(list.exit_code == 0);
        CHECK(list.out == "a(sssuu) 2 \"app\" \"running\" \"none\" " + pid +
                              " 0 \"idle\" \"stopped\" \"none\" 0 0\n");

        const auto details = call(bus, "GetService", {"s", "app"});
        CHECK(details.exit_code == 0);
        CHECK(has(details.out, "\"name\" s \"app\""));
        CHECK(has(details.out, "\"state\" s \"running\""));
        CHECK(has(details.out, "\"pid\" x " + pid));
        CHECK(has(details.out, "\"restarts\" x 0"));
        CHECK_FALSE(has(details.out, "\"last_exit\""));  // null in JSON: absent here

        CHECK(property(bus, "Version") == std::string("s \"") + PROCSUP_VERSION + "\"\n");
        CHECK(property(bus, "ServiceCount") == "u 2\n");
        CHECK(property(bus, "RunningCount") == "u 1\n");
        CHECK(property(bus, "FailedCount") == "u 0\n");

        // The monitor must be listening before the first change: it reports NameLost when
        // it has become a monitor.
        const auto monitor_out = f.path("monitor.out");
        const pid_t monitor = spawn_background(
            {"timeout", "30", "dbus-monitor", "--address", bus.address(),
             "type='signal',interface='org.procsup.Supervisor1'"},
            monitor_out, f.path("monitor.err"));
        REQUIRE(wait_until([&] { return has(read_file(monitor_out), "NameLost"); }));

        const auto stopped = call(bus, "Stop", {"as", "1", "app"});
        CHECK(stopped.out == "a(sbs) 1 \"app\" true \"stopped\"\n");
        CHECK(f.state_of("app") == "stopped");
        const auto started = call(bus, "Start", {"as", "2", "app", "idle"});
        CHECK(started.out == "a(sbs) 2 \"app\" true \"running\" \"idle\" true \"running\"\n");
        CHECK(f.state_of("idle") == "running");
        CHECK(property(bus, "RunningCount") == "u 2\n");

        const std::string signal_head = "member=ServiceStateChanged\n   string \"app\"\n";
        CHECK(wait_until([&] {
            const std::string seen = read_file(monitor_out);
            return has(seen, signal_head + "   string \"running\"\n   string \"stopping\"\n   "
                                           "uint32 " + pid + "\n") &&
                   has(seen, signal_head + "   string \"stopping\"\n   string \"stopped\"\n"
                                           "   uint32 0\n") &&
                   has(seen, signal_head + "   string \"starting\"\n   string \"running\"\n");
        }));
        ::kill(monitor, SIGTERM);
        wait_exit(monitor, 5s);

        const auto first_pid = f.pid_of("app");
        const auto restarted = call(bus, "Restart", {"as", "1", "app"});
        CHECK(restarted.out == "a(sbs) 1 \"app\" true \"running\"\n");
        CHECK(f.pid_of("app") != first_pid);

        // The new shell has to have its trap before it can see the HUP.
        const std::string new_pid = std::to_string(*f.pid_of("app"));
        REQUIRE(wait_until([&] { return read_file(f.path("ready")) == new_pid + "\n"; }));
        const auto reloaded = call(bus, "Reload", {"as", "1", "app"});
        CHECK(reloaded.out == "a(sbs) 1 \"app\" true \"sent SIGHUP\"\n");
        CHECK(wait_until([&] { return read_file(f.path("got")) == "hup\n"; }));
    }

    TEST_CASE("unknown services and empty lists are refused with named errors" *
              doctest::timeout(60))
    {
        Fixture f;
        PrivateBus bus(f.dir());
        write_config(f, bus.address());
        f.start_daemon();
        REQUIRE(wait_until([&] { return owns_name(bus); }));

        const auto unknown = dbus_send(bus, "GetService", {"string:nope"});
        CHECK(unknown.exit_code != 0);
        CHECK(has(unknown.err, "org.procsup.Error.UnknownService"));
        CHECK(has(unknown.err, "unknown service 'nope'"));

        // One unknown name and nothing is done, not even to the known ones.
        const auto mixed = dbus_send(bus, "Start", {"array:string:idle,nope"});
        CHECK(has(mixed.err, "org.procsup.Error.UnknownService"));
        CHECK(f.state_of("idle") == "stopped");

        const auto empty = run_command({"gdbus", "call", "--address", bus.address(), "--dest",
                                        "org.procsup.Supervisor1", "--object-path", object,
                                        "--method", interface + ".Stop", "[]"});
        CHECK(empty.exit_code != 0);
        CHECK(has(empty.err, "org.procsup.Error.BadRequest"));
    }

    TEST_CASE("a caller who is not root, the daemon's user or in socket_group is refused" *
              doctest::timeout(60))
    {
        Fixture f;
        PrivateBus bus(f.dir());
        write_config(f, bus.address(), "socket_group = \"users\"\n");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        REQUIRE(wait_until([&] { return owns_name(bus); }));
        const auto pid = f.pid_of("app");

        const auto stranger = dbus_send(bus, "Stop", {"array:string:app"}, true);
        CHECK(stranger.exit_code != 0);
        CHECK(has(stranger.err, "org.procsup.Error.PermissionDenied"));
        CHECK(f.pid_of("app") == pid);
        CHECK(has(call(bus, "ListServices", {}, true).err, "uid 65534 may not control"));
        CHECK(has(read_file(f.log_path()), "refused D-Bus call from uid 65534"));

        // The same user in socket_group may.
        const auto member = call(bus, "ListServices", {}, true, "users");
        CHECK(member.exit_code == 0);
        CHECK(has(member.out, "\"app\" \"running\""));
    }

    TEST_CASE("dbus = \"off\" opens no connection" * doctest::timeout(60))
    {
        Fixture f;
        PrivateBus bus(f.dir());
        write_config(f, "off");
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        const std::string daemon_pid = std::to_string(*f.daemon_pid());
        // busctl lists every connection with its PID: none may be the daemon's.
        const auto peers = busctl(bus, {"list", "--no-legend", "--unique"});
        CHECK(peers.exit_code == 0);
        std::istringstream lines(peers.out);
        std::string name;
        std::string peer_pid;
        std::string rest;
        while (lines >> name >> peer_pid && std::getline(lines, rest)) {
            CHECK(peer_pid != daemon_pid);
        }
        CHECK_FALSE(owns_name(bus));
        CHECK(has(read_file(f.log_path()), "no D-Bus API: dbus = \"off\""));
    }

    TEST_CASE("the daemon outlives its bus daemon and offers the API again when it is back" *
              doctest::timeout(60))
    {
        Fixture f;
        PrivateBus bus(f.dir());
        write_config(f, bus.address());
        f.start_daemon();
        REQUIRE(wait_until([&] { return f.state_of("app") == "running"; }));
        REQUIRE(wait_until([&] { return owns_name(bus); }));

        bus.kill();
        CHECK(wait_until(
            [&] { return has(read_file(f.log_path()), "D-Bus connection to 'unix:path="); }));
        const auto status = f.cli({"status", "app"});
        CHECK(status.exit_code == 0);
        CHECK(has(status.out, "running"));

        bus.start();
        CHECK(wait_until([&] { return call(bus, "ListServices").exit_code == 0; }, 15s));
        CHECK(f.cli({"status", "app"}).exit_code == 0);
    }

    TEST_CASE("the shipped system bus policy lets root own the name and keeps strangers out" *
              doctest::timeout(60))
    {
        Fixture f;
        // Included after the allow-all default, as system.d files come after system.conf.
        PrivateBus bus(f.dir(), "  <include>" PROCSUP_SOURCE_DIR
                                "/systemd/org.procsup.Supervisor1.conf</include>\n");
        write_config(f, bus.address());
        f.start_daemon();
        REQUIRE(wait_until([&] { return owns_name(bus); }));

        CHECK(call(bus, "ListServices").exit_code == 0);
        const auto stranger = dbus_send(bus, "ListServices", {}, true);
        CHECK(stranger.exit_code != 0);
        CHECK(has(stranger.err, "org.freedesktop.DBus.Error.AccessDenied"));
    }
}
