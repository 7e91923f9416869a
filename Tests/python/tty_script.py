#!/usr/bin/env python3
"""Runs a command on a real pseudo-terminal and answers its prompts, as a person would.

    tty_script.py DIALOGUE.json COMMAND [ARGUMENT ...]

DIALOGUE is a JSON list of [prompt, answer] pairs: wait until the prompt appears, then type
the answer and Enter. Prints the whole terminal transcript on stdout, then "EXIT <status>".
The caller checks the prompts, and that secrets typed were never echoed.
"""
import json
import os
import select
import sys
import time

dialogue = json.loads(sys.argv[1])
command = sys.argv[2:]
pid, fd = os.forkpty()
if pid == 0:
    os.execv(command[0], command)

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


for prompt, answer in dialogue:
    read_until(prompt.encode())
    os.write(fd, answer.encode() + b"\n")
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
read_until(b"\x00", timeout=0.5)
sys.stdout.write(transcript.decode(errors="replace"))
sys.stdout.write(f"\nEXIT {status}\n")
