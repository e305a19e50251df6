"""``benchmarks/bench_index.py --quick`` runs (every synthetic shape at 50k × 100 and GloVe 6B 50d
with the index forced) and what it measures holds: recall@10 against gensim's ``most_similar``
on every model, the saved index reused and its pages brought in after the restart. The speed
figures go to its JSON and into the test log."""

from __future__ import annotations

import json
import os

import pytest
from fixtures import run_benchmark

pytest.importorskip("faiss")


@pytest.mark.slow
def test_quick_index_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "index.json"
    run_benchmark(
        capsys, "bench_index.py", "--quick", "--work-dir", str(tmp_path), "--json", str(out), timeout=1200
    )
    results = json.loads(out.read_text())["results"]
    labels = [r["model"] for r in results]
    assert labels[:4] == [f"50000x100-{shape}" for shape in ("subspace", "tight", "loose", "c3000")]
    for r in results:
        assert r["recall_at_10"] >= 0.95 and r["recall_at_10_restart"] >= 0.95, r
        assert r["calibration"]["recall_at_10"] >= 0.97, r
        assert r["restart_prefetch"] == "mapped" and r["restart_index_resident_fraction"] == 1.0, r
    assert not os.path.exists(tmp_path / "models" / "synth-50000x100-s0.kv")  # generated models removed
