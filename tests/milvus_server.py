"""Start the real Milvus standalone server (the ``milvus`` package on PyPI) for tests and benchmarks.

``milvus-server`` runs ``milvus run standalone`` as a child process with an embedded etcd. Every
port it listens on is chosen free here, etcd's included (through an etcd configuration file
named by ``ETCD_CONFIG_PATH``, which Milvus reads), so the server never collides with another
Milvus (say, another test run) on the same machine. It runs in its own process group, which
:meth:`MilvusServer.stop` and :meth:`MilvusServer.kill` end as a whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

# milvus-server's options for the ports of Milvus's components (all on one machine).
PORT_OPTIONS = (
    "--proxy-port",
    "--etcd-port",
    "--root-coord-port",
    "--proxy-internal-port",
    "--query-coord-port",
    "--query-node-port",
    "--index-coord-port",
    "--index-node-port",
    "--data-coord-port",
    "--data-node-port",
)


def executable() -> str | None:
    """The ``milvus-server`` command, or None when the ``milvus`` package is not installed."""
    found = shutil.which("milvus-server") or os.path.join(os.path.dirname(sys.executable), "milvus-server")
    return found if os.path.exists(found) else None


def missing() -> str | None:
    """Why the real server cannot be started here, or None."""
    if executable() is None:
        return "the Milvus standalone server is not installed (pip install 'milvus>=2.3,<2.4')"
    try:
        import pymilvus  # noqa: F401
    except ImportError:
        return "pymilvus is not installed (pip install '.[milvus]')"
    return None


def _free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(n):  # held open together, so the ports differ
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


class MilvusServer:
    """A running ``milvus-server``: ``uri`` to connect, ``stop``/``kill`` to end it."""

    def __init__(self, data_dir: str, startup_seconds: float = 240.0):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        ports = _free_ports(len(PORT_OPTIONS) + 1)
        self.ports = dict(zip(PORT_OPTIONS, ports, strict=False))
        peer = ports[-1]
        etcd = self.ports["--etcd-port"]
        self.etcd_config = os.path.join(self.data_dir, "etcd.yaml")
        with open(self.etcd_config, "w") as f:
            f.write(
                "name: default\n"
                f"listen-client-urls: http://127.0.0.1:{etcd}\n"
                f"advertise-client-urls: http://127.0.0.1:{etcd}\n"
                f"listen-peer-urls: http://127.0.0.1:{peer}\n"
                f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
                f"initial-cluster: default=http://127.0.0.1:{peer}\n"
            )
        self.uri = f"http://127.0.0.1:{self.ports['--proxy-port']}"
        self.log_path = os.path.join(self.data_dir, "milvus-server.log")
        self.proc: subprocess.Popen | None = None
        self.start(startup_seconds)

    def start(self, startup_seconds: float = 240.0) -> None:
        exe = executable()
        if exe is None:
            raise RuntimeError(missing())
        args = [exe, "--data", self.data_dir]
        for option, port in self.ports.items():
            args += [option, str(port)]
        env = {**os.environ, "ETCD_CONFIG_PATH": self.etcd_config}
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        # If this process dies without stopping the server (SIGKILL), a watchdog ends its group.
        self.watchdog = subprocess.Popen(
            ["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 2; done; kill -9 -{self.proc.pid}"],
            start_new_session=True,
        )
        deadline = time.monotonic() + startup_seconds
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus-server exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"Milvus did not start within {startup_seconds:.0f}s; see {self.log_path}")
            time.sleep(0.5)

    def _answers(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", self.ports["--proxy-port"])) != 0:
                return False
        try:
            from pymilvus import MilvusClient

            client = MilvusClient(uri=self.uri, timeout=5)
            client.list_collections()
            client.close()
            return True
        except Exception:
            return False

    @property
    def pids(self) -> list[int]:
        """Processes of the server's group (the wrapper and ``milvus run standalone``)."""
        if self.proc is None:
            return []
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.getpgid(int(name)) == self.proc.pid:
                        out.append(int(name))
                except OSError:
                    pass
        return out

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """End the server at once (SIGKILL to the whole group), as a crash would."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self._wait_group_gone()
        self.proc = None

    def stop(self) -> None:
        """End the server: SIGTERM to the group, SIGKILL after 15 s."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        self._wait_group_gone()
        self.proc = None

    def _wait_group_gone(self, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while self.pids and time.monotonic() < deadline:
            self._signal_group(signal.SIGKILL)
            time.sleep(0.2)
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None and watchdog.poll() is None:
            watchdog.kill()
            watchdog.wait(timeout=5)


@contextlib.contextmanager
def milvus_server(data_dir: str):
    """A running server in ``data_dir`` for the duration of the block."""
    server = MilvusServer(data_dir)
    try:
        yield server
    finally:
        server.stop()
