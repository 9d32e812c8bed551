// HealthTracker: Docker's HEALTHCHECK rules as a pure function of results and time points.
#include <algorithm>

#include "procsup/health_check.hpp"

namespace procsup {

void HealthTracker::reset(TimePoint started)
{
    state_ = HealthState::starting;
    started_ = started;
    failures_ = 0;
}

void HealthTracker::clear()
{
    state_ = HealthState::none;
    failures_ = 0;
}

HealthState HealthTracker::record(bool passed, TimePoint now)
{
    if (state_ == HealthState::none) {
        return state_;  // No process: a late result of a check of the previous one.
    }
    if (passed) {
        failures_ = 0;
        state_ = HealthState::healthy;
        return state_;
    }
    // As in Docker, only a service that has never passed is in its start period; the
    // period ends exactly at started + start_period.
    const bool in_start_period =
        state_ == HealthState::starting && now - started_ < config_.start_period;
    if (in_start_period) {
        return state_;
    }
    ++failures_;
    // A config with retries < 1 is rejected at load; one failure is the safe reading anyway.
    if (failures_ >= std::max(config_.retries, 1)) {
        state_ = HealthState::unhealthy;
    }
    return state_;
}

}  // namespace procsup
