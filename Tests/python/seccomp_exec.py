#!/usr/bin/env python3
"""Runs a command under the seccomp filter systemd v252 builds for a service, so tests can
run credbrokerd as credbrokerd.service would without systemd as PID 1.

    seccomp_exec.py ALLOWED_SYSCALLS_FILE [--families 1,2,10] -- COMMAND [ARG...]

ALLOWED_SYSCALLS_FILE lists the syscall names SystemCallFilter= allows (whitespace
separated; the test expands the unit's groups with `systemd-analyze syscall-filter`).
The filter reproduces, with the unit's SystemCallErrorNumber=EPERM:

- SystemCallFilter= (allow list): any other syscall fails with EPERM;
- SystemCallArchitectures=native: a non-x86-64 or x32 syscall fails with EPERM;
- RestrictAddressFamilies=: socket() with another family fails with EAFNOSUPPORT;
- MemoryDenyWriteExecute=yes as systemd 252 implements it: mmap with PROT_WRITE and
  PROT_EXEC, mprotect and pkey_mprotect with PROT_EXEC, and shmat with SHM_EXEC fail with
  EPERM;
- NoNewPrivileges=yes (which an unprivileged filter needs anyway).

Syscall numbers come from the kernel headers (linux-libc-dev, needed by the Swift
toolchain). x86-64 only.
"""
import ctypes
import errno
import os
import re
import struct
import sys

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
AND_K = 0x54
RET_K = 0x06
PROT_WRITE, PROT_EXEC = 2, 4
SHM_EXEC = 0o100000
OFFSET_NR, OFFSET_ARCH = 0, 4


def arg(i):
    """Offset of the low 32 bits of syscall argument i in struct seccomp_data."""
    return 16 + 8 * i


def syscall_table():
    path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
    table = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
            if m:
                table[m.group(1)] = int(m.group(2))
    return table


def build(allowed, families):
    table = syscall_table()
    deny = RET_ERRNO | errno.EPERM
    p = []

    def ins(code, k, jt=0, jf=0):
        p.append((code, jt, jf, k))

    ins(LD_W_ABS, OFFSET_ARCH)
    ins(JEQ_K, AUDIT_ARCH_X86_64, 1, 0)
    ins(RET_K, deny)
    ins(LD_W_ABS, OFFSET_NR)
    ins(JGE_K, X32_SYSCALL_BIT, 0, 1)
    ins(RET_K, deny)
    special = set()
    if "mmap" in allowed:
        special.add("mmap")
        ins(JEQ_K, table["mmap"], 0, 5)
        ins(LD_W_ABS, arg(2))
        ins(AND_K, PROT_WRITE | PROT_EXEC)
        ins(JEQ_K, PROT_WRITE | PROT_EXEC, 0, 1)
        ins(RET_K, deny)
        ins(RET_K, RET_ALLOW)
    for name, bit in (("mprotect", PROT_EXEC), ("pkey_mprotect", PROT_EXEC), ("shmat", SHM_EXEC)):
        if name in allowed and name in table:
            special.add(name)
            ins(JEQ_K, table[name], 0, 4)
            ins(LD_W_ABS, arg(2))
            ins(JSET_K, bit, 0, 1)
            ins(RET_K, deny)
            ins(RET_K, RET_ALLOW)
    if "socket" in allowed and families is not None:
        special.add("socket")
        ins(JEQ_K, table["socket"], 0, len(families) + 3)
        ins(LD_W_ABS, arg(0))
        for i, family in enumerate(families):
            ins(JEQ_K, family, len(families) - i, 0)
        ins(RET_K, RET_ERRNO | errno.EAFNOSUPPORT)
        ins(RET_K, RET_ALLOW)
    for name in sorted(allowed - special):
        if name in table:
            ins(JEQ_K, table[name], 0, 1)
            ins(RET_K, RET_ALLOW)
    ins(RET_K, deny)
    return p


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 3:
        sys.exit(__doc__)
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    allowed = set(open(options[0]).read().split())
    families = None
    if len(options) == 3 and options[1] == "--families":
        families = [int(x) for x in options[2].split(",")]
    program = build(allowed, families)
    if len(program) > 4096:
        sys.exit("seccomp_exec: filter too long")
    raw = b"".join(struct.pack("HBBI", *i) for i in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("seccomp_exec: PR_SET_NO_NEW_PRIVS: " + os.strerror(ctypes.get_errno()))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit("seccomp_exec: PR_SET_SECCOMP: " + os.strerror(ctypes.get_errno()))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
