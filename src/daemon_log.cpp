#include "procsup/daemon_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace procsup {

namespace {

// spdlog 1.10's basic_file_sink cannot reopen its file, so logrotate's `create` mode would
// leave the daemon writing into the renamed file. This sink owns the file_helper and reopens
// it under the sink's mutex.
class ReopenableFileSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit ReopenableFileSink(const std::string& path) : file_(cloexec_handlers())
    {
        file_.open(path, false);
    }

    void reopen()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        file_.reopen(false);
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        file_.write(formatted);
        file_.flush();  // One line at a time: a crash must not eat the last lines.
    }

    void flush_() override { file_.flush(); }

private:
    static spdlog::file_event_handlers cloexec_handlers()
    {
        spdlog::file_event_handlers handlers;
        // Debian's spdlog opens without O_CLOEXEC; keep the log out of the services.
        handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) {
            ::fcntl(::fileno(f), F_SETFD, FD_CLOEXEC);
        };
        return handlers;
    }

    spdlog::details::file_helper file_;
};

std::shared_ptr<ReopenableFileSink> file_sink;

}  // namespace

bool setup_daemon_log(const std::string& target, const std::string& level, std::string& error)
{
    std::shared_ptr<spdlog::logger> logger;
    if (target != "-") {
        try {
            file_sink = std::make_shared<ReopenableFileSink>(target);
            logger = std::make_shared<spdlog::logger>("procsup", file_sink);
        } catch (const spdlog::spdlog_ex& e) {
            error = fmt::format("cannot open log file '{}': {}", target, e.what());
        }
    }
    if (!logger) {
        logger = std::make_shared<spdlog::logger>(
            "procsup", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    }
    // journald stamps each line itself; a second timestamp is noise there.
    const bool journal = std::getenv("JOURNAL_STREAM") != nullptr && target == "-";
    logger->set_pattern(journal ? "%l: %v" : "%Y-%m-%d %H:%M:%S.%e %l: %v");
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    return error.empty();
}

void reopen_daemon_log()
{
    if (file_sink) {
        file_sink->reopen();
    }
}

}  // namespace procsup
