"""``benchmarks/bench_analysis.py --quick`` runs (the real tensorboard, two 50k × 300 models) and
its answers are right; the speed figures go to its JSON and into the test log."""

from __future__ import annotations

import json

import pytest
from fixtures import run_benchmark


@pytest.mark.slow
def test_quick_analysis_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "analysis.json"
    run_benchmark(
        capsys,
        "bench_analysis.py",
        "--quick",
        "--work-dir",
        str(tmp_path),
        "--json",
        str(out),
    )
    report = json.loads(out.read_text())
    drift = report["drift"]
    assert drift["found_the_moved_words"] and drift["same_most_changed_as_straightforward"]
    assert drift["shared"] == 49_500 and drift["anchors"] == 49_500
    assert drift["route_cached_p50_s"] < drift["route_first_answer_s"]
    eight, twenty_five = report["weat"]
    assert eight["exact"] and eight["splits"] == 12_870 and eight["agrees_with_straightforward"]
    assert (
        not twenty_five["exact"]
        and twenty_five["splits"] == 100_000
        and twenty_five["agrees_with_straightforward"]
    )
