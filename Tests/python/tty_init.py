#!/usr/bin/env python3
"""Drives `credbroker vault init` through a real pseudo-terminal, as a person would.

    tty_init.py CREDBROKER VAULT PASSPHRASE REPEAT

Prints the whole terminal transcript on stdout, then a line "EXIT <status>". The caller
checks that the prompts appeared and that the passphrase was never echoed.
"""
import os
import select
import sys
import time

credbroker, vault, first, second = sys.argv[1:5]
pid, fd = os.forkpty()
if pid == 0:
    os.execv(credbroker, [credbroker, "vault", "init", "--vault", vault, "--kdf", "interactive"])

transcript = b""


def read_until(marker, timeout=20.0):
    global transcript
    deadline = time.time() + timeout
    while marker not in transcript and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            transcript += chunk


read_until(b"Passphrase for the new vault: ")
os.write(fd, first.encode() + b"\n")
read_until(b"Repeat the passphrase: ")
os.write(fd, second.encode() + b"\n")
# Wait at most 60 s, reading the terminal meanwhile: a hung child must fail the test,
# not block it.
status = None
deadline = time.time() + 60
while status is None and time.time() < deadline:
    done, raw = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(raw)
    else:
        read_until(b"\x00", timeout=0.2)
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    status = "TIMEOUT"
read_until(b"\x00", timeout=0.5)  # drain what is left
sys.stdout.write(transcript.decode(errors="replace"))
sys.stdout.write(f"\nEXIT {status}\n")
