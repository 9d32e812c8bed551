#include "procsup/dependency_graph.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <string>
#include <vector>

namespace procsup {

namespace {

using Adjacency = std::vector<std::vector<std::size_t>>;

Adjacency reversed(const Adjacency& edges)
{
    Adjacency result(edges.size());
    for (std::size_t from = 0; from < edges.size(); ++from) {
        for (std::size_t to : edges[from]) {
            result[to].push_back(from);
        }
    }
    return result;
}

// Tarjan's algorithm, recursive: depth is bounded by the number of services, which the
// config loader keeps small.
class TarjanSearch {
public:
    explicit TarjanSearch(const Adjacency& edges)
        : edges_(edges),
          order_(edges.size(), unvisited),
          low_(edges.size()),
          on_stack_(edges.size(), false)
    {
    }

    std::vector<std::vector<std::size_t>> run()
    {
        for (std::size_t v = 0; v < edges_.size(); ++v) {
            if (order_[v] == unvisited) {
                visit(v);
            }
        }
        return std::move(groups_);
    }

private:
    static constexpr std::size_t unvisited = static_cast<std::size_t>(-1);

    void visit(std::size_t v)
    {
        order_[v] = low_[v] = counter_++;
        stack_.push_back(v);
        on_stack_[v] = true;
        for (std::size_t w : edges_[v]) {
            if (order_[w] == unvisited) {
                visit(w);
                low_[v] = std::min(low_[v], low_[w]);
            } else if (on_stack_[w]) {
                low_[v] = std::min(low_[v], order_[w]);
            }
        }
        if (low_[v] == order_[v]) {
            pop_group(v);
        }
    }

    void pop_group(std::size_t root)
    {
        std::vector<std::size_t> group;
        std::size_t w = 0;
        do {
            w = stack_.back();
            stack_.pop_back();
            on_stack_[w] = false;
            group.push_back(w);
        } while (w != root);
        std::sort(group.begin(), group.end());
        groups_.push_back(std::move(group));
    }

    const Adjacency& edges_;
    std::vector<std::size_t> order_;
    std::vector<std::size_t> low_;
    std::vector<bool> on_stack_;
    std::vector<std::size_t> stack_;
    std::size_t counter_ = 0;
    std::vector<std::vector<std::size_t>> groups_;
};

}  // namespace

bool DependencyGraph::add(std::string name, std::vector<std::string> dependencies)
{
    if (contains(name)) {
        return false;
    }
    index_.emplace(name, nodes_.size());
    nodes_.push_back(Node{std::move(name), std::move(dependencies)});
    return true;
}

bool DependencyGraph::contains(std::string_view name) const
{
    return index_.find(name) != index_.end();
}

std::vector<std::pair<std::string, std::string>> DependencyGraph::unknown_dependencies() const
{
    std::vector<std::pair<std::string, std::string>> result;
    for (const auto& node : nodes_) {
        for (const auto& dependency : node.dependencies) {
            if (!contains(dependency)) {
                result.emplace_back(node.name, dependency);
            }
        }
    }
    return result;
}

// edges[i] lists the indices of the known dependencies of node i, once each, in the order
// they were given.
std::vector<std::vector<std::size_t>> DependencyGraph::adjacency() const
{
    Adjacency edges(nodes_.size());
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        for (const auto& dependency : nodes_[i].dependencies) {
            auto it = index_.find(dependency);
            if (it == index_.end()) {
                continue;
            }
            auto& list = edges[i];
            if (std::find(list.begin(), list.end(), it->second) == list.end()) {
                list.push_back(it->second);
            }
        }
    }
    return edges;
}

std::vector<std::vector<std::size_t>> DependencyGraph::strongly_connected_groups() const
{
    Adjacency edges = adjacency();
    return TarjanSearch(edges).run();
}

// The shortest path first -> ... -> first inside one group (breadth-first), following
// dependencies in the order they were given.
std::vector<std::size_t> DependencyGraph::cycle_through(std::size_t first,
                                                        const std::vector<bool>& in_group) const
{
    Adjacency edges = adjacency();
    std::vector<std::size_t> parent(nodes_.size(), nodes_.size());
    std::queue<std::size_t> queue;
    queue.push(first);
    while (!queue.empty()) {
        std::size_t v = queue.front();
        queue.pop();
        for (std::size_t w : edges[v]) {
            if (w == first) {
                std::vector<std::size_t> path{first};
                for (std::size_t u = v; u != first; u = parent[u]) {
                    path.push_back(u);
                }
                path.push_back(first);
                std::reverse(path.begin() + 1, path.end() - 1);
                return path;
            }
            if (in_group[w] && parent[w] == nodes_.size()) {
                parent[w] = v;
                queue.push(w);
            }
        }
    }
    return {};  // unreachable for a strongly connected group
}

std::vector<std::vector<std::string>> DependencyGraph::cycles() const
{
    Adjacency edges = adjacency();
    auto groups = strongly_connected_groups();
    std::sort(groups.begin(), groups.end());  // each group is sorted: this sorts by first node

    std::vector<std::vector<std::string>> result;
    for (const auto& group : groups) {
        std::size_t first = group.front();
        bool self_loop =
            std::find(edges[first].begin(), edges[first].end(), first) != edges[first].end();
        if (group.size() == 1 && !self_loop) {
            continue;
        }
        std::vector<bool> in_group(nodes_.size(), false);
        for (std::size_t v : group) {
            in_group[v] = true;
        }
        std::vector<std::string> path;
        for (std::size_t v : cycle_through(first, in_group)) {
            path.push_back(nodes_[v].name);
        }
        result.push_back(std::move(path));
    }
    return result;
}

// Kahn's algorithm with a min-heap on the insertion index, so that ties keep file order.
std::vector<std::string> DependencyGraph::start_order() const
{
    Adjacency edges = adjacency();
    Adjacency dependents = reversed(edges);
    std::vector<std::size_t> waiting_for(nodes_.size());
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        waiting_for[i] = edges[i].size();
        if (waiting_for[i] == 0) {
            ready.push(i);
        }
    }

    std::vector<std::string> order;
    std::vector<bool> placed(nodes_.size(), false);
    while (!ready.empty()) {
        std::size_t v = ready.top();
        ready.pop();
        order.push_back(nodes_[v].name);
        placed[v] = true;
        for (std::size_t dependent : dependents[v]) {
            if (--waiting_for[dependent] == 0) {
                ready.push(dependent);
            }
        }
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (!placed[i]) {
            order.push_back(nodes_[i].name);
        }
    }
    return order;
}

std::vector<std::string> DependencyGraph::stop_order() const
{
    auto order = start_order();
    std::reverse(order.begin(), order.end());
    return order;
}

std::vector<bool> DependencyGraph::reachable(std::size_t from, bool follow_dependents) const
{
    Adjacency edges = adjacency();
    if (follow_dependents) {
        edges = reversed(edges);
    }
    std::vector<bool> seen(nodes_.size(), false);
    std::vector<std::size_t> pending{from};
    while (!pending.empty()) {
        std::size_t v = pending.back();
        pending.pop_back();
        for (std::size_t w : edges[v]) {
            if (!seen[w]) {
                seen[w] = true;
                pending.push_back(w);
            }
        }
    }
    seen[from] = false;  // a node on a cycle reaches itself, but is not its own dependency
    return seen;
}

std::vector<std::string> DependencyGraph::select_in_start_order(
    const std::vector<bool>& chosen) const
{
    std::vector<std::string> result;
    for (auto& name : start_order()) {
        if (chosen[index_.find(name)->second]) {
            result.push_back(std::move(name));
        }
    }
    return result;
}

std::vector<std::string> DependencyGraph::dependencies_of(std::string_view name) const
{
    auto it = index_.find(name);
    if (it == index_.end()) {
        return {};
    }
    return select_in_start_order(reachable(it->second, false));
}

std::vector<std::string> DependencyGraph::dependents_of(std::string_view name) const
{
    auto it = index_.find(name);
    if (it == index_.end()) {
        return {};
    }
    return select_in_start_order(reachable(it->second, true));
}

}  // namespace procsup
