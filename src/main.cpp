// procsup: one binary for the daemon and its control client. main only hands over.
#include <cstdio>
#include <exception>

#include "procsup/cli.hpp"

int main(int argc, char** argv)
{
    try {
        return procsup::run_cli(argc, argv);
    } catch (const std::exception& e) {
        // Last resort (STYLE §5): a failure nothing else handled. A service manager
        // restarts the daemon on a non-zero exit.
        std::fprintf(stderr, "procsup: fatal: %s\n", e.what());
        return 1;
    }
}
