"""``benchmarks/bench_evaluate.py --only google`` runs on a small synthetic model (the real
tensorboard, the first ``/evaluate`` request over a socket) and its figures equal gensim's;
the speed figures go to its JSON and into the test log, never into an assertion."""

from __future__ import annotations

import json

import pytest
from fixtures import run_benchmark


@pytest.mark.slow
def test_google_analogies_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "google.json"
    run_benchmark(
        capsys,
        "bench_evaluate.py",
        "--only",
        "google",
        "--models",
        "synthetic",
        "--synthetic-words",
        "40000",
        "--restrict",
        "30000",
        "--repeats",
        "1",
        "--gensim-repeats",
        "1",
        "--work",
        str(tmp_path),
        "--json",
        str(out),
    )
    (row,) = json.loads(out.read_text())["models"]["synthetic"]
    assert row["same_as_gensim"] and row["asked"] == 19_544  # every analogy word is among the first 20k
    assert row["words"] == 40_000 and row["restrict_vocab"] == 30_000
    assert len(row["route_first_request_s"]) == len(row["in_process_s"]) == 1
