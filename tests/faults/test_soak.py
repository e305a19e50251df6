"""Issue 15, fault 6: the soak benchmark's short mode (150 s on the real ``tensorboard``, 16 clients,
files changing all along) keeps memory, descriptors, threads, the store's maps and the cache folder
bounded, with no 5xx and no answer that differs from gensim on the version that produced it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_soak_short_mode(tmp_path):
    out = str(tmp_path / "soak-short.json")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "soak.py"), "--short", "--out", out],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.load(open(out))
    assert report["problems"] == [] and report["server_alive"]
    assert report["server_errors"] == 0 and report["wrong_answers"] == 0
    assert report["checked_against_gensim"] > 100 and report["requests"] > 1000
    assert report["snapshots_logged"] > 10 and report["big_file_replacements"] >= 5
    assert report["rss_growth"] <= 0.05 and report["fds_growth"] <= 5 and report["threads_growth"] <= 5
    # the store's maps stay within the versions listed, the cache folder within its budget (plus an
    # entry being written or in use), from the first sixth on
    samples = report["samples"]
    listed = max(s["listed_versions"] for s in samples)
    assert max(s["failed_versions"] for s in samples) <= listed + 2
    assert max(s["path_locks"] for s in samples) <= listed + 2
    assert report["cache_bytes_max"] <= report["cache_budget_bytes"] + (32 << 20)
    assert os.path.getsize(os.path.splitext(out)[0] + ".svg") > 1000
