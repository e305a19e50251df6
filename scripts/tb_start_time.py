"""How long the real ``tensorboard`` takes to start with and without this plugin.

Starts TensorBoard on an empty logdir and times from process start until ``/data/plugins_listing``
answers, alternating: without the plugin (its ``tensorboard_plugins`` entry point filtered out,
as if it were not installed), and with it, from this checkout or from other checkouts given with
``--with NAME=DIR`` (e.g. an older commit exported with ``git archive``). Prints the medians.

    python scripts/tb_start_time.py --runs 7
    python scripts/tb_start_time.py --with before=/tmp/old-checkout --runs 7 --json
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


def start_seconds(checkout: str | None, logdir: str, timeout: float = 120) -> tuple[float, list[str]]:
    """Seconds until the plugin listing answers, and the plugins it lists."""
    port = free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if checkout:
        env["PYTHONPATH"] = checkout
    mode = "with" if checkout else "without"
    argv = [sys.executable, "-c", LAUNCH, mode, "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port)]
    began = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - began < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {proc.returncode}")
            try:
                url = f"http://127.0.0.1:{port}/data/plugins_listing"
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.loads(response.read())
                return time.monotonic() - began, sorted(listing)
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
    args = parser.parse_args(argv)
    variants = {"without plugin": None, "with plugin (this checkout)": REPO}
    for spec in args.others:
        name, _, folder = spec.partition("=")
        variants[f"with plugin ({name})"] = os.path.abspath(folder)
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as logdir:
        for _ in range(args.runs):
            for name, checkout in variants.items():
                seconds, plugins = start_seconds(checkout, logdir)
                assert ("word2vec" in plugins) == (checkout is not None), plugins
                times[name].append(seconds)
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    if args.json:
        print(json.dumps({"runs": args.runs, "median_seconds": medians, "seconds": times}, indent=1))
    else:
        for name, median in medians.items():
            spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
            print(f"{name:40s} median {median:.2f} s  ({spread} s over {args.runs} starts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
