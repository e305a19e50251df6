"""``benchmarks/bench_socket.py --quick`` (CI's smoke run of the socket benchmark): the real
``tensorboard`` over a socket answers from the saved index after a restart, and its answers agree
with gensim's ``most_similar``, whether the restart finds the files in memory or has to read
them from disk again (their page cache dropped). Only behaviour is asserted; the timings go to the test log."""

from __future__ import annotations

import json

import pytest
from fixtures import run_benchmark

pytestmark = pytest.mark.slow


def test_quick_socket_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "socket.json"
    run_benchmark(
        capsys,
        "bench_socket.py",
        "--quick",
        "--page-cache",
        "both",
        "--work-dir",
        str(tmp_path),
        "--json",
        str(out),
        timeout=1200,
    )
    report = json.loads(out.read_text())
    assert report["index"]["state"] == "ready" and list(report["socket"]) == ["warm", "cold"]
    for s in report["socket"].values():
        assert s["per_restart"][0]["index"]["from_cache"] is True
        assert s["answers_exact"] == [0]  # every answer after the restart came from the saved index
        assert s["recall_at_10"] >= 0.95
        assert s["environment_p50_s"] > 0 and s["neighbors_p50_s"] > 0
        assert s["server_cpu_ms_per_request"]["neighbors"] > 0
    assert report["in_process"]["recall_at_10"] >= 0.95
    assert report["ratios"]["gensim_over_in_process_route"] > 0
    assert report["machine"]["load_average"]["before"]
