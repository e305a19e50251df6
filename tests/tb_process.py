"""Start the real ``tensorboard`` command on a loopback port the kernel picks, for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from load_test import serving_port  # noqa: E402


def get_json(url: str, timeout: float = 30) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextlib.contextmanager
def tensorboard(logdir: str, *extra_args: str, startup_seconds: float = 90):
    """Yield the base URL of a running ``tensorboard`` serving ``logdir``; stop it afterwards.

    It is started with ``--port 0`` and binds a port the kernel picks (:func:`serving_port`)."""
    proc, log = _start(logdir, extra_args)
    try:
        base = _wait_until_serving(proc, log, startup_seconds)
    except BaseException:
        _stop(proc, log)
        raise
    try:
        yield base
    finally:
        _stop(proc, log)


def _start(logdir: str, extra_args: tuple[str, ...]):
    exe = shutil.which("tensorboard") or os.path.join(os.path.dirname(sys.executable), "tensorboard")
    handle, path = tempfile.mkstemp(prefix="tensorboard-", suffix=".log", dir=os.path.join(logdir, os.pardir))
    os.close(handle)
    log = open(path, "w")
    env = dict(os.environ)
    # This checkout's plugin, not whichever copy was last installed in site-packages (the
    # entry point is found through the installed metadata; its modules through the path).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [exe, "--logdir", logdir, "--host", "127.0.0.1", "--port", "0", *extra_args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    return proc, log


def _wait_until_serving(proc, log, startup_seconds: float) -> str:
    deadline = time.monotonic() + startup_seconds
    port = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"tensorboard exited with {proc.returncode}; see {log.name}")
        port = port or serving_port(log.name)
        try:
            if port is not None:
                status, listing = get_json(f"http://127.0.0.1:{port}/data/plugins_listing", timeout=5)
                if status == 200 and "word2vec" in listing:
                    return f"http://127.0.0.1:{port}"
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"tensorboard did not start within {startup_seconds}s; see {log.name}")
        time.sleep(0.3)


def _stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def listener_pid(base: str) -> int:
    """The pid of the process listening on ``base``'s port (a ``tensorboard`` started above)."""
    port = int(base.rsplit(":", 1)[1])
    wanted = f"{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].rsplit(":", 1)[1] == wanted and fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise LookupError(f"no process listens on port {port}")
