#include "procsup/render.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "procsup/units.hpp"

namespace procsup {

namespace json = boost::json;

namespace {

std::string text_of(const json::object& o, std::string_view key)
{
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) {
        return "-";
    }
    if (v->is_string()) {
        return std::string(v->as_string());
    }
    if (v->is_int64()) {
        return std::to_string(v->as_int64());
    }
    return json::serialize(*v);
}

std::string_view state_color(std::string_view state)
{
    if (state == "running") {
        return "\033[32m";
    }
    if (state == "fatal" || state == "backoff") {
        return "\033[31m";
    }
    if (state == "starting" || state == "stopping") {
        return "\033[33m";
    }
    return "";
}

std::string uptime_of(const json::object& o)
{
    const json::value* v = o.if_contains("uptime_s");
    const json::value* pid = o.if_contains("pid");
    if (!v || !pid || pid->is_null()) {
        return "-";
    }
    const double seconds =
        v->is_double() ? v->as_double() : static_cast<double>(v->to_number<std::int64_t>());
    return format_uptime(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
}

// The message, then what a notify service last said in STATUS=.
std::string info_of(const json::object& o)
{
    std::string info = text_of(o, "message");
    if (info == "-") {
        info.clear();
    }
    std::string status = text_of(o, "notify_status");
    if (status.empty() || status == "-") {
        return info;
    }
    return info.empty() ? status : info + "; " + status;
}

}  // namespace

std::string render_last_exit(const json::value& last_exit)
{
    if (!last_exit.is_object()) {
        return "-";
    }
    const json::object& e = last_exit.as_object();
    if (const json::value* sig = e.if_contains("signal"); sig && sig->is_string()) {
        return "killed by " + std::string(sig->as_string());
    }
    if (const json::value* code = e.if_contains("code"); code && code->is_int64()) {
        return "exit " + std::to_string(code->as_int64());
    }
    return "-";
}

std::string render_status_table(const json::array& services, const RenderOptions& options)
{
    using Row = std::array<std::string, 8>;
    std::vector<Row> rows;
    rows.push_back({"NAME", "STATE", "PID", "UPTIME", "HEALTH", "RESTARTS", "LAST EXIT", "INFO"});
    for (const json::value& v : services) {
        if (!v.is_object()) {
            continue;
        }
        const json::object& o = v.as_object();
        const json::value* last = o.if_contains("last_exit");
        rows.push_back({text_of(o, "name"), text_of(o, "state"), text_of(o, "pid"), uptime_of(o),
                        text_of(o, "health"), text_of(o, "restarts"),
                        last ? render_last_exit(*last) : "-", info_of(o)});
    }
    std::array<std::size_t, 8> width{};
    for (const Row& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    }
    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            const std::string& cell = rows[r][i];
            const bool colored = options.color && r > 0 && i == 1 && !state_color(cell).empty();
            if (colored) {
                line += state_color(cell);
            }
            line += cell;
            if (colored) {
                line += "\033[0m";
            }
            if (i + 1 < rows[r].size()) {
                line.append(width[i] - cell.size() + 2, ' ');
            }
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out += line + "\n";
    }
    return out;
}

std::string render_action_results(const json::array& results)
{
    std::string out;
    for (const json::value& v : results) {
        if (!v.is_object()) {
            continue;
        }
        const json::object& r = v.as_object();
        std::string line = text_of(r, "name") + ": " + text_of(r, "message");
        if (const json::value* st = r.if_contains("status"); st && st->is_object()) {
            const json::value* pid = st->as_object().if_contains("pid");
            if (pid && pid->is_int64()) {
                line += fmt::format(" (pid {})", pid->as_int64());
            }
        }
        out += line + "\n";
        if (const json::value* tail = r.if_contains("output_tail"); tail && tail->is_array()) {
            if (!tail->as_array().empty()) {
                out += "  last output:\n";
            }
            for (const json::value& l : tail->as_array()) {
                if (l.is_string()) {
                    out += "  | " + std::string(l.as_string()) + "\n";
                }
            }
        }
    }
    return out;
}

}  // namespace procsup
