"""Benchmarks checked figure by figure against gensim's own evaluate_word_analogies / _pairs."""

from __future__ import annotations

import doctest
import itertools
import os
import threading
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v.analysis import evaluation as ev
from tensorboard_plugin_w2v.errors import BadRequest, Busy, Conflict, NotFound
from tensorboard_plugin_w2v.search import topk
from tensorboard_plugin_w2v.server import http
from tensorboard_plugin_w2v.server.jobs import BackgroundJobs
from tests.conftest import train_word2vec

QUESTIONS = datapath("questions-words.txt")


@pytest.fixture(scope="session")
def trained_kv() -> KeyedVectors:
    """A Lee model trained long enough to get some analogies right."""
    return train_word2vec(vector_size=64, epochs=25).wv


@pytest.fixture(scope="session")
def euclidean_kv() -> KeyedVectors:
    return KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)


@pytest.fixture(scope="session")
def cased_kv(trained_kv) -> KeyedVectors:
    """Lee vectors plus case variants ("Paris", "PARIS") lying next to their originals, and a
    capitalised variant placed *before* its original: exercises gensim's case folding
    (first occurrence wins) and its rule that predictions equal to a question word are skipped."""
    rng = np.random.default_rng(0)
    known = trained_kv.key_to_index
    front = next(w.title() for w in ("man", "he", "his", "said") if w in known and w.title() not in known)
    keys, vectors = [front], [trained_kv[front.lower()] * 0.5]  # "FRONT" maps to this row, not the original
    keys += trained_kv.index_to_key
    vectors += list(trained_kv.vectors)
    for word in trained_kv.index_to_key[:400]:
        for variant in (word.title(), word.upper()):
            if variant not in known and variant not in keys:
                keys.append(variant)
                vectors.append(trained_kv[word] + rng.normal(0, 0.01, trained_kv.vector_size))
    kv = KeyedVectors(trained_kv.vector_size, count=0)
    kv.add_vectors(keys, np.array(vectors, dtype=np.float32))
    return kv


@pytest.fixture(scope="session")
def tied_kv(trained_kv) -> KeyedVectors:
    """Exact duplicates of frequent words: their scores tie exactly in every question."""
    keys = list(trained_kv.index_to_key)
    dupes = [f"{w}_twin" for w in keys[:300]]
    kv = KeyedVectors(trained_kv.vector_size, count=0)
    kv.add_vectors(keys + dupes, np.vstack([trained_kv.vectors, trained_kv.vectors[:300]]))
    return kv


def cosmul_reference(kv: KeyedVectors, path: str, restrict_vocab: int):
    """gensim's evaluate_word_analogies asking most_similar_cosmul instead of most_similar, on the
    model restricted to its first restrict_vocab words (gensim's own functions throughout)."""
    n = min(restrict_vocab, len(kv))
    restricted = KeyedVectors(kv.vector_size, count=0, dtype=kv.vectors.dtype)
    restricted.add_vectors(kv.index_to_key[:n], kv.vectors[:n])

    def cosmul(positive, negative, topn, restrict_vocab):
        return KeyedVectors.most_similar_cosmul(restricted, positive=positive, negative=negative, topn=topn)

    restricted.most_similar = cosmul
    return restricted.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)


def assert_same_as_gensim(result: ev.AnalogyResult, score: float, sections: list[dict]) -> None:
    assert [s.name for s in result.sections] == [s["section"] for s in sections[:-1]]
    for ours, theirs in zip(result.sections, sections[:-1], strict=True):
        assert ours.correct == theirs["correct"], ours.name
        assert ours.incorrect == theirs["incorrect"], ours.name
    assert result.total.correct == len(sections[-1]["correct"])
    assert result.total.incorrect == len(sections[-1]["incorrect"])
    assert round(result.total.accuracy or 0.0, 4) == round(score, 4)
    assert (result.total.accuracy or 0.0) == pytest.approx(score, abs=0)


MODELS = ["trained_kv", "euclidean_kv", "cased_kv", "tied_kv"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("restrict_vocab", [300_000, 700])
def test_3cosadd_equals_gensim(request, model, restrict_vocab):
    kv = request.getfixturevalue(model)
    score, sections = kv.evaluate_word_analogies(QUESTIONS, restrict_vocab=restrict_vocab)
    result = ev.evaluate_analogies(kv, ev.builtin("analogies"), ev.METHOD_3COSADD, restrict_vocab)
    assert_same_as_gensim(result, score, sections)
    asked = result.total.correct + result.total.incorrect
    assert result.questions == 19544 and result.oov == result.questions - asked


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("restrict_vocab", [300_000, 700])
def test_3cosmul_equals_gensim_cosmul(request, model, restrict_vocab):
    kv = request.getfixturevalue(model)
    score, sections = cosmul_reference(kv, QUESTIONS, restrict_vocab)
    result = ev.evaluate_analogies(kv, ev.builtin("analogies"), ev.METHOD_3COSMUL, restrict_vocab)
    assert_same_as_gensim(result, score, sections)


def test_models_are_informative(trained_kv, cased_kv, tied_kv):
    """The comparisons above mean something: answers are right, case variants and ties occur."""
    result = ev.evaluate_analogies(trained_kv, ev.builtin("analogies"))
    assert result.total.correct > 0 and result.total.incorrect > 0
    assert result.semantic.correct + result.syntactic.correct == result.total.correct
    assert ev.evaluate_analogies(tied_kv, ev.builtin("analogies")).exact_rechecks > 0
    front = cased_kv.index_to_key[0]
    assert front != front.lower() and front.lower() in cased_kv.key_to_index


def test_sections_and_categories():
    parsed = ev.read_analogies(QUESTIONS)
    assert len(parsed.sections) == 14
    assert [ev.section_category(s) for s in parsed.sections] == ["semantic"] * 5 + ["syntactic"] * 9
    assert parsed.question(0) == ("ATHENS", "GREECE", "BAGHDAD", "IRAQ")


def test_evaluation_leaves_the_model_untouched(trained_kv):
    """No norms array is attached and key_to_index is never swapped (gensim swaps it)."""
    kv = KeyedVectors(trained_kv.vector_size, count=0)
    kv.add_vectors(trained_kv.index_to_key, trained_kv.vectors)
    mapping = kv.key_to_index
    ev.evaluate_analogies(kv, ev.builtin("analogies"), ev.METHOD_3COSMUL)
    assert kv.norms is None and kv.key_to_index is mapping


def test_chunked_norms_equal_gensim(euclidean_kv):
    from tensorboard_plugin_w2v.models.norms import row_norms

    expected = np.linalg.norm(euclidean_kv.vectors, axis=1)
    np.testing.assert_array_equal(row_norms(euclidean_kv.vectors, chunk_rows=100), expected)


def test_small_chunks_give_the_same_answers(trained_kv, monkeypatch):
    expected = ev.evaluate_analogies(trained_kv, ev.builtin("analogies"))
    monkeypatch.setattr(topk, "_CHUNK_ELEMENTS", 1000)
    monkeypatch.setattr(ev, "_QUESTION_BLOCK", 7)
    chunked = ev.evaluate_analogies(trained_kv, ev.builtin("analogies"))
    assert [s.correct for s in chunked.sections] == [s.correct for s in expected.sections]
    assert [s.incorrect for s in chunked.sections] == [s.incorrect for s in expected.sections]


def random_model(size: int, dim: int, seed: int, words: list[str]) -> KeyedVectors:
    """Random vectors for ``words`` (in that order) and filler words up to ``size`` words."""
    rng = np.random.default_rng(seed)
    keys = list(dict.fromkeys(words)) + [f"filler{i}" for i in range(max(0, size - len(set(words))))]
    kv = KeyedVectors(dim, count=0)
    kv.add_vectors(keys, rng.standard_normal((len(keys), dim), dtype=np.float32))
    return kv


def question_sample(tmp_path, every: int) -> str:
    """Every ``every``-th question of the Google set, all sections kept."""
    lines = open(QUESTIONS, encoding="utf-8").read().splitlines()
    kept = [line for i, line in enumerate(lines) if line.startswith(":") or i % every == 0]
    path = tmp_path / f"sample{every}.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("method", ev.METHODS)
@pytest.mark.parametrize("chunked", [False, True])
def test_answers_equal_gensim_on_more_models(tmp_path, method, chunked, monkeypatch):
    """Other seeds and sizes, whole-vocabulary and chunked paths: every answer equals gensim's,
    including questions decided by near ties (re-checked) and by the case-folding rules."""
    path = question_sample(tmp_path, 7)
    words = [w for line in open(path, encoding="utf-8") if not line.startswith(":") for w in line.split()]
    models = [
        train_word2vec(seed=seed, vector_size=dim, epochs=epochs).wv
        for seed, dim, epochs in [(2, 32, 5), (4, 16, 10)]
    ]
    models += [random_model(1500, 8, 0, words), random_model(3000, 24, 1, words[::-1])]
    if chunked:
        monkeypatch.setattr(topk, "_CHUNK_ELEMENTS", 5000)
    rechecks = 0
    for kv in models:
        for restrict_vocab in (300_000, 900):
            if method == ev.METHOD_3COSADD:
                score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
            else:
                score, sections = cosmul_reference(kv, path, restrict_vocab)
            result = ev.evaluate_analogies(kv, path, method, restrict_vocab)
            assert_same_as_gensim(result, score, sections)
            rechecks += result.exact_rechecks
    assert rechecks > 0  # the near-tie path ran


def reference_parse(text: str) -> tuple[list[str], list[tuple[str, ...]], list[int]] | str:
    """gensim's line-by-line reading of an analogy file (case-insensitive), or the error."""
    sections, questions, section_of = [], [], []
    lines = text.split("\n")
    for line_no, line in enumerate(lines):
        if line.startswith(": "):
            sections.append(line.lstrip(": ").strip())
            continue
        words = line.upper().split()
        if not sections:
            if not words and line_no == len(lines) - 1:
                continue
            return f"missing ': section' header before line {line_no + 1}"
        if len(words) == 4:
            questions.append(tuple(words))
            section_of.append(len(sections) - 1)
    return (sections, questions, section_of) if sections else "no ': section' lines"


@pytest.mark.parametrize(
    "text",
    [
        ": a\nman woman he she\n",
        ": a\nman woman he she",
        ": a\r\nman woman he she\r\nbroken line\r\n: b c d e\r\nx y z w\r\n",
        ": one\n\n  man\twoman  he\x0bshe \nfive words on this line\n: two\nMan\x1cWoman\x1fHe She\n",
        ": s\nstraße Ärger ı ß\nnon\u2003breaking\xa0space here\n:  spaced  \n: \na b c d\n",
        ": s\nıi ſ a b\n",  # non-ASCII that upper-cases to ASCII
        ": s\n: t\n\n\n",
        ":no space\n: s\na b c d\n",
        "\n: s\na b c d\n",
        "a b c d\n: s\n",
        "",
        "   ",
        "\n",
        "no sections here\n",
    ],
)
def test_parse_equals_line_by_line_reading(tmp_path, text):
    path = tmp_path / "q.txt"
    path.write_bytes(text.encode("utf-8"))
    expected = reference_parse(text)
    if isinstance(expected, str):
        with pytest.raises(ev.BenchmarkError, match=expected):
            ev.read_analogies(str(path))
        return
    sections, questions, section_of = expected
    parsed = ev.read_analogies(str(path))
    assert list(parsed.sections) == sections
    assert [parsed.question(q) for q in range(len(parsed.ids))] == questions
    assert parsed.section_of.tolist() == section_of


def test_parse_of_the_google_set_is_unchanged():
    text = open(QUESTIONS, encoding="utf-8").read()
    sections, questions, section_of = reference_parse(text)
    parsed = ev.read_analogies(QUESTIONS)
    assert list(parsed.sections) == sections and parsed.section_of.tolist() == section_of
    assert [parsed.question(q) for q in range(len(parsed.ids))] == questions
    assert len(parsed.words) == len(set(parsed.words)) == 905


def test_top_columns_equals_sorting():
    rng = np.random.default_rng(3)
    for trial in range(200):
        rows, n, m = int(rng.integers(1, 30)), int(rng.integers(1, 3000)), int(rng.integers(1, 12))
        scores = rng.standard_normal((rows, n), dtype=np.float32)
        if trial % 3 == 0:
            scores = np.round(scores, 1)  # many exact ties
        if trial % 5 == 0:
            scores[rng.random(scores.shape) < 0.3] = np.nan
        if trial % 7 == 0:
            scores[rng.random(scores.shape) < 0.9] = -np.inf
        index, best = topk.top_columns(scores, m)
        clean = np.where(np.isnan(scores), -np.inf, scores)
        np.testing.assert_array_equal(best, -np.sort(-clean, axis=1)[:, : min(m, n)])
        found = index >= 0
        assert (best[~found] == -np.inf).all() and (best[found] > -np.inf).all()
        np.testing.assert_array_equal(
            np.take_along_axis(clean, np.maximum(index, 0), axis=1)[found], best[found]
        )
        assert all(len(set(row[row >= 0].tolist())) == np.count_nonzero(row >= 0) for row in index)


@pytest.mark.parametrize("model", ["trained_kv", "euclidean_kv", "cased_kv"])
@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
@pytest.mark.parametrize("restrict_vocab", [300_000, 600])
def test_word_pairs_equal_gensim(request, model, name, restrict_vocab):
    kv = request.getfixturevalue(model)
    pearson, spearman, oov_ratio = kv.evaluate_word_pairs(
        datapath(ev.BUILTINS[name][1]), restrict_vocab=restrict_vocab
    )
    result = ev.evaluate_pairs(kv, ev.builtin(name), restrict_vocab=restrict_vocab)
    assert result.pearson == pytest.approx(pearson.statistic, abs=1e-9)
    assert result.pearson_pvalue == pytest.approx(pearson.pvalue, abs=1e-9)
    assert result.spearman == pytest.approx(spearman.statistic, abs=1e-9)
    assert result.spearman_pvalue == pytest.approx(spearman.pvalue, abs=1e-9)
    assert result.oov_ratio == pytest.approx(oov_ratio, abs=1e-12)


def test_user_files_in_gensim_formats(tmp_path, trained_kv):
    analogies = tmp_path / "mine.txt"
    analogies.write_text(
        ": family\nman woman he she\nMan Woman His Her\nbroken line\nman woman king zzzunknown\n"
        ": gram-tense\nsay said go went\n\n"
    )
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "# a comment\nman\twoman\t8.3\nsaid\tsays\t9\nbad line\npolice\tman\tx\nman\tyear\t1.5\n"
    )
    score, sections = trained_kv.evaluate_word_analogies(str(analogies))
    result = ev.evaluate_analogies(trained_kv, str(analogies))
    assert result.benchmark.kind == ev.KIND_ANALOGIES
    assert_same_as_gensim(result, score, sections)
    assert result.questions == 4  # the 3-word line is not a question
    assert result.oov >= 1 and result.total.correct + result.total.incorrect >= 1
    assert [s.category for s in result.sections] == ["semantic", "syntactic"]
    pearson, spearman, oov_ratio = trained_kv.evaluate_word_pairs(str(pairs))
    ours = ev.evaluate_pairs(trained_kv, str(pairs))
    assert ours.benchmark.kind == ev.KIND_PAIRS and ours.pairs == 3
    assert ours.pearson == pytest.approx(pearson.statistic) and ours.spearman == pytest.approx(
        spearman.statistic
    )
    assert ours.oov_ratio == pytest.approx(oov_ratio)


def test_bad_benchmark_files(tmp_path, trained_kv):
    no_header = tmp_path / "q.txt"
    no_header.write_text("a b c d\n: section\n")
    with pytest.raises(ev.BenchmarkError, match="missing ': section' header"):
        ev.evaluate_analogies(trained_kv, ev.Benchmark("q", ev.KIND_ANALOGIES, str(no_header)))
    binary = tmp_path / "b.txt"
    binary.write_bytes(b": s\n\xff\xfe a b c\n")
    with pytest.raises(ev.BenchmarkError, match="UTF-8"):
        ev.evaluate_analogies(trained_kv, str(binary))
    empty = tmp_path / "p.tsv"
    empty.write_text("# nothing\n")
    with pytest.raises(ev.BenchmarkError, match="no well-formed word pairs"):
        ev.evaluate_pairs(trained_kv, str(empty))
    with pytest.raises(ev.BenchmarkError, match="not found"):
        ev.evaluate_pairs(trained_kv, str(tmp_path / "missing.tsv"))
    with pytest.raises(BadRequest):
        ev.evaluate_analogies(trained_kv, ev.builtin("analogies"), method="3cosfoo")
    with pytest.raises(NotFound):
        ev.builtin("toefl")


def test_pairs_all_unknown_gives_no_correlation(tmp_path, trained_kv):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("zzqx\tqqzx\t1\n")
    result = ev.evaluate_pairs(trained_kv, str(pairs))
    assert result.pearson is None and result.oov_ratio == 100.0
    assert result.to_json()["spearman"] == {"rho": None, "pvalue": None}


def test_find_benchmarks(tmp_path):
    shared, run = tmp_path / "benchmarks", tmp_path / "run" / "benchmarks"
    for folder in (shared, run):
        folder.mkdir(parents=True)
    (shared / "qs.txt").write_text(": s\na b c d\n")
    (shared / "pairs.tsv").write_text("a\tb\t1\n")
    (run / "pairs.tsv").write_text("c\td\t2\n")
    found = ev.find_benchmarks([(str(shared), "logdir"), (str(run), "run"), (str(tmp_path / "none"), "x")])
    assert set(found) == {"analogies", "wordsim353", "simlex999", "qs.txt", "pairs.tsv"}
    assert found["qs.txt"].kind == ev.KIND_ANALOGIES and found["pairs.tsv"].source == "run"
    assert found["pairs.tsv"].path == os.path.join(str(run), "pairs.tsv")


def test_background_jobs_report_queued_running_then_done():
    jobs = BackgroundJobs(workers=1)
    gate = threading.Event()

    def slow(progress):
        progress.total = 10
        progress.check(3)
        return gate.wait(10) and "finished"

    status, result, cached, progress = jobs.run("slow", slow, wait=0.2)
    assert (status, result, cached) == ("running", None, False)
    assert progress == {"done": 3, "total": 10, "fraction": 0.3}
    assert jobs.run("next", lambda progress: "second", wait=0)[0] == "queued"  # the only worker is busy
    gate.set()
    assert jobs.run("slow", lambda progress: "never run", wait=10) == ("done", "finished", True, None)
    assert jobs.run("next", lambda progress: "never run", wait=10) == ("done", "second", True, None)
    with pytest.raises(NotFound):
        jobs.run("fails", lambda progress: ev.builtin("nope"), wait=10)
    with pytest.raises(ZeroDivisionError):
        jobs.run("crash", lambda progress: 1 / 0, wait=10)
    assert jobs.run("crash", lambda progress: "retried", wait=10) == ("done", "retried", False, None)


def test_cancelled_jobs_stop_and_are_forgotten():
    jobs = BackgroundJobs(workers=1)
    steps = []

    def endless(progress):
        for i in itertools.count():
            progress.check(i)
            steps.append(i)
            time.sleep(0.005)

    assert jobs.run("endless", endless, wait=0.1)[0] == "running"
    assert jobs.run("queued", lambda progress: steps.append("ran"), wait=0)[0] == "queued"
    waiter_saw = []

    def wait_for_endless():
        try:
            jobs.run("endless", endless, wait=10)
        except Conflict as exc:
            waiter_saw.append(exc.to_json())

    waiter = threading.Thread(target=wait_for_endless)
    waiter.start()
    time.sleep(0.05)
    assert jobs.cancel("queued") and jobs.cancel("endless")
    assert not jobs.cancel("endless") and not jobs.cancel("unknown")
    waiter.join(10)
    assert waiter_saw == [{"error": "the evaluation was cancelled", "status": "cancelled"}]
    # forgotten: asking again starts a new job
    assert jobs.run("endless", lambda progress: "restarted", wait=10)[:3] == ("done", "restarted", False)
    ran = len(steps)
    time.sleep(0.05)
    assert len(steps) == ran and "ran" not in steps  # the endless job stopped; the queued one never ran


def test_too_many_pending_jobs_are_refused():
    jobs = BackgroundJobs(workers=1, max_pending=2)
    gate = threading.Event()
    try:
        for key in ("a", "b"):
            jobs.run(key, lambda progress: gate.wait(10), wait=0)
        with pytest.raises(Busy) as refused:
            jobs.run("c", lambda progress: "c", wait=0)
        assert http.status_of(refused.value) == 429
        assert jobs.run("a", lambda progress: "not again", wait=0)[2] is True  # known keys still answer
    finally:
        gate.set()
    for key in ("a", "b"):
        assert jobs.run(key, lambda progress: "not again", wait=10)[0] == "done"
    assert jobs.run("c", lambda progress: "c", wait=10)[:2] == ("done", "c")


def test_progress_counts_the_questions_asked_and_cancels(lee_model):
    progress = ev.Progress()
    result = ev.evaluate_analogies(lee_model.wv, ev.builtin("analogies"), progress=progress)
    assert progress.done == progress.total == result.questions - result.oov > 0
    stopped = ev.Progress()
    stopped.cancel()
    with pytest.raises(ev.Cancelled):
        ev.evaluate_analogies(lee_model.wv, ev.builtin("analogies"), progress=stopped)


def test_sections_count_their_questions_and_skipped_ones(lee_model):
    result = ev.evaluate_analogies(lee_model.wv, ev.builtin("analogies")).to_json()
    gensim_sections = lee_model.wv.evaluate_word_analogies(datapath("questions-words.txt"))[1]
    per_section = {}
    with open(datapath("questions-words.txt")) as f:
        for line in f:
            if line.startswith(": "):
                current = line[2:].strip()
            elif len(line.split()) == 4:
                per_section[current] = per_section.get(current, 0) + 1
    for section, reference in zip(result["sections"], gensim_sections, strict=False):
        assert section["questions"] == per_section[section["section"]]
        asked = len(reference["correct"]) + len(reference["incorrect"])
        assert section["oov"] == section["questions"] - asked
    assert sum(s["oov"] for s in result["sections"]) == result["oov"]


def test_doctests():
    assert doctest.testmod(ev, optionflags=doctest.ELLIPSIS).failed == 0


# -- the /evaluate route ---------------------------------------------------------------------

BASE = "/data/plugin/word2vec"


@pytest.fixture(scope="module")
def eval_site(tmp_path_factory, lee_model):
    """A logdir with one model, a logdir-wide benchmark and a run's own benchmark; a client."""
    from tensorboard.backend.application import TensorBoardWSGI
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

    root = tmp_path_factory.mktemp("evallogdir")
    run = root / "lee"
    (run / "plugins" / "word2vec" / "benchmarks").mkdir(parents=True)
    lee_model.wv.save_word2vec_format(str(run / "vectors.bin"), binary=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "family.txt").write_text(": family\nman woman he she\nhe she his her\n")
    (run / "plugins" / "word2vec" / "benchmarks" / "pairs.tsv").write_text(
        "man\twoman\t8\nhe\tshe\t9\nman\tyear\t1\n"
    )
    (root / "benchmarks" / "broken.txt").write_bytes(b": s\n\xff\xfe\n")
    plugin = Word2VecPlugin(base_plugin.TBContext(logdir=str(root), flags=None))
    return Client(TensorBoardWSGI([plugin])), plugin, root


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.get_json()


def test_route_lists_benchmarks(eval_site):
    client, _, _ = eval_site
    status, data = get(client, "evaluate", run="lee", model="vectors.bin")
    assert status == 200
    assert {(b["name"], b["kind"], b["source"]) for b in data["benchmarks"]} == {
        ("analogies", "analogies", "builtin"),
        ("wordsim353", "pairs", "builtin"),
        ("simlex999", "pairs", "builtin"),
        ("family.txt", "analogies", "logdir"),
        ("broken.txt", "analogies", "logdir"),
        ("pairs.tsv", "pairs", "run"),
    }


@pytest.mark.parametrize("method", ["3cosadd", "3CosMul"])
def test_route_analogies_equal_gensim(eval_site, lee_model, method):
    client, _, _ = eval_site
    status, data = get(
        client, "evaluate", run="lee", model="vectors.bin", benchmark="analogies", method=method, wait=60
    )
    assert status == 200 and data["status"] == "done" and data["method"] == method.lower()
    if method == "3cosadd":
        score, sections = lee_model.wv.evaluate_word_analogies(QUESTIONS)
    else:
        score, sections = cosmul_reference(lee_model.wv, QUESTIONS, 300_000)
    assert [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]] == [
        (s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]
    ]
    assert data["total"]["correct"] == len(sections[-1]["correct"])
    assert round(data["total"]["accuracy"], 4) == round(score, 4)
    assert data["questions"] == 19544 and data["restrict_vocab"] == 300_000
    total = data["semantic"]["total"] + data["syntactic"]["total"]
    assert total == data["total"]["total"] == data["questions"] - data["oov"]


def test_route_pairs_equal_gensim_and_are_cached(eval_site, lee_model):
    client, _, _ = eval_site
    pearson, spearman, oov = lee_model.wv.evaluate_word_pairs(datapath("simlex999.txt"), restrict_vocab=1000)
    query = dict(run="lee", model="vectors.bin", benchmark="simlex999", restrict_vocab=1000, wait=60)
    status, first = get(client, "evaluate", **query)
    assert status == 200 and first["cached"] is False
    assert first["pearson"]["r"] == pytest.approx(pearson.statistic, abs=1e-9)
    assert first["spearman"]["rho"] == pytest.approx(spearman.statistic, abs=1e-9)
    assert first["oov_ratio"] == pytest.approx(oov)
    assert first["pairs"] == first["used"] + first["oov"]
    status, again = get(client, "evaluate", **query)
    assert again["cached"] is True and again["pearson"] == first["pearson"]


def test_route_user_benchmarks(eval_site, lee_model):
    client, _, root = eval_site
    status, data = get(client, "evaluate", run="lee", model="vectors.bin", benchmark="family.txt", wait=60)
    score, sections = lee_model.wv.evaluate_word_analogies(str(root / "benchmarks" / "family.txt"))
    assert status == 200 and data["source"] == "logdir"
    assert data["total"]["correct"] == len(sections[-1]["correct"])
    status, data = get(client, "evaluate", run="lee", model="vectors.bin", benchmark="pairs.tsv", wait=60)
    assert status == 200 and data["source"] == "run" and data["kind"] == "pairs"


def test_route_result_follows_a_replaced_model(tmp_path, lee_model):
    from tensorboard.backend.application import TensorBoardWSGI
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "v.bin"
    lee_model.wv.save_word2vec_format(str(path), binary=True)
    client = Client(
        TensorBoardWSGI([Word2VecPlugin(base_plugin.TBContext(logdir=str(tmp_path), flags=None))])
    )
    query = dict(run="run", model="v.bin", benchmark="wordsim353", wait=60)
    _, before = get(client, "evaluate", **query)
    other = train_word2vec(seed=5, vector_size=16).wv
    other.save_word2vec_format(str(path), binary=True)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    _, after = get(client, "evaluate", **query)
    assert after["cached"] is False
    assert after["pearson"]["r"] == pytest.approx(other.evaluate_word_pairs(datapath("wordsim353.tsv"))[0][0])
    assert after["pearson"]["r"] != before["pearson"]["r"]


def occupy_workers(plugin) -> threading.Event:
    """Keep every evaluation worker of ``plugin`` busy until the returned event is set."""
    gate = threading.Event()
    for n in range(2):  # the plugin's two workers
        assert plugin.jobs.run(("gate", id(gate), n), lambda progress: gate.wait(30), wait=0)[0] in (
            "queued",
            "running",
        )
    return gate


def test_route_answers_202_while_running_and_others_keep_answering(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    try:
        query = dict(run="lee", model="vectors.bin", benchmark="wordsim353", restrict_vocab=1234)
        status, data = get(client, "evaluate", **query, wait=0)
        assert status == 202 and data["status"] == "queued" and data["benchmark"] == "wordsim353"
        assert data["progress"] == {"done": 0, "total": None, "fraction": None}
        status, data = get(client, "neighbors", run="lee", model="vectors.bin", word="police")
        assert status == 200 and data["neighbors"]
    finally:
        gate.set()
    status, data = get(client, "evaluate", **query, wait=30)
    assert status == 200 and data["status"] == "done" and data["pearson"]["r"] is not None


def test_route_cancels_an_evaluation_it_started(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    query = dict(run="lee", model="vectors.bin", benchmark="analogies", restrict_vocab=777)
    cancel_url = "/data/plugin/word2vec/evaluate/cancel"
    try:
        assert get(client, "evaluate", **query, wait=0)[1]["status"] == "queued"
        assert client.post(cancel_url, query_string=query).status_code == 403  # no X-Requested-With
        answer = client.post(cancel_url, query_string=query, headers={"X-Requested-With": "test"})
        assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
        again = client.post(cancel_url, query_string=query, headers={"X-Requested-With": "test"})
        assert again.get_json()["status"] == "not_running"
        status, data = get(client, "evaluate", **query, wait=0)  # asked again: a new evaluation
        assert status == 202 and data["cached"] is False
    finally:
        gate.set()
    status, data = get(client, "evaluate", **query, wait=30)
    assert status == 200 and data["total"]["correct"] + data["total"]["incorrect"] > 0


def test_route_refuses_evaluations_beyond_the_queue_bound(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    original, plugin.jobs.max_pending = plugin.jobs.max_pending, 3  # the two gates and one more
    try:
        assert (
            get(
                client,
                "evaluate",
                run="lee",
                model="vectors.bin",
                benchmark="analogies",
                restrict_vocab=4321,
                wait=0,
            )[0]
            == 202
        )
        response = client.get(
            "/data/plugin/word2vec/evaluate",
            query_string=dict(run="lee", model="vectors.bin", benchmark="simlex999", wait=0),
        )
        assert response.status_code == 429 and response.headers["Retry-After"]
        assert "try again" in response.get_json()["error"]
    finally:
        gate.set()
        plugin.jobs.max_pending = original


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (dict(benchmark="toefl"), 404, "unknown benchmark"),
        (dict(benchmark="analogies", method="3cosfoo"), 400, "method must be one of"),
        (dict(benchmark="analogies", restrict_vocab="0"), 400, "restrict_vocab"),
        (dict(benchmark="analogies", restrict_vocab="many"), 400, "restrict_vocab"),
        (dict(benchmark="analogies", wait="-1"), 400, "wait"),
        (dict(benchmark="broken.txt"), 422, "UTF-8"),
        (dict(run="nope"), 404, "unknown run"),
    ],
)
def test_route_errors_are_json(eval_site, params, status, needle):
    client, _, _ = eval_site
    query = {"run": "lee", "model": "vectors.bin", "wait": 30, **params}
    code, data = get(client, "evaluate", **query)
    assert code == status and needle in data["error"]


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 300, 5), (1000, 300, 3), (3, 2, 2000)])
def test_dot_t_in_pieces_equals_matmul(shape, monkeypatch):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((n, k), dtype=np.float32)
    np.testing.assert_allclose(topk.dot_t(a, b), a @ b.T, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(topk, "_SMALL_PRODUCT", 0)  # the one-call path
    np.testing.assert_allclose(topk.dot_t(a, b), a @ b.T, rtol=1e-5, atol=1e-5)


def test_a_result_is_filed_under_the_version_that_was_evaluated(tmp_path):
    """While a new version of a file loads, the store answers with the previous one: its figures
    must not be remembered as the new version's."""
    from tensorboard.backend.application import TensorBoardWSGI
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

    (tmp_path / "run").mkdir()
    path = str(tmp_path / "run" / "v.bin")
    train_word2vec(seed=1, vector_size=16).wv.save_word2vec_format(path, binary=True)
    plugin = Word2VecPlugin(base_plugin.TBContext(logdir=str(tmp_path), flags=None))
    client = Client(TensorBoardWSGI([plugin]))
    query = dict(run="run", model="v.bin", benchmark="wordsim353", wait=60)
    first = get(client, "evaluate", **query)[1]["pearson"]["r"]
    second = train_word2vec(seed=5, vector_size=24).wv
    second.save_word2vec_format(path, binary=True)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
    loading = plugin.store._path_locks[path]
    loading.acquire()  # the new version is "loading": the old model answers meanwhile
    try:
        assert get(client, "evaluate", **query)[1]["pearson"]["r"] == first
    finally:
        loading.release()
    status, after = get(client, "evaluate", **query)
    assert status == 200 and after["cached"] is False
    assert after["pearson"]["r"] == pytest.approx(
        second.evaluate_word_pairs(datapath("wordsim353.tsv"))[0][0]
    )


def test_tiny_vocabularies_and_zero_vectors_answer_as_gensim(tmp_path):
    """With fewer finite scores than gensim's candidate window (a few words, an all-zero vector,
    3CosMul's log 0), gensim's own ranking of NaN and -inf decides; so must ours."""
    rng = np.random.default_rng(0)
    letters = list("abcdefghijklm")
    compared = 0
    for trial in range(150):
        n, dim = int(rng.integers(4, 14)), int(rng.integers(1, 4))
        words = [w if rng.random() < 0.7 else w.upper() for w in letters[:n]]
        vectors = rng.integers(-2, 3, size=(n, dim)).astype(np.float32)
        if rng.random() < 0.3:
            vectors[rng.integers(n)] = 0
        kv = KeyedVectors(dim, count=0)
        kv.add_vectors(words, vectors)
        path = tmp_path / f"q{trial}.txt"
        sections = [[" ".join(rng.choice(letters[:n], 4)) for _ in range(15)] for _ in range(2)]
        path.write_text(": s1\n" + "\n".join(sections[0]) + "\n: s2\n" + "\n".join(sections[1]) + "\n")
        restrict = int(rng.choice([n, max(1, n - 3), 300000]))
        for method in (ev.METHOD_3COSADD, ev.METHOD_3COSMUL):
            if method == ev.METHOD_3COSADD:
                reference = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict)[1][:-1]
            else:
                reference = cosmul_reference(kv, str(path), restrict)[1][:-1]
            ours = ev.evaluate_analogies(kv, str(path), method, restrict).sections
            assert [(s.correct, s.incorrect) for s in ours] == [
                (r["correct"], r["incorrect"]) for r in reference
            ], (trial, method, words, vectors.tolist())
            compared += 1
    assert compared == 300
