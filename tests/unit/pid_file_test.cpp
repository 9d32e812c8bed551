#include "procsup/pid_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "os_test_helpers.hpp"
#include "procsup/spawner.hpp"

using namespace procsup;
using namespace procsup::test;

namespace {

std::vector<std::string> names_in(const fs::path& dir)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    return names;
}

// A PID that no process has: a child that exited and was reaped.
pid_t dead_pid()
{
    pid_t pid = fork();
    if (pid == 0) {
        _exit(0);
    }
    wait_for_exit(pid);
    return pid;
}

pid_t spawn_sleep()
{
    SpawnRequest request;
    request.argv = {"sleep", "30"};
    request.env = {"PATH=/usr/bin:/bin"};
    auto result = spawn(request);
    REQUIRE(std::holds_alternative<pid_t>(result));
    return std::get<pid_t>(result);
}

void set_mtime_hours_ago(const fs::path& path, int hours)
{
    timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= hours * 3600;
    times[1] = times[0];
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

ino_t inode_of(const fs::path& path)
{
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_ino;
}

}  // namespace

TEST_SUITE("pid_file")
{
    TEST_CASE("write_pid_file writes the PID and a newline and leaves no temp file")
    {
        TempDir dir;
        auto path = dir / "app.pid";

        CHECK_FALSE(write_pid_file(path, 4242));

        CHECK(read_file(path) == "4242\n");
        CHECK(names_in(dir.path()) == std::vector<std::string>{"app.pid"});
    }

    TEST_CASE("write_pid_file replaces an existing file")
    {
        TempDir dir;
        auto path = dir / "app.pid";
        write_file(path, "1\n");

        CHECK_FALSE(write_pid_file(path, 4242));

        CHECK(read_file(path) == "4242\n");
    }

    TEST_CASE("write_pid_file into a missing directory fails and creates nothing")
    {
        TempDir dir;

        auto ec = write_pid_file(dir / "missing" / "app.pid", 4242);

        CHECK(ec == std::errc::no_such_file_or_directory);
        CHECK(names_in(dir.path()).empty());
    }

    TEST_CASE("remove_pid_file removes only a file that names the given PID")
    {
        TempDir dir;
        auto path = dir / "app.pid";
        write_file(path, "4242\n");

        remove_pid_file(path, 4243);
        CHECK(fs::exists(path));

        remove_pid_file(path, 4242);
        CHECK_FALSE(fs::exists(path));
    }

    TEST_CASE("inspect_pid_file tells absent, invalid, dead and live files apart")
    {
        TempDir dir;
        auto path = dir / "app.pid";

        CHECK(inspect_pid_file(path).kind == PidFileState::Kind::absent);

        for (const char* content : {"", "abc\n", "12x\n", "0\n", "-5\n", "99999999999\n"}) {
            write_file(path, content);
            CHECK_MESSAGE(inspect_pid_file(path).kind == PidFileState::Kind::invalid, content);
        }

        pid_t dead = dead_pid();
        write_file(path, std::to_string(dead) + "\n");
        auto state = inspect_pid_file(path);
        CHECK(state.kind == PidFileState::Kind::dead);
        CHECK(state.pid == dead);

        write_file(path, std::to_string(getpid()));
        CHECK(inspect_pid_file(path).kind == PidFileState::Kind::live);
    }

    TEST_CASE("a PID whose process started after the file was written counts as reused")
    {
        TempDir dir;
        auto path = dir / "app.pid";
        ChildGuard child(spawn_sleep());
        write_file(path, std::to_string(child.pid()) + "\n");

        CHECK(inspect_pid_file(path).kind == PidFileState::Kind::live);

        set_mtime_hours_ago(path, 1);
        auto state = inspect_pid_file(path);
        CHECK(state.kind == PidFileState::Kind::reused);
        CHECK(state.pid == child.pid());
    }

    TEST_CASE("process_start_ticks reads a live process and fails for a dead one")
    {
        CHECK(process_start_ticks(getpid()).has_value());
        CHECK_FALSE(process_start_ticks(dead_pid()).has_value());
    }

    TEST_CASE("the daemon PID file holds this process's PID until release removes it")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;

        REQUIRE(pid_file.acquire(path, error, warning));
        CHECK(pid_file.is_held());
        CHECK(warning.empty());
        CHECK(read_file(path) == std::to_string(getpid()) + "\n");
        CHECK(names_in(dir.path()) == std::vector<std::string>{"procsup.pid"});

        pid_file.release();
        CHECK_FALSE(pid_file.is_held());
        CHECK_FALSE(fs::exists(path));
    }

    TEST_CASE("a second daemon fails to acquire the PID file and names the first")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;
        REQUIRE(pid_file.acquire(path, error, warning));
        ino_t inode = inode_of(path);

        // The second daemon is a forked child; it reports its error through a pipe.
        Pipe report;
        pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            DaemonPidFile second;
            std::string child_error;
            std::string child_warning;
            bool acquired = second.acquire(path, child_error, child_warning);
            ssize_t n = write(report.write_fd, child_error.data(), child_error.size());
            _exit(acquired || n < 0 ? 1 : 0);
        }
        ChildGuard guard(child);
        report.close_write();

        std::string expected = "procsup is already running as PID " + std::to_string(getpid()) +
                               " (PID file '" + path.string() + "' is locked)";
        CHECK(read_until_eof(report.read_fd) == expected);
        CHECK(guard.wait() == 0);
        CHECK(read_file(path) == std::to_string(getpid()) + "\n");
        CHECK(inode_of(path) == inode);
    }

    TEST_CASE("a stale daemon PID file naming a dead process is replaced with a warning")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        pid_t dead = dead_pid();
        write_file(path, std::to_string(dead) + "\n");
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;

        REQUIRE(pid_file.acquire(path, error, warning));

        CHECK(warning == "replacing stale PID file '" + path.string() + "' (PID " +
                             std::to_string(dead) + " is not running)");
        CHECK(read_file(path) == std::to_string(getpid()) + "\n");
    }

    TEST_CASE("a stale daemon PID file naming a reused PID is replaced with a warning")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        ChildGuard child(spawn_sleep());
        write_file(path, std::to_string(child.pid()) + "\n");
        set_mtime_hours_ago(path, 1);
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;

        REQUIRE(pid_file.acquire(path, error, warning));

        CHECK(warning == "replacing stale PID file '" + path.string() + "' (PID " +
                             std::to_string(child.pid()) + " belongs to another program)");
    }

    TEST_CASE("release keeps a daemon PID file that now names another process")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;
        REQUIRE(pid_file.acquire(path, error, warning));

        REQUIRE_FALSE(write_pid_file(path, 4242));
        pid_file.release();

        CHECK(read_file(path) == "4242\n");
    }

    TEST_CASE("a moved daemon PID file keeps its lock and is released once")
    {
        TempDir dir;
        auto path = dir / "procsup.pid";
        DaemonPidFile first;
        std::string error;
        std::string warning;
        REQUIRE(first.acquire(path, error, warning));

        DaemonPidFile second(std::move(first));
        CHECK_FALSE(first.is_held());
        CHECK(second.is_held());

        second.release();
        CHECK_FALSE(fs::exists(path));
    }

    TEST_CASE("acquiring a PID file in a missing directory fails naming the file")
    {
        TempDir dir;
        auto path = dir / "missing" / "procsup.pid";
        DaemonPidFile pid_file;
        std::string error;
        std::string warning;

        CHECK_FALSE(pid_file.acquire(path, error, warning));
        CHECK(error == "cannot open PID file '" + path.string() + "': No such file or directory");
    }
}
