#!/usr/bin/env python3
"""What loading shared libraries adds to a process's resident memory.

    scripts/library-rss.py LIB [LIB...]

Loads each library (dlopen, RTLD_NOW | RTLD_GLOBAL, so its constructors run and its
relocations are applied, as at a program's start) into this Python process, then prints
the RSS each mapping gained, largest first, from /proc/self/smaps read before and after,
and the total. Libraries the interpreter already had are not counted again. Used for the
idle-RSS analysis in docs/benchmarks.md (issue 3): e.g.

    scripts/library-rss.py libssl.so.3 libcrypto.so.3 libcurl.so.4
"""
import collections
import ctypes
import os
import sys


def resident_by_mapping():
    resident = collections.Counter()
    name = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                name = fields[5] if len(fields) > 5 else "[anonymous]"
            elif fields[0] == "Rss:":
                resident[name] += int(fields[1])
    return resident


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 64 if len(sys.argv) < 2 else 0
    before = resident_by_mapping()
    for library in sys.argv[1:]:
        try:
            ctypes.CDLL(library, mode=os.RTLD_NOW | ctypes.RTLD_GLOBAL)
        except OSError as error:
            print(f"library-rss.py: error: cannot load {library}: {error}", file=sys.stderr)
            return 1
    after = resident_by_mapping()
    grown = {name: after[name] - before.get(name, 0) for name in after}
    total = 0
    for name, kib in sorted(grown.items(), key=lambda item: -item[1]):
        if kib > 0:
            print(f"{kib:8d} KiB  {name}")
            total += kib
    print(f"{total:8d} KiB  total")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head
        sys.exit(0)
