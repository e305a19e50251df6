"""Take docs/screenshot.png: the demo's Word2Vec tab (GloVe, neighbours of "king") in TensorBoard.

Starts ``w2v-demo`` in a temporary folder (the ``demo`` extra must be installed), opens
TensorBoard's page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) and
saves a 1280 × 800 screenshot::

    python scripts/screenshot.py                 # writes docs/screenshot.png
    python scripts/screenshot.py --out shot.png --word queen
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_served(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"w2v-demo exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/data/plugins_listing", timeout=5) as r:
                if "word2vec" in json.load(r):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("w2v-demo did not serve in time")


def shoot(url: str, out: str, word: str) -> None:
    from playwright.sync_api import sync_playwright

    state = quote(f"run=glove&model=glove.6B.50d.kv&q={word}&k=12", safe="")
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        page = context.new_page()
        page.goto(f"{url}/#word2vec&w2v={state}")
        frame = page.frame_locator("iframe[src*='name=word2vec']")
        frame.locator("[data-testid=neighbors-table] tbody tr").nth(11).wait_for(timeout=120_000)
        frame.locator("[data-testid=plot] g.w2v-point").nth(12).wait_for(timeout=60_000)
        page.wait_for_timeout(1000)  # fonts and the plot's last layout
        page.screenshot(path=out)
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "screenshot.png"))
    parser.add_argument("--word", default="king")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="w2v-screenshot-") as work:
        env = dict(
            os.environ,
            PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
            XDG_CACHE_HOME=os.path.join(work, "cache"),
        )
        command = [sys.executable, "-m", "tensorboard_plugin_w2v.cli.demo", "--logdir", "logs"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        with open(os.path.join(work, "w2v-demo.log"), "w") as log:
            proc = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                url = f"http://127.0.0.1:{port}"
                wait_until_served(url, proc)
                shoot(url, args.out, args.word)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
