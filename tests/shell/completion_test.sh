#!/usr/bin/env bash
# Tests completions/procsup.bash by calling its completion function the way bash does, with
# COMP_WORDS and COMP_CWORD set: commands, options, and service names from a live daemon.
# Usage: completion_test.sh COMPLETION_FILE PROCSUP_BINARY
set -uo pipefail
completion_file=$1
procsup=$2
failures=0

# shellcheck source=/dev/null
source "$completion_file"

# Completes the command line "$@" (the last word is the one being completed) and prints the
# candidates on one line, sorted.
complete_line()
{
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _procsup "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect()
{
    local description=$1 expected=$2
    shift 2
    local got
    got=$(complete_line "$@")
    if [[ $got == "$expected" ]]; then
        echo "ok: $description"
    else
        echo "FAIL: $description: completing '$*': expected '$expected', got '$got'"
        failures=$((failures + 1))
    fi
}

expect "'procsup st' offers start, status and stop" "start status stop" procsup st
expect "'procsup re' offers the four re- commands" "reload reopen-logs restart" procsup re
expect "'procsup ev' offers events" "events" procsup ev
expect "options of start" "--all" "$procsup" start --a
expect "options of logs" "--follow" "$procsup" logs --f
expect "options of logs after the name" "--stderr" "$procsup" logs web --st
expect "restart policies of run" "on-failure" "$procsup" run --restart on
expect "signal names come first for signal" "TERM" "$procsup" signal TE
if [[ " $(complete_line "$procsup" run --log x -- bas) " == *" bash "* ]]; then
    echo "ok: run completes the command after --"
else
    echo "FAIL: run completes the command after --: 'bas' does not offer bash"
    failures=$((failures + 1))
fi

# No daemon: no service names, no message, and no wait for a timeout.
dir=$(mktemp -d)
start=$(date +%s)
expect "no daemon: no names, silently" "" "$procsup" -s "$dir/none.sock" start ""
if (($(date +%s) - start > 2)); then
    echo "FAIL: completing without a daemon took more than 2 seconds"
    failures=$((failures + 1))
fi

# A live daemon: its service names, found through -c.
cat > "$dir/procsup.toml" <<TOML
[supervisor]
socket = "procsup.sock"
pidfile = "procsup.pid"
log = "daemon.log"
[services.web]
command = ["sleep", "1000"]
autostart = false
[services.worker]
command = ["sleep", "1000"]
autostart = false
TOML
# shellcheck disable=SC2317  # called by the trap
cleanup()
{
    "$procsup" -c "$dir/procsup.toml" shutdown >/dev/null 2>&1
    local pid
    pid=$(cat "$dir/procsup.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
if "$procsup" daemon -c "$dir/procsup.toml" --detach; then
    expect "service names from the daemon named by -c" "web worker" \
        "$procsup" -c "$dir/procsup.toml" start ""
    expect "service names filtered by the prefix" "worker" \
        "$procsup" -c "$dir/procsup.toml" logs -n 5 wo
    expect "service names after the signal of signal" "web worker" \
        "$procsup" -c "$dir/procsup.toml" signal HUP ""
    PROCSUP_CONFIG="$dir/procsup.toml" expect "service names through PROCSUP_CONFIG" "web" \
        "$procsup" status we
else
    echo "FAIL: could not start a daemon"
    failures=$((failures + 1))
fi

((failures == 0)) && echo "all completion tests passed"
exit $((failures > 0))
