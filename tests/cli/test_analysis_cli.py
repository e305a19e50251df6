"""w2v-drift and w2v-eval --weat: the library's figures, a table or JSON, one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from analysis_fixtures import wiki_word2vec
from fixtures import REPO, train_word2vec
from scipy.linalg import orthogonal_procrustes

from tensorboard_plugin_w2v.analysis import weat
from tensorboard_plugin_w2v.cli import drift as drift_cli
from tensorboard_plugin_w2v.cli import evaluate_cli

ROOT = REPO


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift_cli")
    a, b = train_word2vec(seed=1, epochs=5), train_word2vec(seed=2, epochs=5, min_count=8)
    paths = {
        "a": str(folder / "a.model"),
        "b": str(folder / "b.bin"),
        "small": str(folder / "small.txt"),
        "wiki": str(folder / "wiki.kv"),
    }
    a.save(paths["a"])
    b.wv.save_word2vec_format(paths["b"], binary=True)  # another format, no counts
    train_word2vec(seed=1, epochs=1, vector_size=8).wv.save_word2vec_format(paths["small"])
    wiki_word2vec().wv.save(paths["wiki"])
    return paths, a.wv, b.wv


def test_drift_json_is_the_procrustes_drift(files):
    paths, a, b = files
    result = subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.drift", paths["a"], paths["b"], "--json", "-k", "5",
         "--word", "police"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["a"] == {"path": paths["a"], "format": "gensim-word2vec", "vocab_size": len(a), "dim": 32}
    assert data["b"]["format"] == "word2vec-binary"
    shared = [w for w in a.index_to_key if w in b.key_to_index]
    unit_a = np.array([a[w] / np.linalg.norm(a[w]) for w in shared], dtype=np.float64)
    unit_b = np.array([b[w] / np.linalg.norm(b[w]) for w in shared], dtype=np.float64)
    r, _ = orthogonal_procrustes(unit_b, unit_a)
    values = dict(zip(shared, 1 - np.einsum("ij,ij->i", unit_a, unit_b @ r), strict=True))
    assert data["shared"] == data["anchors"] == len(shared)
    assert len(data["most_changed"]) == len(data["least_changed"]) == 5
    np.testing.assert_allclose(
        [r["drift"] for r in data["most_changed"]], sorted(values.values())[::-1][:5], atol=2e-6
    )
    for row in data["most_changed"] + data["least_changed"] + data["words"]:
        assert row["drift"] == pytest.approx(values[row["word"]], abs=2e-6)


def test_drift_table(files, capsys):
    paths, _a, _b = files
    assert drift_cli.main([paths["a"], paths["b"], "--anchors", "200", "-k", "3", "--word", "police"]) == 0
    out = capsys.readouterr().out
    assert "shared words: 1038, anchors: 200" in out
    assert "most changed:" in out and "least changed:" in out
    assert "police" in out and "rank " in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["absent.bin", "b"], "file not found: absent.bin"),
        (["a", "junk.bin"], "junk.bin is not a word2vec model"),
        (["a", "small"], "small.txt: the two models have different dimensions (32 and 8)"),
        (["a", "b", "--anchors", "0"], "--anchors must be at least 1"),
        (["a", "b", "--word", "Polise"], "word 'Polise' is not in model A's vocabulary"),
    ],
)
def test_drift_errors(files, tmp_path, capsys, args, needle):
    paths, _a, _b = files
    (tmp_path / "junk.bin").write_bytes(os.urandom(300))
    argv = [paths.get(x, str(tmp_path / x) if x.endswith(".bin") else x) for x in args]
    assert drift_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("w2v-drift: error:") and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_eval_weat_json_and_table(files, capsys):
    paths, _a, _b = files
    assert evaluate_cli.main([paths["wiki"], "--weat", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"] == []  # --weat alone runs no benchmark
    assert report["weat"] == json.loads(json.dumps(weat.run_all(wiki_word2vec().wv)))
    assert evaluate_cli.main([paths["wiki"], "--weat", "-b", "wordsim353"]) == 0
    out = capsys.readouterr().out
    assert "wordsim353" in out and "WEAT (Caliskan et al. 2017)" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("weat8 "))
    expected = weat.run_builtin(wiki_word2vec().wv, "weat8")
    assert f"{expected.effect_size:.3f}" in row and "12,870 exact" in row
    assert "at least 2 are needed" in next(
        line for line in out.splitlines() if line.strip().startswith("weat9 ")
    )
