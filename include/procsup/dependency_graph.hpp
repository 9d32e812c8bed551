// The "depends on" relation between services, for ordering: which service starts before
// which, which stops before which, and whether the relation has cycles. Nodes are kept in
// the order they were added (file order), which breaks ties everywhere. Pure: no I/O.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace procsup {

class DependencyGraph {
public:
    // Adds `name`, which depends on each of `dependencies` (names of nodes that may be added
    // later). Returns false, and changes nothing, when `name` is already present.
    bool add(std::string name, std::vector<std::string> dependencies);

    std::size_t size() const { return nodes_.size(); }
    bool contains(std::string_view name) const;

    // Pairs (node, dependency) whose dependency was never added, in node order.
    std::vector<std::pair<std::string, std::string>> unknown_dependencies() const;

    // One cycle per group of mutually dependent nodes, each as a path that starts and ends
    // at the group's earliest-added node: {"a", "b", "a"}. A node that depends on itself
    // gives {"a", "a"}. Groups are listed in the order of their earliest node.
    std::vector<std::vector<std::string>> cycles() const;

    // Every node, dependencies before dependents; among nodes that are ready at the same
    // time the earliest added comes first. Unknown dependencies are ignored. Nodes on a
    // cycle cannot be ordered: they come last, in the order they were added.
    std::vector<std::string> start_order() const;

    // The reverse of start_order(): dependents stop before what they depend on.
    std::vector<std::string> stop_order() const;

    // The nodes that `name` depends on, directly or not, in start order.
    std::vector<std::string> dependencies_of(std::string_view name) const;

    // The nodes that depend on `name`, directly or not, in start order.
    std::vector<std::string> dependents_of(std::string_view name) const;

private:
    struct Node {
        std::string name;
        std::vector<std::string> dependencies;
    };

    std::vector<std::vector<std::size_t>> adjacency() const;
    std::vector<std::vector<std::size_t>> strongly_connected_groups() const;
    std::vector<std::size_t> cycle_through(std::size_t first,
                                           const std::vector<bool>& in_group) const;
    std::vector<bool> reachable(std::size_t from, bool follow_dependents) const;
    std::vector<std::string> select_in_start_order(const std::vector<bool>& chosen) const;

    std::vector<Node> nodes_;
    std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace procsup
