"""``benchmarks/bench_models.py --quick`` runs (the real tensorboard, 200k words) and answers
right; its speed figures go to its JSON and into the test log, never into an assertion."""

from __future__ import annotations

import json

import pytest
from fixtures import run_benchmark


@pytest.mark.slow
def test_quick_models_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "models.json"
    run_benchmark(
        capsys,
        "bench_models.py",
        "--quick",
        "--keep-cache",
        "--data",
        str(tmp_path),
        "--out",
        str(out),
        "vocab",
        "cold",
    )
    report = json.loads(out.read_text())
    vocab = report["vocab"]
    assert vocab["in_process"]["w1"]["total"] == 111_111  # w1, w10…w19, w100…w199999
    assert vocab["in_process"]["w00"]["total"] == 0
    assert vocab["in_process"][""]["total"] == 200_000
    assert set(vocab["socket"]["vocab"]) == set(vocab["prefixes"])
    cold = report["cold"]
    assert not cold["page_cache_dropped"]
    assert all(len(v) == 1 and v[0] > 0 for v in cold["seconds"].values())
    assert cold["answers_equal_gensim"], cold["mismatches"]  # in-process and over the socket, settled and fresh
