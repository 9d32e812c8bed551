#!/usr/bin/env python3
"""PID-1 reaping probe: run as the only child of a PID 1 in a new PID namespace.

Usage: orphans.py COUNT RESULT_FILE

Forks an intermediate process that forks COUNT children and exits, so the children are
re-parented to PID 1. Each child blocks reading a pipe; closing the pipe's last write end makes
them all exit at once. The time from that moment until PID 1 has no child left but this script
(every zombie reaped) is written to RESULT_FILE as JSON.
"""
import glob
import json
import os
import sys
import time


def children_of_init():
    pids = set()
    for path in glob.glob("/proc/1/task/*/children"):
        with open(path) as f:
            pids.update(f.read().split())
    return pids


def fork_orphans(count, r, w):
    middle = os.fork()
    if middle == 0:
        for _ in range(count):
            if os.fork() == 0:
                os.close(w)
                os.read(r, 1)  # EOF once every write end is closed
                os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)


def main():
    count, result = int(sys.argv[1]), sys.argv[2]
    me = str(os.getpid())
    r, w = os.pipe()
    fork_orphans(count, r, w)
    os.close(r)

    deadline = time.monotonic() + 30
    while len(children_of_init() - {me}) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    adopted = len(children_of_init() - {me})
    time.sleep(0.2)  # let the last children reach their read()

    start = time.monotonic()
    os.close(w)
    while children_of_init() - {me}:
        if time.monotonic() - start > 30:
            break
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    left = len(children_of_init() - {me})
    with open(result, "w") as f:
        json.dump({"adopted": adopted, "seconds": elapsed, "left": left}, f)


if __name__ == "__main__":
    main()
