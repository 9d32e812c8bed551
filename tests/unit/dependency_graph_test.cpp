#include "procsup/dependency_graph.hpp"

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace {

using Names = std::vector<std::string>;

}  // namespace

TEST_SUITE("dependency_graph")
{
    TEST_CASE("dependencies start before their dependents")
    {
        procsup::DependencyGraph graph;
        CHECK(graph.add("web", {"db", "cache"}));
        CHECK(graph.add("db", {}));
        CHECK(graph.add("cache", {"db"}));
        CHECK(graph.start_order() == Names{"db", "cache", "web"});
        CHECK(graph.stop_order() == Names{"web", "cache", "db"});
    }

    TEST_CASE("independent nodes keep the order they were added in")
    {
        procsup::DependencyGraph graph;
        graph.add("c", {});
        graph.add("a", {});
        graph.add("b", {});
        CHECK(graph.start_order() == Names{"c", "a", "b"});
    }

    TEST_CASE("among ready nodes the earliest added comes first")
    {
        procsup::DependencyGraph graph;
        graph.add("app", {"db"});
        graph.add("worker", {});
        graph.add("db", {});
        graph.add("late", {"app"});
        CHECK(graph.start_order() == Names{"worker", "db", "app", "late"});
    }

    TEST_CASE("a repeated dependency counts once")
    {
        procsup::DependencyGraph graph;
        graph.add("a", {"b", "b"});
        graph.add("b", {});
        CHECK(graph.start_order() == Names{"b", "a"});
        CHECK(graph.cycles().empty());
    }

    TEST_CASE("adding a name twice is refused")
    {
        procsup::DependencyGraph graph;
        CHECK(graph.add("a", {}));
        CHECK_FALSE(graph.add("a", {"b"}));
        CHECK(graph.size() == 1);
        CHECK(graph.unknown_dependencies().empty());
    }

    TEST_CASE("unknown dependencies are listed and ignored for ordering")
    {
        procsup::DependencyGraph graph;
        graph.add("a", {"ghost", "b"});
        graph.add("b", {"phantom"});
        using Pair = std::pair<std::string, std::string>;
        CHECK(graph.unknown_dependencies() == std::vector<Pair>{{"a", "ghost"}, {"b", "phantom"}});
        CHECK(graph.start_order() == Names{"b", "a"});
    }

    TEST_CASE("a two-node cycle is reported from the earliest node")
    {
        procsup::DependencyGraph graph;
        graph.add("x", {});
        graph.add("a", {"b"});
        graph.add("b", {"a"});
        CHECK(graph.cycles() == std::vector<Names>{{"a", "b", "a"}});
    }

    TEST_CASE("a three-node cycle is reported as a path in dependency order")
    {
        procsup::DependencyGraph graph;
        graph.add("c", {"a"});
        graph.add("a", {"b"});
        graph.add("b", {"c"});
        CHECK(graph.cycles() == std::vector<Names>{{"c", "a", "b", "c"}});
    }

    TEST_CASE("a self dependency is a cycle")
    {
        procsup::DependencyGraph graph;
        graph.add("a", {"a"});
        CHECK(graph.cycles() == std::vector<Names>{{"a", "a"}});
    }

    TEST_CASE("separate cycles are each reported once")
    {
        procsup::DependencyGraph graph;
        graph.add("p", {"q"});
        graph.add("q", {"p"});
        graph.add("ok", {});
        graph.add("r", {"s", "ok"});
        graph.add("s", {"t"});
        graph.add("t", {"r"});
        CHECK(graph.cycles() == std::vector<Names>{{"p", "q", "p"}, {"r", "s", "t", "r"}});
    }

    TEST_CASE("the shortest cycle through the earliest node is reported")
    {
        procsup::DependencyGraph graph;
        graph.add("a", {"b", "c"});
        graph.add("b", {"c"});
        graph.add("c", {"a"});
        CHECK(graph.cycles() == std::vector<Names>{{"a", "c", "a"}});
    }

    TEST_CASE("nodes on a cycle are still ordered, last")
    {
        procsup::DependencyGraph graph;
        graph.add("a", {"b"});
        graph.add("b", {"a"});
        graph.add("c", {});
        graph.add("d", {"a"});
        CHECK(graph.start_order() == Names{"c", "a", "b", "d"});
    }

    TEST_CASE("transitive dependencies and dependents come in start order")
    {
        procsup::DependencyGraph graph;
        graph.add("web", {"api"});
        graph.add("api", {"db", "cache"});
        graph.add("db", {});
        graph.add("cache", {});
        graph.add("cron", {"db"});
        CHECK(graph.dependencies_of("web") == Names{"db", "cache", "api"});
        CHECK(graph.dependents_of("db") == Names{"api", "web", "cron"});
        CHECK(graph.dependents_of("web").empty());
        CHECK(graph.dependencies_of("nobody").empty());
    }
}
