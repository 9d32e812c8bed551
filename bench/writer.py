#!/usr/bin/env python3
"""Log-throughput writer: writes BYTES of 128-byte text lines to stdout, as fast as it can.

Usage: writer.py BYTES READY_FILE GO_FILE

It creates READY_FILE once started, then waits for GO_FILE, so that the timed window holds
only the writing and not Python's start-up or the supervisor's spawn.
"""
import os
import sys
import time

LINE = 128
BLOCK_LINES = 512  # 64 KiB per write, the default pipe capacity


def block():
    lines = []
    for i in range(BLOCK_LINES):
        head = "%08d " % i
        lines.append(head + "x" * (LINE - len(head) - 1) + "\n")
    return "".join(lines).encode()


def main():
    total, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = block()
    with open(ready, "w"):
        pass
    while not os.path.exists(go):
        time.sleep(0.001)
    left = total
    view = memoryview(data)
    while left > 0:
        chunk = view[: min(len(data), left)]
        while chunk:
            n = os.write(1, chunk)
            chunk = chunk[n:]
        left -= min(len(data), left)


if __name__ == "__main__":
    main()
