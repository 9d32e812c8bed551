#include "procsup/logs_command.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <boost/json.hpp>

#include "procsup/control_client.hpp"
#include "procsup/exit_codes.hpp"
#include "procsup/protocol.hpp"

namespace procsup {

namespace json = boost::json;

namespace {


// Nothing is buffered in this process (stdout is written with write(2)), so ending at once
// loses nothing: interrupting a follow is its normal end.
extern "C" void end_follow(int)
{
    _exit(exit_ok);
}

void end_quietly_on_interrupt()
{
    exit_zero_on_interrupt();
    ::signal(SIGPIPE, SIG_IGN);  // A closed stdout shows up as EPIPE from write(2).
}

// False when stdout is gone (EPIPE): the reader has seen enough.
bool write_out(std::string_view text)
{
    while (!text.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool print_lines(const json::object& message, bool as_json)
{
    if (as_json) {
        return write_out(json::serialize(message) + "\n");
    }
    const json::value* lines = message.if_contains("lines");
    if (!lines || !lines->is_array()) {
        return true;
    }
    std::string text;
    for (const json::value& line : lines->as_array()) {
        if (line.is_string()) {
            text.append(line.as_string().data(), line.as_string().size());
            text.push_back('\n');
        }
    }
    return write_out(text);
}

// The exit status for an error reply, nullopt for a success.
std::optional<int> report_error(const json::object& reply)
{
    const json::value* err = reply.if_contains("error");
    if (!err || !err->is_object()) {
        return std::nullopt;
    }
    const json::value* message = err->as_object().if_contains("message");
    std::fprintf(stderr, "procsup: %s\n",
                 message && message->is_string() ? message->as_string().c_str() : "error");
    const json::value* code = err->as_object().if_contains("code");
    const std::string_view code_text =
        code && code->is_string() ? std::string_view(code->as_string()) : std::string_view();
    if (code_text == protocol::error_unknown_service) {
        return exit_unknown_service;
    }
    return code_text == protocol::error_bad_request ? exit_usage : exit_failed;
}

json::object make_request(const LogsOptions& options)
{
    return {{"version", protocol::version},
            {"command", "logs"},
            {"services", json::array{json::value(options.service)}},
            {"stream", options.stderr_stream ? "stderr" : "stdout"},
            {"lines", options.lines},
            {"follow", options.follow}};
}

}  // namespace

void exit_zero_on_interrupt()
{
    struct sigaction action {};
    action.sa_handler = end_follow;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

int run_logs_command(const std::filesystem::path& socket, const LogsOptions& options)
{
    end_quietly_on_interrupt();
    ControlClient client;
    std::string error;
    if (!client.connect(socket, error)) {
        std::fprintf(stderr,
                     "procsup: %s\n(is the daemon running? start it with "
                     "'procsup daemon')\n",
                     error.c_str());
        return exit_unreachable;
    }
    auto reply = client.call(make_request(options), error);
    if (!reply) {
        std::fprintf(stderr, "procsup: %s\n", error.c_str());
        return exit_unreachable;
    }
    if (const auto status = report_error(*reply)) {
        return *status;
    }
    if (!print_lines(*reply, options.json) || !options.follow) {
        return exit_ok;
    }
    while ((reply = client.read_reply(error))) {
        if (!print_lines(*reply, options.json)) {
            return exit_ok;
        }
    }
    std::fprintf(stderr, "procsup: stopped following: %s\n", error.c_str());
    return exit_failed;
}

}  // namespace procsup
