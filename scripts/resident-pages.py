#!/usr/bin/env python3
"""Which sections of a running executable are resident, from /proc/PID/pagemap.

    scripts/resident-pages.py PID [BINARY]

BINARY defaults to /proc/PID/exe. Prints, for each allocated section of 16 KiB or more,
its size and how much of it is mapped into the process. Needs root for credbrokerd: the
daemon is not dumpable, so only root may read its pagemap. docs/benchmarks.md (issue 3, "Clustering the start-up code") says how it was used:
with the block device's read-ahead at 0 and the binary evicted from the page cache, a
page is present only if the process touched it, so the figures are the pages the daemon
really uses, not the ones fault-around mapped beside them.
"""
import os
import re
import struct
import subprocess
import sys


def sections(binary):
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            yield m.group(1), int(m.group(2), 16), int(m.group(3), 16)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: scripts/resident-pages.py PID [BINARY]")
    pid = int(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) == 3 else os.readlink(f"/proc/{pid}/exe")
    real = os.path.realpath(binary)
    # The load bias: the first mapping of the file, less its file offset (PIE).
    with open(f"/proc/{pid}/maps") as maps:
        first = next(l.split() for l in maps if l.rstrip().endswith(real))
    base = int(first[0].split("-")[0], 16) - int(first[2], 16)
    total_resident = 0
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        def present(page):
            pagemap.seek(page * 8)
            return (struct.unpack("<Q", pagemap.read(8))[0] >> 63) & 1

        print(f"{'section':32s} {'size':>10s} {'resident':>10s}")
        for name, addr, size in sections(binary):
            if size < 16 * 1024:
                continue
            pages = range((base + addr) // 4096, (base + addr + size - 1) // 4096 + 1)
            resident = sum(present(p) for p in pages) * 4
            total_resident += resident
            print(f"{name:32s} {size // 1024:>6d} KiB {resident:>6d} KiB ({100 * resident // (4 * len(pages))} %)")
    print(f"{'sections listed':32s} {'':>10s} {total_resident:>6d} KiB")


if __name__ == "__main__":
    main()
