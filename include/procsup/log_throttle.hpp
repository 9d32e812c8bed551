// Keeps a flapping service from flooding the log: at most `burst` lifecycle lines per window,
// then silence, then one summary line with the number of lines left out. Pure: the caller
// passes the time.
#pragma once

#include <chrono>
#include <optional>

namespace procsup {

class LogThrottle {
public:
    using Clock = std::chrono::steady_clock;

    LogThrottle(int burst, Clock::duration window) : burst_(burst), window_(window) {}

    struct Verdict {
        bool log = false;                  // log this line
        std::optional<int> suppressed;     // first log the number of lines left out
    };

    Verdict check(Clock::time_point now)
    {
        Verdict verdict;
        if (now - window_start_ >= window_) {
            if (suppressed_ > 0) {
                verdict.suppressed = suppressed_;
            }
            window_start_ = now;
            lines_ = 0;
            suppressed_ = 0;
        }
        if (lines_ < burst_) {
            ++lines_;
            verdict.log = true;
        } else {
            ++suppressed_;
        }
        return verdict;
    }

private:
    int burst_;
    Clock::duration window_;
    Clock::time_point window_start_{};
    int lines_ = 0;
    int suppressed_ = 0;
};

}  // namespace procsup
