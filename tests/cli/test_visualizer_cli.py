"""``w2v-visualizer``, run as a real subprocess, read back by TensorBoard's Projector."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from fixtures import REPO, projector_client, projector_embedding, projector_runs, train_word2vec
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from tb_process import get_json, tensorboard

from tensorboard_plugin_w2v.cli import visualizer
from tensorboard_plugin_w2v.writers import projector, summary


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.visualizer", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, lee_model) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("models")
    files = {
        "native": str(folder / "lee.model"),
        "binary": str(folder / "lee.bin"),
        "glove": str(folder / "glove.txt"),
        "fasttext-vec": str(folder / "lee_fasttext.vec"),
    }
    lee_model.save(files["native"])
    lee_model.wv.save_word2vec_format(files["binary"], binary=True)
    shutil.copy(datapath("test_glove.txt"), files["glove"])
    shutil.copy(datapath("lee_fasttext.vec"), files["fasttext-vec"])
    return files


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI called in-process (fast), as ``(exit status, stdout, stderr)``."""
    try:
        status = visualizer.main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def check_run(out, model_path: str, name: str) -> None:
    """The Projector shows the model written to ``out``: every word, every value, in order."""
    kv = projector.load(model_path).kv
    client = projector_client(str(out))
    assert projector_runs(client) == ["."]
    values, labels = projector_embedding(client, ".", name)
    assert labels == [projector.clean_label(w) for w in kv.index_to_key]
    np.testing.assert_array_equal(values, kv.vectors)


def test_cli_as_a_subprocess(tmp_path, model_files):
    out = tmp_path / "logs"
    result = run_cli(model_files["binary"], str(out))
    assert result.returncode == 0, result.stderr
    assert f"tensorboard --logdir {out}" in result.stdout
    check_run(out, model_files["binary"], "lee")
    missing = run_cli(str(tmp_path / "missing.bin"), str(out))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr == f"w2v-visualizer: error: {tmp_path / 'missing.bin'}: no such file\n"


@pytest.mark.parametrize("kind", ["native", "glove", "fasttext-vec"])
def test_cli_reads_every_format(tmp_path, capsys, model_files, kind):
    status, stdout, stderr = cli(capsys, model_files[kind], str(tmp_path / "logs"))
    assert status == 0, stderr
    check_run(tmp_path / "logs", model_files[kind], os.path.splitext(os.path.basename(model_files[kind]))[0])


def test_cli_limit_and_name_and_a_second_run_replacing_the_first(tmp_path, capsys, model_files, lee_model):
    out = tmp_path / "logs"
    assert cli(capsys, model_files["binary"], str(out))[0] == 0
    status, stdout, stderr = cli(
        capsys, model_files["native"], str(out), "--limit", "500", "--name", "Lee 500"
    )
    assert status == 0, stderr
    assert "500 words x 32 dimensions" in stdout
    client = projector_client(str(out))
    info = client.get("/data/plugin/projector/info", query_string={"run": "."}).get_json()
    assert [e["tensorName"] for e in info["embeddings"]] == ["Lee 500"]
    values, labels = projector_embedding(client, ".", "Lee 500")
    assert labels == lee_model.wv.index_to_key[:500]
    np.testing.assert_array_equal(values, lee_model.wv.vectors[:500])


def test_cli_errors_name_the_file_and_exit_2(tmp_path, capsys, model_files):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model, just words\n")
    truncated = tmp_path / "truncated.model"
    truncated.write_bytes(open(model_files["native"], "rb").read(300))
    cases = [
        (str(tmp_path), "is a directory"),
        (str(notes), "is not a word2vec model"),
        (str(truncated), "truncated or corrupt"),
    ]
    for path, problem in cases:
        status, _, stderr = cli(capsys, path, str(tmp_path / "out"))
        assert status == 2, (path, stderr)
        assert stderr.startswith(f"w2v-visualizer: error: {path}: ") and problem in stderr
    status, _, stderr = cli(capsys, model_files["binary"], str(notes))
    assert status == 2 and "is not a directory" in stderr
    status, _, stderr = cli(capsys, model_files["binary"], str(tmp_path / "out"), "--limit", "0")
    assert status == 2 and "must be at least 1" in stderr
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_cli_reports_an_unreadable_file(tmp_path, capsys, model_files):
    path = tmp_path / "locked.bin"
    shutil.copy(model_files["binary"], path)
    path.chmod(0)
    status, _, stderr = cli(capsys, str(path), str(tmp_path / "out"))
    assert status == 2 and "permission denied" in stderr


def test_cli_says_when_the_projector_will_not_show_every_word(tmp_path, capsys):
    rows = projector.PROJECTOR_POINT_LIMIT + 5
    kv = KeyedVectors(2, count=0)
    kv.add_vectors(
        [f"w{i}" for i in range(rows)], np.random.default_rng(0).normal(size=(rows, 2)).astype(np.float32)
    )
    path = str(tmp_path / "big.bin")
    kv.save_word2vec_format(path, binary=True)
    assert visualizer.main([path, str(tmp_path / "all"), "--progress"]) == 0
    captured = capsys.readouterr()
    assert "the Projector loads the first 100,000 only" in captured.err
    assert "tensor" in captured.err  # the progress bar
    assert visualizer.main([path, str(tmp_path / "some"), "--limit", "100000", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "100,000 words" in captured.out


def test_cli_help_mentions_the_point_limit(capsys):
    status, stdout, _ = cli(capsys, "--help")
    assert status == 0 and "100,000" in stdout and "--limit" in stdout


@pytest.mark.slow
def test_real_tensorboard_shows_what_the_writers_wrote(tmp_path, model_files):
    """The real ``tensorboard`` command lists the CLI's run in the Projector and the loss in Scalars."""
    logdir = tmp_path / "logs"
    assert run_cli(model_files["binary"], str(logdir / "cli")).returncode == 0
    train_word2vec(
        epochs=2, compute_loss=True, callbacks=[summary.TrainingLogger(str(logdir / "train"), name="lee")]
    )
    with tensorboard(str(logdir)) as base:
        deadline = time.monotonic() + 60
        while True:
            runs = json.loads(urllib.request.urlopen(f"{base}/data/plugin/projector/runs", timeout=10).read())
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert runs == ["cli"]
        query = urllib.parse.urlencode({"run": "cli", "name": "lee"})
        tensor = urllib.request.urlopen(f"{base}/data/plugin/projector/tensor?{query}", timeout=10).read()
        kv = projector.load(model_files["binary"]).kv
        np.testing.assert_array_equal(
            np.frombuffer(tensor, dtype="<f4").reshape(kv.vectors.shape), kv.vectors
        )
        status, tags = get_json(f"{base}/data/plugin/scalars/tags")
        assert status == 200 and "lee/loss" in tags["train"]
        status, models = get_json(f"{base}/data/plugin/word2vec/models")
        assert {("cli", "lee"), ("train", "lee")} <= {(m["run"], m["model"]) for m in models["models"]}
