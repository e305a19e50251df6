"""The w2v-eval console script: gensim's figures, a table or JSON, one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fixtures import REPO
from gensim.test.utils import datapath

from tensorboard_plugin_w2v.cli import evaluate_cli, visualizer

ROOT = REPO


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, lee_model) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "lee.kv")
    lee_model.wv.save(path)
    return path


def test_json_equals_gensim(model_path, lee_model, capsys):
    assert evaluate_cli.main([model_path, "--json", "--method", "both"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "gensim-keyedvectors" and report["vocab_size"] == len(lee_model.wv)
    by_name = {(r["benchmark"], r.get("method")): r for r in report["results"]}
    assert set(by_name) == {
        ("analogies", "3cosadd"),
        ("analogies", "3cosmul"),
        ("wordsim353", None),
        ("simlex999", None),
    }
    score, sections = lee_model.wv.evaluate_word_analogies(datapath("questions-words.txt"))
    analogies = by_name[("analogies", "3cosadd")]
    assert analogies["total"]["correct"] == len(sections[-1]["correct"])
    assert analogies["total"]["total"] == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert round(analogies["total"]["accuracy"], 4) == round(score, 4)
    pearson, spearman, oov = lee_model.wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    pairs = by_name[("wordsim353", None)]
    assert round(pairs["pearson"]["r"], 4) == round(pearson.statistic, 4)
    assert round(pairs["spearman"]["rho"], 4) == round(spearman.statistic, 4)
    assert round(pairs["oov_ratio"], 4) == round(oov, 4)


def test_table(model_path, lee_model, capsys, tmp_path):
    pairs = tmp_path / "mine.tsv"
    pairs.write_text("man\twoman\t8\nhe\tshe\t9\nman\tyear\t1\n")
    code = evaluate_cli.main([model_path, "-b", "analogies", "-b", str(pairs), "--restrict-vocab", "1000"])
    out = capsys.readouterr().out
    assert code == 0
    assert "analogies (3cosadd, restrict_vocab=1000)" in out
    assert "capital-common-countries" in out and "Total accuracy" in out and "syntactic" in out
    assert "mine.tsv (restrict_vocab=1000)" in out and "Spearman" in out
    score, sections = lee_model.wv.evaluate_word_analogies(
        datapath("questions-words.txt"), restrict_vocab=1000
    )
    total = next(line for line in out.splitlines() if "Total accuracy" in line)
    # Coverage beside accuracy: the questions answered, of the 19,544 in the file.
    with open(datapath("questions-words.txt")) as f:
        in_file = sum(1 for line in f if not line.startswith(":"))
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    header = next(line for line in out.splitlines() if line.split()[:1] == ["section"])
    assert header.split()[-3:] == ["accuracy", "coverage", "skipped"]
    assert total.split()[-3:] == [
        f"{100 * score:.2f}%",
        f"{100 * answered / in_file:.1f}%",
        str(in_file - answered),
    ]
    # A word-pair benchmark: its coverage is the share of pairs gensim did not skip.
    _, _, oov = lee_model.wv.evaluate_word_pairs(str(pairs), restrict_vocab=1000)
    coverage = next(line for line in out.split("mine.tsv")[1].splitlines() if "coverage" in line)
    assert coverage.split()[1] == f"{100 - oov:.1f}%" and "pairs used" in coverage


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("absent.bin", None, "absent.bin: no such file"),
        ("junk.bin", os.urandom(300), "junk.bin"),
        ("empty.txt", b"", "empty.txt"),
    ],
)
def test_bad_model_files(tmp_path, capsys, name, content, needle):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    assert evaluate_cli.main([str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("w2v-eval: error:") and needle in err and "Traceback" not in err


def test_both_commands_word_a_bad_model_file_alike(tmp_path, capsys, model_path):
    """w2v-eval and w2v-visualizer: the same ``PROG: error: PATH: problem`` line for each file."""
    (tmp_path / "notes.txt").write_text("not a model, just words\n")
    (tmp_path / "cut.kv").write_bytes(open(model_path, "rb").read(300))
    for name, problem in [
        ("absent.bin", "no such file"),
        (".", "is a directory, not a model file"),
        ("notes.txt", "is not a word2vec model in any format this plugin reads"),
        ("cut.kv", "the file is truncated or corrupt"),
    ]:
        path = str(tmp_path / name)
        assert evaluate_cli.main([path]) == 2
        eval_err = capsys.readouterr().err
        assert visualizer.main([path, str(tmp_path / "out")]) == 2
        vis_err = capsys.readouterr().err
        assert eval_err.startswith(f"w2v-eval: error: {path}: {problem}"), eval_err
        assert eval_err.removeprefix("w2v-eval") == vis_err.removeprefix("w2v-visualizer")


def test_bad_benchmarks(model_path, tmp_path, capsys):
    assert evaluate_cli.main([model_path, "-b", "toefl"]) == 2
    assert "no benchmark 'toefl'" in capsys.readouterr().err
    broken = tmp_path / "q.txt"
    broken.write_text("a b c d\n")
    assert evaluate_cli.main([model_path, "-b", str(broken)]) == 2
    assert "q.txt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main([model_path, "--method", "nope"])
    assert exit_info.value.code == 2


def test_truncated_model_in_a_real_process(logdir):
    """The console entry point itself: exit status 2 and one line, no traceback."""
    path = os.path.join(logdir, "broken", "truncated.model")
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.evaluate_cli", path],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "truncated.model" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_terminal_sees_a_progress_bar_and_a_pipe_does_not(model_path):
    import fcntl
    import pty
    import struct
    import termios
    import threading

    command = [sys.executable, "-m", "tensorboard_plugin_w2v.cli.evaluate_cli", model_path, "-b", "analogies"]
    main, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    seen = bytearray()

    def read_terminal():
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the program's end of the terminal is closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        done = subprocess.run(command, stderr=follower, stdout=subprocess.PIPE, cwd=ROOT, timeout=300)
    finally:
        os.close(follower)
        reader.join(30)
        os.close(main)
    assert done.returncode == 0 and b"capital-common-countries" in done.stdout
    assert b"analogies (3cosadd)" in seen and b"questions" in seen
    piped = subprocess.run(command, capture_output=True, cwd=ROOT, timeout=300)
    assert piped.returncode == 0 and piped.stderr == b""
