"""Fixtures for the Word2Vec tab's browser tests.

They start the real ``tensorboard`` (with this plugin installed) on a logdir of small real
gensim models and drive it with Playwright in the system's headless Chromium. No browser is
ever downloaded: the tests are skipped when ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from frontend_fixtures import make_logdir  # noqa: E402
from load_test import serving_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
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
SCREENSHOTS = os.path.join(REPO, "test-output", "screenshots")
PLUGIN_ROUTE = "/data/plugin/word2vec"


def _bundle_path() -> str:
    import tensorboard_plugin_w2v

    return os.path.join(os.path.dirname(tensorboard_plugin_w2v.__file__), "static", "index.js")


class TensorBoard:
    """A real TensorBoard process serving ``logdir`` on a loopback port the kernel picks
    (``--port 0``; :attr:`port` and :attr:`url` are set once it serves)."""

    def __init__(self, logdir: str, workdir: str, path_prefix: str = ""):
        self.logdir = logdir
        self.path_prefix = path_prefix
        self.port: int | None = None
        self.url = ""
        handle, self.log_path = tempfile.mkstemp(prefix="tensorboard-", suffix=".log", dir=workdir)
        os.close(handle)
        cmd = [
            sys.executable,
            "-c",
            "from tensorboard.main import run_main; run_main()",
            "--logdir",
            logdir,
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--word2vec_cache_dir",
            os.path.join(workdir, "cache"),
        ]
        if path_prefix:
            cmd += ["--path_prefix", path_prefix]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            self.port = self.port or serving_port(self.log_path)
            if self.port is not None:
                self.url = f"http://127.0.0.1:{self.port}{self.path_prefix}"
                try:
                    with urllib.request.urlopen(self.url + PLUGIN_ROUTE + "/models", timeout=5) as r:
                        json.load(r)
                        return
                except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                    pass
            time.sleep(0.5)
        self.stop()
        with open(self.log_path) as f:
            log = f.read()[-4000:]
        raise RuntimeError(f"TensorBoard did not start (see {self.log_path}):\n{log}")

    def get_json(self, route: str):
        with urllib.request.urlopen(self.url + PLUGIN_ROUTE + route, timeout=30) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (install it with: apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def built_bundle() -> str:
    """The frontend bundle TensorBoard serves; built here when npm and node_modules are there."""
    path = _bundle_path()
    frontend = os.path.join(REPO, "frontend")
    if not os.path.exists(path):
        npm = shutil.which("npm")
        if npm and os.path.isdir(os.path.join(frontend, "node_modules")):
            subprocess.run([npm, "run", "build"], cwd=frontend, check=True)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: build the tab first (cd frontend && npm ci && npm run build)")
    return path


@pytest.fixture(scope="session")
def workdir():
    path = tempfile.mkdtemp(prefix="w2v-e2e-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tensorboard(chromium_path, built_bundle, workdir):
    logdir = make_logdir(os.path.join(workdir, "logs"))
    tb = TensorBoard(logdir, workdir)
    yield tb
    tb.stop()


@pytest.fixture(scope="session")
def prefixed_tensorboard(tensorboard, workdir):
    """A second TensorBoard on the same logdir, served under --path_prefix /tb."""
    tb = TensorBoard(tensorboard.logdir, workdir, path_prefix="/tb")
    yield tb
    tb.stop()


@pytest.fixture(scope="session")
def empty_tensorboard(chromium_path, built_bundle, workdir):
    logdir = os.path.join(workdir, "empty-logs")
    os.makedirs(logdir, exist_ok=True)
    tb = TensorBoard(logdir, workdir)
    yield tb
    tb.stop()


@pytest.fixture(scope="session")
def browser_context(chromium_path, workdir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir),
            executable_path=chromium_path,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    """A fresh tab; fails the test on uncaught JavaScript errors."""
    pg = browser_context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    yield pg
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot(request):
    os.makedirs(SCREENSHOTS, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> str:
        path = os.path.join(SCREENSHOTS, f"{name}.png")
        page.screenshot(path=path, full_page=full_page)
        return path

    return take
