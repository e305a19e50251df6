"""How long the real ``tensorboard`` takes to start with and without this plugin.

Starts TensorBoard on an empty logdir and times from process start until ``/data/plugins_listing``
answers, alternating: without the plugin (its ``tensorboard_plugins`` entry point filtered out,
as if it were not installed), and with it, from this checkout or from other checkouts given with
``--with NAME=DIR`` (e.g. an older commit exported with ``git archive``). Prints the medians.

    python scripts/tb_start_time.py --runs 7
    python scripts/tb_start_time.py --with before=/tmp/old-checkout --runs 7 --json
    python scripts/tb_start_time.py --no-tensorflow     # TensorBoard without TensorFlow
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TensorBoard's own entry point, with the word2vec entry point removed when asked to.
LAUNCH = """
import sys
if sys.argv.pop(1) == "no-tf":  # as if TensorFlow were not installed: TensorBoard uses its stub
    class _NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(name)
    sys.meta_path.insert(0, _NoTensorFlow())
import tensorboard.default as default
if sys.argv.pop(1) == "without":
    original = default._iter_entry_points
    default._iter_entry_points = lambda group: [e for e in original(group) if e.name != "word2vec"]
from tensorboard.main import run_main
run_main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_seconds(
    checkout: str | None, logdir: str, tensorflow: bool = True, timeout: float = 120
) -> tuple[float, float, list[str]]:
    """Seconds until the plugin listing answers, the CPU seconds the process used by then, and
    the plugins it lists."""
    port = free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if checkout:
        env["PYTHONPATH"] = checkout
    mode = "with" if checkout else "without"
    argv = [
        sys.executable,
        "-c",
        LAUNCH,
        "tf" if tensorflow else "no-tf",
        mode,
        "--logdir",
        logdir,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    began = time.monotonic()
    # cwd: ``python -c`` puts the working directory first on sys.path, before PYTHONPATH.
    proc = subprocess.Popen(argv, env=env, cwd=logdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - began < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {proc.returncode}")
            try:
                url = f"http://127.0.0.1:{port}/data/plugins_listing"
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.loads(response.read())
                return time.monotonic() - began, cpu_seconds(proc.pid), sorted(listing)
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"tensorboard did not answer within {timeout}s")
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per variant (default: %(default)s)")
    parser.add_argument("--with", dest="others", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--no-tensorflow", action="store_true", help="start TensorBoard as if TensorFlow were not installed"
    )
    args = parser.parse_args(argv)
    variants = {"without plugin": None, "with plugin (this checkout)": REPO}
    for spec in args.others:
        name, _, folder = spec.partition("=")
        variants[f"with plugin ({name})"] = os.path.abspath(folder)
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as logdir:
        for _ in range(args.runs):
            for name, checkout in variants.items():
                seconds, used, plugins = start_seconds(checkout, logdir, not args.no_tensorflow)
                assert ("word2vec" in plugins) == (checkout is not None), plugins
                times[name].append(seconds)
                cpu[name].append(used)
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    cpu_medians = {name: round(statistics.median(t), 3) for name, t in cpu.items()}
    if args.json:
        figures = {"median_seconds": medians, "median_cpu_seconds": cpu_medians, "seconds": times, "cpu": cpu}
        print(json.dumps({"runs": args.runs, **figures}, indent=1))
    else:
        for name, median in medians.items():
            spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
            print(
                f"{name:40s} median {median:.2f} s ({spread} s over {args.runs} starts), "
                f"CPU {cpu_medians[name]:.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
