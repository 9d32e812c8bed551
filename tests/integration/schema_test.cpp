// End-to-end: the real `status --json` output, in every state a script meets, validates against
// man/status.schema.json, the schema promised in procsup(1). The validator is the Python
// jsonschema module (Debian: python3-jsonschema), run by tests/fixtures/validate_json_schema.py.
#include <set>
#include <string>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace procsup::test;
namespace json = boost::json;

namespace {

const std::string source_dir = PROCSUP_SOURCE_DIR;
const std::string schema = source_dir + "/man/status.schema.json";

// Exit status of the validator for `document`: 0 valid, 1 invalid; `errors` gets its messages.
int validate(Fixture& f, const std::string& document, std::string& errors)
{
    const auto file = f.path("document.json");
    write_file(file, document);
    const CommandResult r = run_command(
        {"/usr/bin/python3", source_dir + "/tests/fixtures/validate_json_schema.py", schema,
         file.string()});
    errors = r.err;
    REQUIRE_MESSAGE(r.exit_code != 3, "python3-jsonschema is missing: ", r.err);
    return r.exit_code;
}

void check_valid(Fixture& f, const std::string& document)
{
    std::string errors;
    const int rc = validate(f, document, errors);
    CHECK_MESSAGE(rc == 0, "document: ", document, "\nvalidator: ", errors);
}

// The states and last exits the test set out to cover, so that a service that never reaches
// its state makes the test fail rather than validate less than it claims.
bool covers_every_case(const json::value& status)
{
    std::set<std::string> seen;
    for (const json::value& s : status.at("services").as_array()) {
        const json::object& o = s.as_object();
        seen.insert(std::string(o.at("name").as_string()) + "=" +
                    std::string(o.at("state").as_string()));
    }
    for (const char* expected :
         {"up=running", "idle=stopped", "missing=fatal", "three=exited", "killed=exited"}) {
        if (!seen.contains(expected)) {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_SUITE("status schema")
{
    TEST_CASE("status --json validates against man/status.schema.json in every state" *
              doctest::timeout(60))
    {
        Fixture f;
        f.write_config(R"(
[services.up]
command = ["sleep", "1000"]
[services.up.health]
command = ["true"]
interval = "1s"

[services.idle]
command = ["sleep", "1000"]
autostart = false

[services.missing]
command = ["/nonexistent/procsup-test-program"]
restart = "never"

[services.three]
command = ["sh", "-c", "sleep 1.1; exit 3"]
restart = "never"

[services.killed]
command = ["sh", "-c", "sleep 1.1; kill -KILL $$"]
restart = "never"

[services.waiting]
command = ["sleep", "1000"]
depends_on = { idle = "started" }
autostart = false
)");
        f.start_daemon();

        std::string out;
        REQUIRE(wait_until(
            [&] {
                out = f.cli({"status", "--json"}).out;
                boost::system::error_code ec;
                const json::value doc = json::parse(out, ec);
                return !ec && covers_every_case(doc);
            },
            15s));
        check_valid(f, out);

        // A single service, and the status objects inside an action's reply.
        check_valid(f, f.cli({"status", "--json", "three"}).out);
        const json::value reply =
            json::parse(f.cli({"start", "--json", "--no-wait", "waiting"}).out);
        json::array statuses;
        for (const json::value& r : reply.at("results").as_array()) {
            statuses.push_back(r.at("status"));
        }
        REQUIRE(!statuses.empty());
        check_valid(f,
                    json::serialize(json::object{{"schema_version", 1}, {"services", statuses}}));
    }

    TEST_CASE("a service object with a field the schema does not know fails validation" *
              doctest::timeout(30))
    {
        // additionalProperties is false: a new field must come with a schema update.
        Fixture f;
        f.write_config(R"(
[services.idle]
command = ["sleep", "1000"]
autostart = false
)");
        f.start_daemon();
        json::value doc = json::parse(f.cli({"status", "--json"}).out);
        check_valid(f, json::serialize(doc));
        doc.at("services").as_array().at(0).as_object()["new_field"] = 1;
        std::string errors;
        CHECK(validate(f, json::serialize(doc), errors) == 1);
        CHECK(errors.find("new_field") != std::string::npos);
    }
}
