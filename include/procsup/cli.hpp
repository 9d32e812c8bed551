// The command line: parses the arguments and runs the daemon, or one client verb.
#pragma once

namespace procsup {

// Returns the process exit status (DESIGN §2).
int run_cli(int argc, char** argv);

}  // namespace procsup
