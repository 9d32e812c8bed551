#include "procsup/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <stdlib.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using procsup::Duration;
using procsup::OutputTarget;

namespace {

const fs::path corpus = fs::path(PROCSUP_TEST_DATA) / "config_corpus";
const fs::path good_dir = PROCSUP_TEST_DATA "/config_corpus/good";
const fs::path bad_dir = PROCSUP_TEST_DATA "/config_corpus/bad";

const procsup::Environment test_env{
    {"HOME", "/home/tester"},
    {"APP_PORT", "5001"},
    {"PATH", "/usr/bin:/bin"},
    {"XDG_RUNTIME_DIR", "/run/user/1000"},
};

std::vector<fs::path> toml_files_in(const fs::path& dir)
{
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".toml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// One "# expect: [FILE:]LINE:COL: substring" line of a corpus file.
struct Expectation {
    fs::path file;
    int line = 0;
    int column = 0;
    std::string text;
};

std::vector<Expectation> read_expectations(const fs::path& file)
{
    std::vector<Expectation> expectations;
    std::ifstream in(file);
    std::string line;
    const std::string prefix = "# expect: ";
    while (std::getline(in, line) && line.rfind(prefix, 0) == 0) {
        std::istringstream fields(line.substr(prefix.size()));
        Expectation expectation;
        std::string first;
        std::getline(fields, first, ':');
        bool names_file = first.find_first_not_of("0123456789") != std::string::npos;
        expectation.file = names_file ? (file.parent_path() / first).lexically_normal() : file;
        std::string number = names_file ? "" : first;
        if (names_file) {
            std::getline(fields, number, ':');
        }
        expectation.line = std::stoi(number);
        std::getline(fields, number, ':');
        expectation.column = std::stoi(number);
        std::getline(fields, expectation.text);
        expectation.text.erase(0, expectation.text.find_first_not_of(' '));
        expectations.push_back(expectation);
    }
    return expectations;
}

bool matches(const procsup::ConfigDiagnostic& diagnostic, const Expectation& expected)
{
    return diagnostic.file.lexically_normal() == expected.file &&
           diagnostic.line == expected.line && diagnostic.column == expected.column &&
           diagnostic.to_string().find(expected.text) != std::string::npos;
}

std::vector<procsup::ConfigDiagnostic> diagnostics_of(const fs::path& file)
{
    try {
        procsup::load_config(file, test_env);
    } catch (const procsup::ConfigError& error) {
        return error.diagnostics();
    }
    return {};
}

const procsup::ServiceConfig& service(const procsup::Config& config, std::string_view name)
{
    const auto* found = config.find(name);
    REQUIRE_MESSAGE(found != nullptr, "no service " << name);
    return *found;
}

std::vector<std::string> names_of(const procsup::Config& config)
{
    std::vector<std::string> names;
    for (const auto& s : config.services) {
        names.push_back(s.name);
    }
    return names;
}

}  // namespace

TEST_SUITE("config")
{
    TEST_CASE("every malformed corpus file reports exactly its expected diagnostics")
    {
        auto files = toml_files_in(bad_dir);
        CHECK(files.size() >= 35);
        for (const auto& file : files) {
            CAPTURE(file);
            auto expectations = read_expectations(file);
            REQUIRE_MESSAGE(!expectations.empty(), "no '# expect:' line in " << file);
            auto diagnostics = diagnostics_of(file);
            std::string reported;
            for (const auto& diagnostic : diagnostics) {
                reported += diagnostic.to_string() + "\n";
            }
            CAPTURE(reported);
            CHECK(diagnostics.size() == expectations.size());
            for (const auto& expected : expectations) {
                bool found = std::any_of(diagnostics.begin(), diagnostics.end(),
                                         [&](const auto& d) { return matches(d, expected); });
                CHECK_MESSAGE(found, "missing " << expected.file.filename().string() << ":"
                                                << expected.line << ":" << expected.column << ": "
                                                << expected.text);
            }
        }
    }

    TEST_CASE("one pass reports problems from several tables and keys")
    {
        auto diagnostics = diagnostics_of(bad_dir / "many_errors.toml");
        CHECK(diagnostics.size() >= 3);
    }

    TEST_CASE("ConfigError's message lists every diagnostic, one per line")
    {
        try {
            procsup::load_config(bad_dir / "many_errors.toml", test_env);
            FAIL("load_config accepted a bad config");
        } catch (const procsup::ConfigError& error) {
            std::string what = error.what();
            CHECK(std::count(what.begin(), what.end(), '\n') + 1 ==
                  static_cast<long>(error.diagnostics().size()));
            CHECK(what.find(error.diagnostics().front().to_string()) == 0);
        }
    }

    TEST_CASE("every valid corpus file loads")
    {
        for (const auto& file : toml_files_in(good_dir)) {
            CAPTURE(file);
            try {
                procsup::load_config(file, test_env);
            } catch (const procsup::ConfigError& error) {
                FAIL(error.what());
            }
        }
    }

    TEST_CASE("a missing config file is an error without a position")
    {
        auto diagnostics = diagnostics_of(corpus / "does-not-exist.toml");
        REQUIRE(diagnostics.size() == 1);
        CHECK(diagnostics[0].line == 0);
        CHECK(diagnostics[0].to_string() == (corpus / "does-not-exist.toml").string() +
                                                ": cannot read the config file: No such file "
                                                "or directory");
    }

    TEST_CASE("the supervisor table is read with paths resolved from the config folder")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& supervisor = config.supervisor;
        CHECK(config.file == good_dir / "full.toml");
        CHECK(supervisor.socket == good_dir / "run/procsup.sock");
        CHECK(supervisor.socket_mode == 0660u);
        CHECK(supervisor.socket_group == "ops");
        CHECK(supervisor.pidfile == fs::path("/run/procsup-test.pid"));
        CHECK(supervisor.log == (good_dir / "procsup.log").string());
        CHECK(supervisor.log_level == "debug");
        CHECK(supervisor.log_dir == good_dir / "var/logs");
        CHECK(supervisor.dbus == "off");
    }

    TEST_CASE("a service with every key keeps every value")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& app = service(config, "flask-app");
        CHECK(app.command == std::vector<std::string>{"gunicorn", "--bind",
                                                      "127.0.0.1:${APP_PORT:-5000}", "$HOME",
                                                      "${PATH}", "a b", ""});
        CHECK(app.directory == good_dir / "srv/flask-app");
        CHECK(app.user == "appuser");
        CHECK(app.group == "appgroup");
        CHECK(app.umask == 027u);
        CHECK_FALSE(app.autostart);
        CHECK(app.restart == procsup::RestartPolicy::always);
        CHECK(app.start_seconds == Duration(1500));
        CHECK_FALSE(app.start_retries.has_value());
        CHECK(app.backoff == Duration(500));
        CHECK(app.backoff_max == Duration(60s));
        CHECK(app.success_exit_codes == std::vector<int>{0, 3});
        CHECK(app.stop_signal == 2);
        CHECK(app.stop_timeout == Duration(20s));
        CHECK(app.reload_signal == 10);
        CHECK_FALSE(app.kill_group);
        CHECK(app.essential);
        CHECK(app.nohup);
        CHECK(app.pidfile == good_dir / "run/flask.pid");
        CHECK(app.stdout_target ==
              OutputTarget{OutputTarget::Kind::file, good_dir / "var/logs/flask/out.log"});
        CHECK(app.stderr_target == OutputTarget{OutputTarget::Kind::file, "/var/tmp/flask.err"});
        CHECK(app.log_max_size == 512u * 1024);
        CHECK(app.log_backups == 0);
        CHECK(app.depends_on == std::map<std::string, procsup::DependencyCondition>{
                                    {"redis", procsup::DependencyCondition::healthy},
                                    {"migrate", procsup::DependencyCondition::completed}});
        CHECK(app.type == procsup::ServiceType::notify);
        CHECK(app.start_timeout == Duration(120s));
        CHECK(app.watchdog == Duration(15s));
        CHECK(app.origin == (good_dir / "full.toml").string() + ":13:1");
    }

    TEST_CASE("environment values and array commands are passed verbatim")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& app = service(config, "flask-app");
        CHECK(app.command[2] == "127.0.0.1:${APP_PORT:-5000}");
        CHECK(app.command[3] == "$HOME");
        CHECK(app.command[4] == "${PATH}");
        CHECK(app.environment.at("LITERAL") == "${HOME} $HOME");
    }

    TEST_CASE("argv arrays and environment values are kept byte for byte")
    {
        auto config = procsup::load_config(good_dir / "verbatim.toml", test_env);
        const auto& echo = service(config, "echo");
        CHECK(echo.command ==
              std::vector<std::string>{"printf", "two words", "  padded  ", "$HOME", "${PATH}",
                                       "${NOPE:-x}", "*", "~", "'single'", "\"double\"",
                                       "back\\slash", "", "a;b|c", "%(here)s", "100%", "x,y=z",
                                       "\u00fcnic\u00f8de \u2713", "line1\nline2", "tab\there"});
        CHECK(echo.environment == std::map<std::string, std::string>{
                                      {"SPACES", "a b  c"},
                                      {"QUOTES", "it's \"quoted\""},
                                      {"DOLLAR", "$HOME/${USER}"},
                                      {"DEFAULT", "${NOPE:-fallback}"},
                                      {"PERCENT", "%(here)s 100%"},
                                      {"EMPTY", ""},
                                      {"EQUALS", "k=v=w"},
                                      {"NEWLINE", "a\nb"},
                                  });
        // Other strings are expanded, so paths can still use the daemon's environment.
        CHECK(echo.directory == fs::path("/home/tester/work dir"));
    }

    TEST_CASE("env_file is read from the service directory and environment overrides it")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& env = service(config, "flask-app").environment;
        CHECK(env == std::map<std::string, std::string>{
                         {"FLASK_ENV", "production"},
                         {"LITERAL", "${HOME} $HOME"},
                         {"SECRET_KEY", "s3cr3t with spaces"},
                         {"SINGLE", "${NOT_EXPANDED}"},
                         {"PADDED", "value"},
                         {"EMPTY", ""},
                         {"HASH", "a#b"},
                     });
    }

    TEST_CASE("the three kinds of health check are parsed")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& http = service(config, "flask-app").health.value();
        CHECK(http.kind == procsup::HealthCheckConfig::Kind::http);
        CHECK(http.http_url == "http://127.0.0.1:5001/health?full=1");
        CHECK(http.http_host == "127.0.0.1");
        CHECK(http.http_port == 5001);
        CHECK(http.http_path == "/health?full=1");
        CHECK(http.interval == Duration(10s));
        CHECK(http.timeout == Duration(2s));
        CHECK(http.start_period == Duration(0));
        CHECK(http.retries == 5);
        CHECK(http.on_unhealthy == procsup::UnhealthyAction::ignore);

        const auto& tcp = service(config, "redis").health.value();
        CHECK(tcp.kind == procsup::HealthCheckConfig::Kind::tcp);
        CHECK(tcp.tcp_host == "127.0.0.1");
        CHECK(tcp.tcp_port == 6379);
        CHECK(tcp.interval == Duration(30s));
        CHECK(tcp.on_unhealthy == procsup::UnhealthyAction::restart);

        const auto& command = service(config, "migrate").health.value();
        CHECK(command.kind == procsup::HealthCheckConfig::Kind::command);
        CHECK(command.command == std::vector<std::string>{"test", "-f", "done marker"});
        CHECK(command.start_period == Duration(40s));
    }

    TEST_CASE("output keywords, integer modes and integer signals are understood")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& redis = service(config, "redis");
        CHECK(redis.command ==
              std::vector<std::string>{"redis-server", "--port", "6379", "--save", ""});
        CHECK(redis.umask == 022u);
        CHECK(redis.stop_signal == 2);
        CHECK(redis.stdout_target.kind == OutputTarget::Kind::inherit);
        CHECK(redis.stderr_target.kind == OutputTarget::Kind::null);
        CHECK(redis.log_max_size == 0u);
        CHECK(redis.type == procsup::ServiceType::simple);
        CHECK(redis.start_timeout == Duration(5s));
        CHECK_FALSE(redis.watchdog);
        const auto& migrate = service(config, "migrate");
        CHECK(migrate.stdout_target.kind == OutputTarget::Kind::null);
        CHECK(migrate.stderr_target.kind == OutputTarget::Kind::inherit);
        CHECK(migrate.start_retries == 0);
        CHECK(migrate.restart == procsup::RestartPolicy::never);
    }

    TEST_CASE("included services are loaded and string commands are expanded then split")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        const auto& worker = service(config, "worker");
        CHECK(worker.command == std::vector<std::string>{"celery", "-A", "app", "worker",
                                                         "--loglevel=info",
                                                         "--hostname=w1@localhost"});
        CHECK(worker.stdout_target.path == good_dir / "var/logs/worker.log");
        CHECK(worker.origin == (good_dir / "conf.d/worker.toml").string() + ":2:1");
    }

    TEST_CASE("a wildcard include may name a missing folder; a plain one must be a file")
    {
        std::string dir = "/tmp/procsup-config-test-XXXXXX";
        REQUIRE(::mkdtemp(dir.data()) != nullptr);
        const fs::path main = fs::path(dir) / "procsup.toml";
        // The one diagnostic of a config that includes `pattern`.
        const auto error_of = [&](const std::string& pattern) {
            std::ofstream(main) << "[supervisor]\ninclude = [\"" << pattern << "\"]\n";
            try {
                procsup::load_config(main, test_env);
            } catch (const procsup::ConfigError& e) {
                REQUIRE(e.diagnostics().size() == 1);
                CHECK(e.diagnostics()[0].line == 2);
                return e.diagnostics()[0].message;
            }
            return std::string("accepted");
        };
        std::ofstream(main) << "[supervisor]\ninclude = [\"conf.d/*.toml\"]\n"
                               "[services.a]\ncommand = \"true\"\n";
        CHECK(names_of(procsup::load_config(main, test_env)) == std::vector<std::string>{"a"});
        CHECK(error_of("conf.d/extra.toml").find("does not exist") != std::string::npos);
        fs::create_directory(fs::path(dir) / "conf.d");
        CHECK(error_of("conf.d").find("is a folder") != std::string::npos);
        fs::remove_all(dir);
    }

    TEST_CASE("services come in dependency order")
    {
        auto full = procsup::load_config(good_dir / "full.toml", test_env);
        CHECK(names_of(full) ==
              std::vector<std::string>{"redis", "migrate", "flask-app", "worker"});
        auto deps = procsup::load_config(good_dir / "dependencies.toml", test_env);
        CHECK(names_of(deps) == std::vector<std::string>{"cron", "db", "api", "cache", "web"});
    }

    TEST_CASE("a minimal service takes every default")
    {
        auto config = procsup::load_config(good_dir / "minimal.toml", test_env);
        CHECK(config.supervisor.socket == procsup::default_socket_path(test_env));
        CHECK(config.supervisor.log_dir == good_dir / "logs");
        CHECK(config.supervisor.log == "-");
        CHECK(config.supervisor.log_level == "info");
        CHECK(config.supervisor.dbus == "auto");
        CHECK(config.supervisor.socket_mode == 0600u);
        CHECK_FALSE(config.supervisor.pidfile);

        const auto& app = service(config, "app");
        procsup::ServiceConfig expected;
        expected.name = "app";
        expected.command = {"sleep", "1000"};
        expected.directory = good_dir;  // the config file's folder
        expected.stdout_target = {OutputTarget::Kind::file, good_dir / "logs/app.log"};
        CHECK(app == expected);
        CHECK(app.stderr_target.kind == OutputTarget::Kind::merge_into_stdout);
        CHECK(app.start_retries == 5);
        CHECK_FALSE(app.health);
        CHECK(app.type == procsup::ServiceType::simple);
        CHECK(app.start_timeout == Duration(90s));
        CHECK_FALSE(app.watchdog);
    }

    TEST_CASE("dotted keys, inline tables and quoted service names are accepted")
    {
        auto config = procsup::load_config(good_dir / "inline_tables.toml", test_env);
        CHECK(names_of(config) == std::vector<std::string>{"web", "v1.2-api_x"});
        const auto& web = service(config, "web");
        CHECK(web.health->tcp_host == "::1");
        CHECK(web.health->tcp_port == 8080);
        CHECK(web.health->interval == Duration(5s));
        CHECK(service(config, "v1.2-api_x").depends_on.at("web") ==
              procsup::DependencyCondition::healthy);
    }

    TEST_CASE("service equality ignores only the origin")
    {
        auto config = procsup::load_config(good_dir / "full.toml", test_env);
        auto original = service(config, "flask-app");
        auto moved = original;
        moved.origin = "elsewhere.toml:1:1";
        CHECK(moved == original);

        auto changed = original;
        changed.environment["NEW"] = "1";
        CHECK_FALSE(changed == original);
        changed = original;
        changed.health->retries += 1;
        CHECK_FALSE(changed == original);
        changed = original;
        changed.stop_timeout += 1ms;
        CHECK_FALSE(changed == original);
        changed = original;
        changed.depends_on.erase("redis");
        CHECK_FALSE(changed == original);
        changed = original;
        changed.type = procsup::ServiceType::simple;
        CHECK_FALSE(changed == original);
        changed = original;
        changed.start_timeout += 1ms;
        CHECK_FALSE(changed == original);
        changed = original;
        changed.watchdog.reset();
        CHECK_FALSE(changed == original);
    }

    TEST_CASE("diagnostics leave out the parts they do not know")
    {
        procsup::ConfigDiagnostic full{"a.toml", 3, 7, "services.web.restart", "bad"};
        CHECK(full.to_string() == "a.toml:3:7: services.web.restart: bad");
        procsup::ConfigDiagnostic no_key{"a.toml", 3, 7, "", "bad"};
        CHECK(no_key.to_string() == "a.toml:3:7: bad");
        procsup::ConfigDiagnostic no_position{"a.toml", 0, 0, "k", "bad"};
        CHECK(no_position.to_string() == "a.toml: k: bad");
        procsup::ConfigDiagnostic bare{"", 0, 0, "", "bad"};
        CHECK(bare.to_string() == "bad");
    }

    TEST_CASE("the default socket depends on root and XDG_RUNTIME_DIR")
    {
        if (::geteuid() == 0) {
            CHECK(procsup::default_socket_path({}) == "/run/procsup/procsup.sock");
            return;
        }
        CHECK(procsup::default_socket_path({{"XDG_RUNTIME_DIR", "/run/user/7"}}) ==
              "/run/user/7/procsup.sock");
        CHECK(procsup::default_socket_path({}) ==
              "/tmp/procsup-" + std::to_string(::geteuid()) + "/procsup.sock");
    }

    TEST_CASE("current_environment reads the process environment")
    {
        ::setenv("PROCSUP_CONFIG_TEST", "a=b", 1);
        auto env = procsup::current_environment();
        CHECK(env.at("PROCSUP_CONFIG_TEST") == "a=b");
        ::unsetenv("PROCSUP_CONFIG_TEST");
    }
}
