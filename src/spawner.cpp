#include "procsup/spawner.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <system_error>
#include <utility>

namespace procsup {

namespace fs = std::filesystem;

namespace {

constexpr const char* default_path = "/usr/local/bin:/usr/bin:/bin";

// The steps of the child between fork() and execve() that can fail. The child reports the
// index only; the parent turns it into text, because the child must not allocate.
enum class ChildStep : int {
    open_null,
    move_fd,
    dup2_stdin,
    dup2_stdout,
    dup2_stderr,
    setsid,
    setpgid,
    setgroups,
    setgid,
    setuid,
    chdir,
    close_range,
    unblock_signals,
    execve,
};

// What a failing child writes into the error pipe: one record, smaller than PIPE_BUF, so the
// write is atomic.
struct ChildFailure {
    int step = 0;
    int error = 0;
};

struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    bool set_uid = false;  // false: only the group changes (group without user)
};

// Everything the child needs, built before fork() so the child never allocates.
struct ChildPlan {
    std::string program;  // resolved argv[0]
    std::vector<char*> argv;
    std::vector<char*> envp;
    const char* directory = nullptr;
    std::optional<mode_t> umask;
    std::optional<Credentials> credentials;
    int stdout_fd = -1;
    int stderr_fd = -1;
    bool ignore_sighup = false;
    bool new_session = true;
};

SpawnError plain_error(std::string text)
{
    return SpawnError{std::move(text), 0, {}};
}

template <typename Id>
std::optional<Id> parse_numeric_id(const std::string& text)
{
    unsigned long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value >= static_cast<Id>(-1)) {
        return std::nullopt;
    }
    return static_cast<Id>(value);
}

std::size_t lookup_buffer_size()
{
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    return size > 0 ? static_cast<std::size_t>(size) : 16384;
}

struct UserEntry {
    uid_t uid = 0;
    std::optional<gid_t> gid;  // empty for a numeric uid without a passwd entry
    std::string name;
};

// Looks up a user by name, or by number (which need not have an entry).
std::variant<UserEntry, SpawnError> lookup_user(const std::string& user)
{
    auto numeric = parse_numeric_id<uid_t>(user);
    std::vector<char> buffer(lookup_buffer_size());
    passwd entry{};
    passwd* found = nullptr;
    int rc = 0;
    while (true) {
        rc = numeric ? getpwuid_r(*numeric, &entry, buffer.data(), buffer.size(), &found)
                     : getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc != ERANGE) {
            break;
        }
        buffer.resize(buffer.size() * 2);
    }
    if (rc != 0) {
        return SpawnError{"look up user '" + user + "'", rc, {}};
    }
    if (found == nullptr) {
        if (numeric) {
            return UserEntry{*numeric, std::nullopt, {}};
        }
        return plain_error("user '" + user + "' does not exist");
    }
    return UserEntry{found->pw_uid, found->pw_gid, found->pw_name};
}

std::variant<gid_t, SpawnError> lookup_group(const std::string& group)
{
    if (auto numeric = parse_numeric_id<gid_t>(group)) {
        return *numeric;
    }
    std::vector<char> buffer(lookup_buffer_size());
    struct group entry {};
    struct group* found = nullptr;
    int rc = 0;
    while ((rc = getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
           ERANGE) {
        buffer.resize(buffer.size() * 2);
    }
    if (rc != 0) {
        return SpawnError{"look up group '" + group + "'", rc, {}};
    }
    if (found == nullptr) {
        return plain_error("group '" + group + "' does not exist");
    }
    return found->gr_gid;
}

std::vector<gid_t> supplementary_groups(const std::string& user_name, gid_t gid)
{
    if (user_name.empty()) {
        return {gid};
    }
    int count = 32;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    while (getgrouplist(user_name.c_str(), gid, groups.data(), &count) < 0) {
        // glibc sets `count` to the number needed.
        groups.resize(static_cast<std::size_t>(count));
    }
    groups.resize(static_cast<std::size_t>(count));
    return groups;
}

// A process that is not root may only "switch" to the identity it already has; then
// nothing needs to change in the child.
std::optional<SpawnError> check_unprivileged(const SpawnRequest& request,
                                             const Credentials& credentials)
{
    const std::string self = " (procsup runs as uid " + std::to_string(geteuid()) + ")";
    if (credentials.set_uid && credentials.uid != geteuid()) {
        return plain_error("user '" + *request.user + "': switching user needs root" + self);
    }
    if (credentials.gid != getegid()) {
        std::string what =
            request.group ? "group '" + *request.group + "'" : "user '" + *request.user + "'";
        return plain_error(what + ": switching group needs root" + self);
    }
    return std::nullopt;
}

// Resolves user and group of the request. Empty when the child keeps procsup's identity.
std::variant<std::optional<Credentials>, SpawnError> resolve_credentials(
    const SpawnRequest& request)
{
    if (!request.user && !request.group) {
        return std::optional<Credentials>{};
    }
    Credentials credentials;
    UserEntry user;
    if (request.user) {
        auto found = lookup_user(*request.user);
        if (auto* error = std::get_if<SpawnError>(&found)) {
            return std::move(*error);
        }
        user = std::get<UserEntry>(found);
        credentials.uid = user.uid;
        credentials.set_uid = true;
    }
    if (request.group) {
        auto found = lookup_group(*request.group);
        if (auto* error = std::get_if<SpawnError>(&found)) {
            return std::move(*error);
        }
        credentials.gid = std::get<gid_t>(found);
    } else if (user.gid) {
        credentials.gid = *user.gid;
    } else {
        return plain_error("user '" + *request.user +
                           "' has no entry in the user database;"
                           " give a group as well");
    }
    credentials.groups = supplementary_groups(user.name, credentials.gid);

    if (geteuid() != 0) {
        if (auto error = check_unprivileged(request, credentials)) {
            return std::move(*error);
        }
        return std::optional<Credentials>{};
    }
    return std::optional<Credentials>{std::move(credentials)};
}

std::string env_path(const std::vector<std::string>& env)
{
    for (const auto& entry : env) {
        if (entry.starts_with("PATH=")) {
            return entry.substr(5);
        }
    }
    return default_path;
}

std::variant<std::string, SpawnError> resolve_program(const SpawnRequest& request)
{
    if (request.argv.empty() || request.argv[0].empty()) {
        return plain_error("command is empty");
    }
    const std::string& program = request.argv[0];
    if (program.find('/') != std::string::npos) {
        // execve() reports a missing or unusable file with the right errno.
        return program;
    }
    std::string path = env_path(request.env);
    if (auto found = find_in_path(program, path)) {
        return found->string();
    }
    return SpawnError{"command '" + program + "' not found in PATH", 0, "searched '" + path + "'"};
}

// execve() takes non-const pointers but does not write through them.
std::vector<char*> to_pointers(const std::vector<std::string>& strings)
{
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const auto& s : strings) {
        pointers.push_back(const_cast<char*>(s.c_str()));
    }
    pointers.push_back(nullptr);
    return pointers;
}

std::variant<ChildPlan, SpawnError> make_plan(const SpawnRequest& request)
{
    ChildPlan plan;
    auto program = resolve_program(request);
    if (auto* error = std::get_if<SpawnError>(&program)) {
        return std::move(*error);
    }
    plan.program = std::get<std::string>(std::move(program));

    auto credentials = resolve_credentials(request);
    if (auto* error = std::get_if<SpawnError>(&credentials)) {
        return std::move(*error);
    }
    plan.credentials = std::get<std::optional<Credentials>>(std::move(credentials));

    plan.argv = to_pointers(request.argv);
    plan.envp = to_pointers(request.env);
    plan.directory = request.directory ? request.directory->c_str() : nullptr;
    if (request.umask) {
        plan.umask = static_cast<mode_t>(*request.umask & 0777);
    }
    plan.stdout_fd = request.stdout_fd;
    plan.stderr_fd = request.stderr_fd;
    plan.ignore_sighup = request.ignore_sighup;
    plan.new_session = request.new_session;
    return plan;
}

std::string describe_step(ChildStep step, const SpawnRequest& request, const ChildPlan& plan)
{
    const Credentials none;
    const Credentials& ids = plan.credentials ? *plan.credentials : none;
    switch (step) {
        case ChildStep::open_null:
            return "open '/dev/null'";
        case ChildStep::move_fd:
            return "move a standard stream descriptor above 2";
        case ChildStep::dup2_stdin:
            return "dup2 onto stdin";
        case ChildStep::dup2_stdout:
            return "dup2 onto stdout";
        case ChildStep::dup2_stderr:
            return "dup2 onto stderr";
        case ChildStep::setsid:
            return "setsid";
        case ChildStep::setpgid:
            return "setpgid";
        case ChildStep::setgroups:
            return "setgroups (" + std::to_string(ids.groups.size()) + " groups)";
        case ChildStep::setgid:
            return "setgid " + std::to_string(ids.gid);
        case ChildStep::setuid:
            return "setuid " + std::to_string(ids.uid);
        case ChildStep::chdir:
            return "chdir '" + (request.directory ? request.directory->string() : "") + "'";
        case ChildStep::close_range:
            return "close_range";
        case ChildStep::unblock_signals:
            return "unblock signals";
        case ChildStep::execve:
            return "execve '" + plan.program + "'";
    }
    return "step " + std::to_string(static_cast<int>(step));
}

// --- Child side: only async-signal-safe calls from here to execve(), no allocation. ---

[[noreturn]] void fail_in_child(int error_fd, ChildStep step)
{
    ChildFailure record{static_cast<int>(step), errno};
    // Nothing to do if this write fails: the parent then sees EOF and a quick exit 127.
    ssize_t written = write(error_fd, &record, sizeof record);
    (void)written;
    _exit(127);
}

void reset_signal_dispositions(bool ignore_sighup)
{
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) {
            continue;
        }
        // glibc refuses its internal signals (32, 33) with EINVAL; they need no reset.
        sigaction(sig, &action, nullptr);
    }
    if (ignore_sighup) {
        action.sa_handler = SIG_IGN;
        sigaction(SIGHUP, &action, nullptr);
    }
}

// Puts /dev/null or the given descriptors on 0, 1 and 2. Sources below 3 are first copied
// above 2, so that swapped or shared sources work and dup2(fd, fd) never leaves FD_CLOEXEC
// set on a standard stream (dup2 onto a different number clears it).
void setup_stdio(const ChildPlan& plan, int error_fd)
{
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        fail_in_child(error_fd, ChildStep::open_null);
    }
    int sources[3] = {
        null_fd,
        plan.stdout_fd >= 0 ? plan.stdout_fd : null_fd,
        plan.stderr_fd >= 0 ? plan.stderr_fd : null_fd,
    };
    for (int& source : sources) {
        if (source < 3 && (source = fcntl(source, F_DUPFD_CLOEXEC, 3)) < 0) {
            fail_in_child(error_fd, ChildStep::move_fd);
        }
    }
    const ChildStep steps[3] = {ChildStep::dup2_stdin, ChildStep::dup2_stdout,
                                ChildStep::dup2_stderr};
    for (int target = 0; target < 3; ++target) {
        if (dup2(sources[target], target) < 0) {
            fail_in_child(error_fd, steps[target]);
        }
    }
}

// Raw system calls, not the glibc wrappers: in a vfork() child the wrappers would try to
// apply the change to every thread of the parent too (glibc's setxid broadcast), which
// shares our memory but is not this process.
void switch_credentials(const Credentials& ids, int error_fd)
{
    if (syscall(SYS_setgroups, ids.groups.size(), ids.groups.data()) < 0) {
        fail_in_child(error_fd, ChildStep::setgroups);
    }
    if (syscall(SYS_setgid, ids.gid) < 0) {
        fail_in_child(error_fd, ChildStep::setgid);
    }
    if (ids.set_uid && syscall(SYS_setuid, ids.uid) < 0) {
        fail_in_child(error_fd, ChildStep::setuid);
    }
}

[[noreturn]] void run_child(const ChildPlan& plan, int error_fd)
{
    reset_signal_dispositions(plan.ignore_sighup);
    setup_stdio(plan, error_fd);

    if (plan.new_session ? setsid() < 0 : setpgid(0, 0) < 0) {
        fail_in_child(error_fd, plan.new_session ? ChildStep::setsid : ChildStep::setpgid);
    }
    if (plan.umask) {
        umask(*plan.umask);
    }
    if (plan.credentials) {
        switch_credentials(*plan.credentials, error_fd);
    }
    // After the switch, so the directory is checked with the service's permissions.
    if (plan.directory != nullptr && chdir(plan.directory) < 0) {
        fail_in_child(error_fd, ChildStep::chdir);
    }
    // Mark instead of close, so the error pipe stays usable until execve() succeeds.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        fail_in_child(error_fd, ChildStep::close_range);
    }

    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, nullptr) < 0) {
        fail_in_child(error_fd, ChildStep::unblock_signals);
    }
    execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
    fail_in_child(error_fd, ChildStep::execve);
}

// --- Parent side. ---

// Reads the error pipe until EOF (execve succeeded or the child exited).
std::optional<ChildFailure> read_child_failure(int fd)
{
    ChildFailure record;
    std::size_t got = 0;
    while (got < sizeof record) {
        ssize_t n = read(fd, reinterpret_cast<char*>(&record) + got, sizeof record - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    if (got < sizeof record) {
        return std::nullopt;
    }
    return record;
}

void reap_failed_child(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

// The write end must not be 0, 1 or 2, or the child's dup2() onto stdio would replace it.
// That happens only when procsup was started with standard streams closed.
std::optional<SpawnError> make_error_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0) {
        return SpawnError{"pipe2", errno, {}};
    }
    if (fds[1] < 3) {
        int moved = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
        int saved = errno;
        close(fds[1]);
        if (moved < 0) {
            close(fds[0]);
            return SpawnError{"fcntl F_DUPFD_CLOEXEC", saved, {}};
        }
        fds[1] = moved;
    }
    return std::nullopt;
}

// Starts the child with every signal blocked, so no handler of procsup runs in the child
// before the child has reset the dispositions.
//
// vfork(), not fork(): the child borrows the daemon's memory until execve() instead of
// copying its page tables, which made each spawn cost milliseconds (bench/, cold start and
// crash loop). That is safe here because the child only makes system calls on data built
// before (ChildPlan), never allocates, never returns from this function, and ends in
// execve() or _exit(); the parent is suspended until then.
pid_t fork_child(const ChildPlan& plan, int error_fd)
{
    sigset_t all;
    sigset_t saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = vfork();
    if (pid == 0) {
        run_child(plan, error_fd);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    errno = fork_errno;
    return pid;
}

}  // namespace

std::string SpawnError::to_string() const
{
    if (error != 0) {
        return step + ": " + std::generic_category().message(error);
    }
    if (!detail.empty()) {
        return step + ": " + detail;
    }
    return step;
}

std::optional<fs::path> find_in_path(const std::string& program, const std::string& path_list)
{
    auto is_executable_file = [](const fs::path& candidate) {
        struct stat st {};
        return stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
               access(candidate.c_str(), X_OK) == 0;
    };
    auto absolute = [](const fs::path& candidate) {
        std::error_code ec;
        fs::path result = fs::absolute(candidate, ec);
        return ec ? candidate : result;
    };
    if (program.empty()) {
        return std::nullopt;
    }
    if (program.find('/') != std::string::npos) {
        return is_executable_file(program) ? std::optional{absolute(program)} : std::nullopt;
    }
    std::size_t begin = 0;
    while (begin <= path_list.size()) {
        std::size_t end = path_list.find(':', begin);
        if (end == std::string::npos) {
            end = path_list.size();
        }
        // An empty entry means the current directory, as for execvp().
        std::string dir = path_list.substr(begin, end - begin);
        fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        if (is_executable_file(candidate)) {
            return absolute(candidate);
        }
        begin = end + 1;
    }
    return std::nullopt;
}

SpawnResult spawn(const SpawnRequest& request)
{
    auto planned = make_plan(request);
    if (auto* error = std::get_if<SpawnError>(&planned)) {
        return std::move(*error);
    }
    const ChildPlan& plan = std::get<ChildPlan>(planned);

    int error_pipe[2];
    if (auto error = make_error_pipe(error_pipe)) {
        return std::move(*error);
    }
    pid_t pid = fork_child(plan, error_pipe[1]);
    int fork_errno = errno;
    close(error_pipe[1]);
    if (pid < 0) {
        close(error_pipe[0]);
        return SpawnError{"fork", fork_errno, {}};
    }

    auto failure = read_child_failure(error_pipe[0]);
    close(error_pipe[0]);
    if (!failure) {
        return pid;
    }
    reap_failed_child(pid);
    return SpawnError{
        describe_step(static_cast<ChildStep>(failure->step), request, plan), failure->error, {}};
}

}  // namespace procsup
