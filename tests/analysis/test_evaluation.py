"""Benchmarks checked figure by figure against gensim's own evaluate_word_analogies / _pairs."""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest
from fixtures import QUESTIONS, cosmul_reference, train_word2vec
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v.analysis import evaluation as ev
from tensorboard_plugin_w2v.errors import BadRequest, NotFound
from tensorboard_plugin_w2v.search import topk


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


def test_merge_sparse_equals_a_stable_sort_of_old_and_new():
    """Merging candidates keeps each row's best m, best first, earlier entries first among
    equal scores (old ones, then new ones in their order), negative scores included."""
    rng = np.random.default_rng(4)
    for trial in range(300):
        rows, m, n_new = int(rng.integers(1, 20)), int(rng.integers(1, 12)), int(rng.integers(0, 400))
        score = np.round(rng.standard_normal((rows, m)).astype(np.float32), 1)
        score = -np.sort(-score, axis=1)
        if trial % 4 == 0:
            score[:, m // 2 :] = -np.inf  # rows with fewer than m entries so far
        index = np.where(np.isfinite(score), rng.integers(0, 1000, (rows, m)), -1)
        row = rng.integers(0, rows, n_new)
        column = rng.integers(1000, 5000, n_new)
        value = np.round(rng.standard_normal(n_new).astype(np.float32), int(trial % 3))  # ties
        expected_index, expected_score = index.copy(), score.copy()
        for r in range(rows):
            entries = list(zip(score[r].tolist(), index[r].tolist(), strict=True))
            entries += [(v, c) for v, c, rr in zip(value.tolist(), column.tolist(), row.tolist(), strict=True) if rr == r]
            entries = sorted(entries, key=lambda e: -e[0])[:m]  # Python's sort is stable
            expected_score[r] = [v for v, _ in entries]
            expected_index[r] = [c for _, c in entries]
        topk.merge_sparse(index, score, row, column, value)
        np.testing.assert_array_equal(score, expected_score)
        finite = np.isfinite(expected_score)
        np.testing.assert_array_equal(index[finite], expected_index[finite])


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


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 300, 5), (1000, 300, 3), (3, 2, 2000)])
def test_dot_t_in_pieces_equals_matmul(shape, monkeypatch):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((n, k), dtype=np.float32)
    np.testing.assert_allclose(topk.dot_t(a, b), a @ b.T, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(topk, "_SMALL_PRODUCT", 0)  # the one-call path
    np.testing.assert_allclose(topk.dot_t(a, b), a @ b.T, rtol=1e-5, atol=1e-5)


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


@pytest.mark.parametrize("method", ev.METHODS)
def test_pruned_scan_answers_as_gensim(tmp_path, method, monkeypatch):
    """Chunks after the first are scanned with per-section bounds: on clustered vectors (where
    the bounds drop most words), with zero vectors, exact duplicates, a Google-style section
    (every pair with every other pair's first word), a section of unrelated questions and a
    question asked in two sections, every answer equals gensim's."""
    rng = np.random.default_rng(7)
    n, dim = 6000, 32
    centres = rng.standard_normal((300, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 300, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors[[40, 700, 3000]] = 0  # zero vectors: NaN cosines
    vectors[4000:4100] = vectors[100:200]  # exact ties
    firsts = rng.choice(np.arange(200, 400), 14, replace=False)
    offset = 2 * rng.standard_normal(dim).astype(np.float32)
    vectors[firsts + 200] = vectors[firsts] + offset + 0.2 * rng.standard_normal((14, dim)).astype(np.float32)
    pairs = [(f"w{a}", f"w{a + 200}") for a in firsts]  # one relation: mostly answered right
    keys = [f"w{i}" for i in range(n)]
    keys[5] = "W2"  # a case variant behind its original
    kv = KeyedVectors(dim, count=0)
    kv.add_vectors(keys, vectors)
    grid = [f"{a} {b} {c} {d}" for a, b in pairs for c, d in pairs if (a, b) != (c, d)]
    loose = [" ".join(f"w{i}" for i in rng.integers(0, 2000, 4)) for _ in range(12)]
    loose += ["w40 w1 w2 w3", "w1 w700 w2 w3", "w1 w2 w3000 w4", grid[0]]
    path = tmp_path / "pruned.txt"
    path.write_text(": grid\n" + "\n".join(grid) + "\n: loose\n" + "\n".join(loose) + "\n", encoding="utf-8")
    monkeypatch.setattr(topk, "_CHUNK_ELEMENTS", 20_000)  # chunks of 256 words: 23 of them
    for restrict_vocab in (300_000, 2500):
        if method == ev.METHOD_3COSADD:
            score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict_vocab)
        else:
            score, sections = cosmul_reference(kv, str(path), restrict_vocab)
        result = ev.evaluate_analogies(kv, str(path), method, restrict_vocab)
        assert_same_as_gensim(result, score, sections)
        assert result.total.correct > 0 and result.total.incorrect > 0
