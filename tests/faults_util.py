"""Helpers of the fault tests: small file systems that really fill up, and leftovers to look for."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time

import pytest


@contextlib.contextmanager
def tmpfs(path: str, size: str = "8m"):
    """A tmpfs of ``size`` mounted at ``path`` (root only: skipped with a reason otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill a disk for real needs root")
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        for _ in range(20):
            if subprocess.run(["umount", path], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)  # a thread of the test's server may still hold a file open
        else:
            subprocess.run(["umount", "-l", path], capture_output=True)


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: str, leave: int) -> str:
    """Fill the file system of ``path`` until about ``leave`` bytes are free; the filler's path."""
    filler = os.path.join(path, "filler.bin")
    need = max(0, free_bytes(path) - leave)
    with open(filler, "wb") as f:
        block = b"\0" * (1 << 20)
        while need > 0:
            f.write(block[: min(need, len(block))])
            need -= len(block)
    return filler


def temporaries_under(folder: str) -> list[str]:
    """Every ``.tmp-…`` file or folder under ``folder`` (leftovers of unfinished writes)."""
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, n) for n in dirs + files if n.startswith(".tmp-")]
    return found


def tree(folder: str) -> dict[str, int]:
    """Every file under ``folder`` with its size (to check a folder was left as it was)."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, folder)] = os.path.getsize(full)
    return out


def wait_for(condition, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``condition()`` until it returns something true; that value (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
