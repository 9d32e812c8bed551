#include "procsup/spawner.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "os_test_helpers.hpp"

using namespace procsup;
using namespace procsup::test;

namespace {

SpawnRequest request_for(std::vector<std::string> argv)
{
    SpawnRequest request;
    request.argv = std::move(argv);
    request.env = {"PATH=/usr/bin:/bin"};
    return request;
}

SpawnError expect_error(const SpawnRequest& request)
{
    auto result = spawn(request);
    if (auto* pid = std::get_if<pid_t>(&result)) {
        ChildGuard guard(*pid);
        FAIL("spawn succeeded but an error was expected");
    }
    return std::get<SpawnError>(result);
}

pid_t expect_pid(const SpawnRequest& request)
{
    auto result = spawn(request);
    if (auto* error = std::get_if<SpawnError>(&result)) {
        FAIL("spawn failed: " << error->to_string());
    }
    return std::get<pid_t>(result);
}

struct Captured {
    std::string output;
    std::optional<int> status;
};

// Runs a short command with stdout on a pipe and returns what it printed.
Captured run_and_capture(SpawnRequest request)
{
    Pipe out;
    request.stdout_fd = out.write_fd;
    ChildGuard child(expect_pid(request));
    out.close_write();
    Captured captured;
    captured.output = read_until_eof(out.read_fd);
    captured.status = child.wait();
    return captured;
}

std::set<std::string> lines_of(const std::string& text)
{
    std::set<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.insert(line);
    }
    return lines;
}

}  // namespace

TEST_SUITE("spawner")
{
    TEST_CASE("a missing binary fails at execve with an error that names it")
    {
        auto error = expect_error(request_for({"/nonexistent/procsup-missing"}));

        CHECK(error.error == ENOENT);
        CHECK(error.to_string() ==
              "execve '/nonexistent/procsup-missing': No such file or directory");

        // The failed child was reaped by spawn().
        int status = 0;
        CHECK(waitpid(-1, &status, WNOHANG) == -1);
        CHECK(errno == ECHILD);
    }

    TEST_CASE("a command that is not in PATH is reported before forking")
    {
        auto error = expect_error(request_for({"procsup-no-such-command"}));

        CHECK(error.to_string().starts_with("command 'procsup-no-such-command' not found in PATH"));
        CHECK(error.to_string().find("/usr/bin:/bin") != std::string::npos);
    }

    TEST_CASE("a file without execute permission fails with EACCES")
    {
        TempDir dir;
        auto script = dir / "script";
        write_file(script, "#!/bin/sh\nexit 0\n");
        chmod(script.c_str(), 0644);

        auto error = expect_error(request_for({script.string()}));

        CHECK(error.error == EACCES);
        CHECK(error.step == "execve '" + script.string() + "'");
    }

    TEST_CASE("a missing working directory fails at chdir")
    {
        auto request = request_for({"true"});
        request.directory = "/nonexistent/procsup-dir";

        auto error = expect_error(request);

        CHECK(error.to_string() == "chdir '/nonexistent/procsup-dir': No such file or directory");
    }

    TEST_CASE("an unknown user is reported before forking")
    {
        auto request = request_for({"true"});
        request.user = "procsup-no-such-user";

        CHECK(expect_error(request).to_string() == "user 'procsup-no-such-user' does not exist");
    }

    TEST_CASE("an unknown group is reported before forking")
    {
        auto request = request_for({"true"});
        request.group = "procsup-no-such-group";

        CHECK(expect_error(request).to_string() == "group 'procsup-no-such-group' does not exist");
    }

    TEST_CASE("the child leads its own session and process group")
    {
        ChildGuard child(expect_pid(request_for({"sleep", "30"})));

        CHECK(getsid(child.pid()) == child.pid());
        CHECK(getpgid(child.pid()) == child.pid());
    }

    TEST_CASE("without a new session the child still gets its own process group")
    {
        auto request = request_for({"sleep", "30"});
        request.new_session = false;

        ChildGuard child(expect_pid(request));

        CHECK(getsid(child.pid()) == getsid(0));
        CHECK(getpgid(child.pid()) == child.pid());
    }

    TEST_CASE("stdin is /dev/null")
    {
        auto captured = run_and_capture(request_for({"readlink", "/proc/self/fd/0"}));

        CHECK(captured.output == "/dev/null\n");
        CHECK(captured.status == 0);
    }

    TEST_CASE("descriptors the parent opened without CLOEXEC are not inherited")
    {
        int leaky = open("/dev/null", O_RDONLY);
        REQUIRE(leaky >= 0);

        auto captured = run_and_capture(request_for({"ls", "/proc/self/fd"}));
        close(leaky);

        // 3 is the directory ls itself opens.
        CHECK(lines_of(captured.output) == std::set<std::string>{"0", "1", "2", "3"});
    }

    TEST_CASE("the child starts with an empty signal mask and default dispositions")
    {
        sigset_t block;
        sigset_t saved_mask;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &block, &saved_mask);
        struct sigaction ignore {};
        struct sigaction saved_pipe {};
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ignore, &saved_pipe);

        auto result = spawn(request_for({"sleep", "30"}));

        pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
        sigaction(SIGPIPE, &saved_pipe, nullptr);
        REQUIRE(std::holds_alternative<pid_t>(result));
        ChildGuard child(std::get<pid_t>(result));
        CHECK(proc_status_field(child.pid(), "SigBlk") == "0000000000000000");
        CHECK(proc_status_field(child.pid(), "SigIgn") == "0000000000000000");
    }

    TEST_CASE("ignore_sighup starts the child with only SIGHUP ignored")
    {
        auto request = request_for({"sleep", "30"});
        request.ignore_sighup = true;

        ChildGuard child(expect_pid(request));

        CHECK(proc_status_field(child.pid(), "SigIgn") == "0000000000000001");
    }

    TEST_CASE("the environment is exactly the one given")
    {
        auto request = request_for({"env"});
        request.env = {"A=1", "B=two words"};

        auto captured = run_and_capture(request);

        CHECK(captured.output == "A=1\nB=two words\n");
    }

    TEST_CASE("the umask is applied")
    {
        auto request = request_for({"sh", "-c", "umask"});
        request.umask = 027;

        CHECK(run_and_capture(request).output == "0027\n");
    }

    TEST_CASE("the working directory is applied")
    {
        TempDir dir;
        auto request = request_for({"pwd"});
        request.directory = dir.path();

        CHECK(run_and_capture(request).output == dir.path().string() + "\n");
    }

    TEST_CASE("stdout and stderr go to the given descriptors")
    {
        Pipe out;
        Pipe err;
        auto request = request_for({"sh", "-c", "echo out; echo err >&2"});
        request.stdout_fd = out.write_fd;
        request.stderr_fd = err.write_fd;

        ChildGuard child(expect_pid(request));
        out.close_write();
        err.close_write();

        CHECK(read_until_eof(out.read_fd) == "out\n");
        CHECK(read_until_eof(err.read_fd) == "err\n");
        CHECK(child.wait() == 0);
    }

    TEST_CASE(
        "an output descriptor that already is stdout with CLOEXEC set still reaches the child")
    {
        // Runs in a forked helper because it rearranges the helper's own fd 1.
        Pipe out;
        pid_t helper = fork();
        REQUIRE(helper >= 0);
        if (helper == 0) {
            dup2(out.write_fd, 1);
            fcntl(1, F_SETFD, FD_CLOEXEC);
            auto request = request_for({"echo", "hi"});
            request.stdout_fd = 1;
            auto result = spawn(request);
            if (!std::holds_alternative<pid_t>(result)) {
                _exit(1);
            }
            _exit(wait_for_exit(std::get<pid_t>(result)) == 0 ? 0 : 2);
        }
        ChildGuard guard(helper);
        out.close_write();

        CHECK(read_until_eof(out.read_fd) == "hi\n");
        CHECK(guard.wait() == 0);
    }

    TEST_CASE("a user switch as root sets uid, gid and groups")
    {
        if (geteuid() != 0) {
            MESSAGE("skipped: needs root");
            return;
        }
        auto request = request_for({"sleep", "30"});
        request.user = "nobody";

        ChildGuard child(expect_pid(request));

        CHECK(proc_status_field(child.pid(), "Uid").starts_with("65534\t65534"));
        CHECK(proc_status_field(child.pid(), "Gid").starts_with("65534\t65534"));
    }

    TEST_CASE("switching user without root is refused before forking")
    {
        if (geteuid() != 0) {
            MESSAGE("skipped: needs root to become another user first");
            return;
        }
        // Runs in a forked helper that drops to 'nobody' and reports through a pipe.
        Pipe report;
        pid_t helper = fork();
        REQUIRE(helper >= 0);
        if (helper == 0) {
            if (setgroups(0, nullptr) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
                _exit(1);
            }
            auto request = request_for({"true"});
            request.user = "root";
            auto result = spawn(request);
            std::string text = std::holds_alternative<SpawnError>(result)
                                   ? std::get<SpawnError>(result).to_string()
                                   : "spawned";
            ssize_t n = write(report.write_fd, text.data(), text.size());
            _exit(n < 0 ? 1 : 0);
        }
        ChildGuard guard(helper);
        report.close_write();

        CHECK(read_until_eof(report.read_fd) ==
              "user 'root': switching user needs root (procsup runs as uid 65534)");
        CHECK(guard.wait() == 0);
    }

    TEST_CASE("find_in_path returns the first executable match")
    {
        TempDir dir;
        write_file(dir / "sh", "not executable");
        chmod((dir / "sh").c_str(), 0644);
        std::string path_list = "/nonexistent:" + dir.path().string() + ":/usr/bin:/bin";

        CHECK(find_in_path("sh", path_list) == std::filesystem::path("/usr/bin/sh"));
        CHECK_FALSE(find_in_path("procsup-no-such-command", path_list).has_value());
        CHECK_FALSE(find_in_path("", path_list).has_value());
    }

}  // TEST_SUITE
