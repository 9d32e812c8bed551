// The control protocol: one JSON object per line each way, each with "version". Shared by
// the control server and the client so both agree on names and shapes. See man/procsup.1,
// section "CONTROL PROTOCOL", and man/status.schema.json.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "procsup/service_status.hpp"

namespace procsup::protocol {

inline constexpr int version = 1;
inline constexpr int status_schema_version = 1;
inline constexpr std::size_t max_request_bytes = 64 * 1024;

// Machine-readable error codes carried in {"ok": false, "error": {"code": ..., "message": ...}}.
inline constexpr std::string_view error_bad_request = "bad_request";
inline constexpr std::string_view error_unknown_service = "unknown_service";
inline constexpr std::string_view error_permission_denied = "permission_denied";
inline constexpr std::string_view error_failed = "failed";
inline constexpr std::string_view error_shutting_down = "shutting_down";

boost::json::object to_json(const ServiceStatus& status);
std::string format_rfc3339(std::chrono::system_clock::time_point t);

boost::json::object make_error(std::string_view code, std::string_view message);
boost::json::object make_ok();

}  // namespace procsup::protocol
