"""Speed of the plugin's batched benchmarks against gensim's own, in one process.

    python benchmarks/bench_evaluate.py                      # Lee model + 100k×300 synthetic model
    python benchmarks/bench_evaluate.py --vocab 300000 --questions 5000 --repeats 5 --cosmul
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_evaluate.py   # steadier on a busy machine
    python benchmarks/bench_evaluate.py --only lee --repeats 30  # the Lee model's evaluations only
    python benchmarks/bench_evaluate.py --only google --work /work/benchdata/analogies  # issue 13

Two models: a Word2Vec trained on gensim's Lee corpus (all 19,544 Google analogy questions
are asked; most are out of vocabulary), and a synthetic model whose vocabulary holds every
analogy word plus filler words (so every question is asked). On the synthetic model gensim
needs one pass over the vocabulary per question, so a ``--questions`` sample of the file,
spread over all sections, keeps the run short; both sides answer the same file. Runs alternate
between gensim, the plugin with its parse cache cleared (so it reads the file as gensim does),
and the plugin with the parsed file cached (as in TensorBoard once a benchmark has been read);
medians are printed with their ratios, and the figures of both are checked to be equal.

``--only google`` times the whole Google analogy set as a user meets it: the first ``/evaluate``
request of a freshly started ``tensorboard`` over a socket (the model loaded, but nothing
evaluated yet: norms, vocabulary tables and parsing are part of the time; the request is sent
once the server's own start-up work is over), beside the same
first evaluation in-process (a fresh load of the file) and gensim's ``evaluate_word_analogies``
on its own fresh load, for each ``restrict_vocab``, on Stanford's GloVe 6B 50d (400,000 words;
the ``demo`` extra) and on a synthetic clustered 400k × 50 model holding every analogy word.
Accuracy and every section's counts are checked to equal gensim's; medians, ratios and the
load average are printed and written as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tensorboard_plugin_w2v.analysis import benchmarks as bench_files  # noqa: E402
from tensorboard_plugin_w2v.analysis import comparison  # noqa: E402
from tensorboard_plugin_w2v.analysis import evaluation as ev  # noqa: E402

QUESTIONS = datapath("questions-words.txt")


def lee_model() -> KeyedVectors:
    sentences = LineSentence(datapath("lee_background.cor"))
    return Word2Vec(sentences, vector_size=100, min_count=5, epochs=20, seed=1, workers=1).wv


def synthetic_model(
    vocab: int, dim: int, seed: int = 0, vectors: np.ndarray | None = None, within: int | None = None
) -> KeyedVectors:
    """Random vectors (or ``vectors``) for every analogy word (original case) spread among
    filler words (among the first ``within`` words, as frequent words are, if given)."""
    words: list[str] = []
    seen = set()
    with open(QUESTIONS, encoding="utf-8") as f:
        for line in f:
            if not line.startswith(":"):
                for w in line.split():
                    if w not in seen:
                        seen.add(w)
                        words.append(w)
    rng = np.random.default_rng(seed)
    keys = [f"filler{i}" for i in range(max(vocab - len(words), 0))]
    spread = len(keys) if within is None else min(within, len(keys))
    for w, pos in zip(words, np.sort(rng.integers(0, spread + 1, len(words)))[::-1], strict=True):
        keys.insert(int(pos), w)
    kv = KeyedVectors(dim, count=0)
    kv.add_vectors(
        keys, rng.standard_normal((len(keys), dim), dtype=np.float32) if vectors is None else vectors
    )
    return kv


def projected_model(kv: KeyedVectors, dim: int, seed: int = 1) -> KeyedVectors:
    """``kv`` randomly projected to ``dim`` dimensions, plus noise: neighbourhoods partly kept."""
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal((kv.vector_size, dim), dtype=np.float32) / np.sqrt(dim)
    vectors = kv.vectors @ projection
    vectors += rng.standard_normal(vectors.shape, dtype=np.float32) * 0.3
    out = KeyedVectors(dim, count=0)
    out.add_vectors(kv.index_to_key, vectors)
    return out


def sample_questions(n: int, folder: str) -> str:
    """A copy of questions-words.txt with about ``n`` questions, evenly spread over the sections."""
    with open(QUESTIONS, encoding="utf-8") as f:
        lines = f.read().splitlines()
    total = sum(1 for line in lines if not line.startswith(":"))
    every = max(1, total // n)
    out, i = [], 0
    for line in lines:
        if line.startswith(":"):
            out.append(line)
        else:
            if i % every == 0:
                out.append(line)
            i += 1
    path = os.path.join(folder, f"questions-{n}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return path


def cosmul_reference(kv: KeyedVectors, restrict_vocab: int) -> Callable[[str], object]:
    """gensim's evaluate_word_analogies asking most_similar_cosmul instead of most_similar, on
    a copy of the first restrict_vocab words (made once, outside the timings)."""
    n = min(restrict_vocab, len(kv))
    shell = KeyedVectors(kv.vector_size, count=0, dtype=kv.vectors.dtype)
    shell.add_vectors(kv.index_to_key[:n], kv.vectors[:n])
    shell.fill_norms()

    def cosmul(positive, negative, topn, restrict_vocab):
        return KeyedVectors.most_similar_cosmul(shell, positive=positive, negative=negative, topn=topn)

    shell.most_similar = cosmul
    return lambda path: shell.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def compare(label: str, ours: Callable[[], object], theirs: Callable[[], object], same, repeats: int) -> None:
    """Alternate gensim, the plugin with its parse cache cleared, and the plugin with the parsed
    file cached (as the plugin serves a file it has read before); fast cases repeat more."""
    times: dict[str, list[float]] = {"gensim": [], "cold": [], "warm": []}
    results = {}
    runs = 0
    while runs < repeats or (runs < 50 and sum(times["gensim"]) < 1.0):
        bench_files._read_analogies_cached.cache_clear()
        bench_files._read_pairs_cached.cache_clear()
        for name, fn in (("gensim", theirs), ("cold", ours), ("warm", ours)):
            t, results[name] = timed(fn)
            times[name].append(t)
        runs += 1
    g, cold, warm = (statistics.median(times[k]) for k in ("gensim", "cold", "warm"))
    agree = "same figures" if same(results["cold"], results["gensim"]) else "FIGURES DIFFER"
    print(
        f"  {label:<20} gensim {g:9.4f}s | plugin {cold:8.4f}s ×{g / cold:6.1f}"
        f" | parse cached {warm:8.4f}s ×{g / warm:6.1f}  ({runs} runs, {agree})",
        flush=True,
    )


def same_analogies(ours: ev.AnalogyResult, theirs) -> bool:
    score, sections = theirs
    return all(
        o.correct == t["correct"] and o.incorrect == t["incorrect"]
        for o, t in zip(ours.sections, sections[:-1], strict=True)
    )


def same_pairs(ours: ev.PairsResult, theirs) -> bool:
    pearson, spearman, oov = theirs
    return round(ours.pearson, 4) == round(pearson.statistic, 4) and round(ours.spearman, 4) == round(
        spearman.statistic, 4
    )


def bench_model(name: str, kv: KeyedVectors, path: str, repeats: int, cosmul: bool) -> None:
    questions = ev.benchmark_file(path)
    asked = ev.evaluate_analogies(kv, questions)
    n = asked.total.correct + asked.total.incorrect
    print(f"{name}: {len(kv)} words × {kv.vector_size}, {asked.questions} questions, {n} in vocabulary")
    kv.fill_norms()  # both sides start from a model whose norms are known (gensim keeps them)
    compare(
        "analogies 3CosAdd",
        lambda: ev.evaluate_analogies(kv, questions, ev.METHOD_3COSADD),
        lambda: kv.evaluate_word_analogies(path),
        same_analogies,
        repeats,
    )
    if cosmul:
        reference = cosmul_reference(kv, ev.DEFAULT_RESTRICT_VOCAB)
        compare(
            "analogies 3CosMul",
            lambda: ev.evaluate_analogies(kv, questions, ev.METHOD_3COSMUL),
            lambda: reference(path),
            same_analogies,
            repeats,
        )
    for name in ("wordsim353", "simlex999"):
        bench = ev.builtin(name)
        compare(
            f"pairs {name}",
            lambda bench=bench: ev.evaluate_pairs(kv, bench),
            lambda bench=bench: kv.evaluate_word_pairs(bench.path),
            same_pairs,
            repeats,
        )


def bench_compare(label: str, a: KeyedVectors, b: KeyedVectors, words: int, gensim_words: int) -> None:
    """Jaccard@10 of the first ``words`` words; on the first ``gensim_words`` of them, also the
    same overlaps from a most_similar loop (gensim), timed against the plugin."""
    chosen = a.index_to_key[:words]
    t_ours, result = timed(lambda: comparison.compare(a, b, chosen, k=10, scope=comparison.SCOPE_ALL))
    print(f"  {label:<20} plugin {t_ours:8.4f}s for {len(result.words)} words", flush=True)
    if not gensim_words:
        return
    few = chosen[:gensim_words]

    def loop():
        return [
            comparison.jaccard(
                {x for x, _ in a.most_similar(w, topn=10)}, {x for x, _ in b.most_similar(w, topn=10)}
            )
            for w in few
        ]

    t_gensim, overlaps = timed(loop)
    t_ours, result = timed(lambda: comparison.compare(a, b, few, k=10, scope=comparison.SCOPE_ALL))
    print(
        f"  {label:<20} gensim {t_gensim:9.4f}s | plugin {t_ours:8.4f}s ×{t_gensim / t_ours:6.1f}"
        f"  for {len(few)} words (mean Jaccard {result.mean_jaccard:.4f} vs {np.mean(overlaps):.4f})",
        flush=True,
    )


# -- the Google analogies through the route (issue 13) ---------------------------------------

GOOGLE_RESTRICTS = (30_000, 300_000)


def google_models(work: str, synthetic_words: int = 400_000) -> dict[str, str]:
    """Logdirs holding one 400k × 50 model each, written once under ``work``: ``glove`` (GloVe
    6B 50d, when the demo extra is installed) and ``synthetic`` (benchmarks/synth's clustered
    vectors under the analogy words and filler words); name → logdir."""
    from benchmarks import synth
    from tensorboard_plugin_w2v.cli import demo

    logdirs = {}
    source = demo.glove_files()
    if source is not None:
        logdir = os.path.join(work, "logdir-glove")
        if not os.path.exists(os.path.join(logdir, demo.GLOVE_RUN, demo.GLOVE_MODEL)):
            os.makedirs(logdir, exist_ok=True)
            demo.write_glove(os.path.join(logdir, demo.GLOVE_RUN), *source)
        logdirs["glove"] = logdir
    else:
        print("GloVe 6B 50d is not installed (pip install '.[demo]'): synthetic model only")
    logdir = os.path.join(
        work, "logdir-synthetic" + ("" if synthetic_words == 400_000 else f"-{synthetic_words}")
    )
    path = os.path.join(logdir, "synthetic", f"synth-{synthetic_words}x50-frequent-analogy-words.kv")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        vectors = synth.vectors(synthetic_words, 50)
        synth.save(synthetic_model(synthetic_words, 50, vectors=vectors, within=20_000), path)
    logdirs["synthetic"] = logdir
    return logdirs


def _model_file(logdir: str) -> tuple[str, str]:
    """(run, model file name) of the one model in ``logdir``."""
    run = next(d for d in sorted(os.listdir(logdir)) if os.path.isdir(os.path.join(logdir, d)))
    model = next(f for f in sorted(os.listdir(os.path.join(logdir, run))) if f.endswith(".kv"))
    return run, model


def _route_first_evaluation(logdir: str, restrict: int) -> tuple[float, dict]:
    """Seconds from the first ``/evaluate`` request of a fresh ``tensorboard`` (model already
    loaded by a ``/vocab`` request) to its answer over the socket, and the answer."""
    import requests

    from benchmarks.bench_analysis import server_cpu_seconds
    from tests.tb_process import tensorboard

    run, model = _model_file(logdir)
    with tensorboard(logdir) as base:
        url = f"{base}/data/plugin/word2vec"
        loaded = requests.get(
            f"{url}/vocab", params={"run": run, "model": model, "prefix": "a", "limit": 1}, timeout=300
        )
        loaded.raise_for_status()
        # Let TensorBoard finish its own start-up work (imports that hold the GIL) first.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            before = server_cpu_seconds(base)
            time.sleep(1)
            if server_cpu_seconds(base) - before < 0.05:
                break
        query = {"run": run, "model": model, "benchmark": "analogies", "restrict_vocab": restrict, "wait": 60}
        started = time.perf_counter()
        while True:
            response = requests.get(f"{url}/evaluate", params=query, timeout=120)
            if response.status_code != 202:
                break
        seconds = time.perf_counter() - started
        response.raise_for_status()
        return seconds, response.json()


def _same_as_gensim(route: dict, score: float, sections: list[dict]) -> bool:
    by_name = {s["section"]: (len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]}
    ours = {s["section"]: (s["correct"], s["incorrect"]) for s in route["sections"]}
    return ours == by_name and route["total"]["accuracy"] == score


def bench_google(args: argparse.Namespace) -> dict:
    """The issue-13 measure: first ``/evaluate`` of the Google set vs gensim, per model and restriction."""
    from tensorboard_plugin_w2v.models.loading import load_model

    results: dict = {"machine": {"cpus": os.cpu_count()}, "models": {}}
    for name, logdir in google_models(args.work, args.synthetic_words).items():
        if name not in args.models:
            continue
        run, model = _model_file(logdir)
        path = os.path.join(logdir, run, model)
        for restrict in args.restrict:
            gensim_t, plugin_t, route_t, loads = [], [], [], []
            same = True
            for i in range(args.repeats):
                loads.append(os.getloadavg()[0])
                if i < max(1, args.gensim_repeats):  # gensim gives the figures compared
                    kv = KeyedVectors.load(path, mmap="r")
                    started = time.perf_counter()
                    score, sections = kv.evaluate_word_analogies(QUESTIONS, restrict_vocab=restrict)
                    gensim_t.append(time.perf_counter() - started)
                bench_files._read_analogies_cached.cache_clear()
                fresh = load_model(path).kv
                started = time.perf_counter()
                ours = ev.evaluate_analogies(fresh, ev.builtin("analogies"), restrict_vocab=restrict)
                plugin_t.append(time.perf_counter() - started)
                t, route = _route_first_evaluation(logdir, restrict)
                route_t.append(t)
                loads.append(os.getloadavg()[0])
                same &= _same_as_gensim(route, score, sections) and ours.total.accuracy == score
            g, p, r = (statistics.median(x) for x in (gensim_t, plugin_t, route_t))
            row = {
                "words": len(fresh.index_to_key),
                "dim": fresh.vector_size,
                "restrict_vocab": restrict,
                "accuracy": score,
                "asked": ours.total.correct + ours.total.incorrect,
                "gensim_s": gensim_t,
                "in_process_s": plugin_t,
                "route_first_request_s": route_t,
                "ratio_in_process": g / p,
                "ratio_route": g / r,
                "same_as_gensim": same,
                "loadavg_1min": loads,
            }
            results["models"].setdefault(name, []).append(row)
            print(
                f"{name} {row['words']}×{row['dim']} restrict_vocab={restrict}: accuracy {score:.4f} "
                f"({row['asked']} asked; {'same figures and section counts as gensim' if same else 'FIGURES DIFFER'})\n"
                f"  gensim {g:8.2f} s | in-process {p:6.3f} s ×{g / p:5.1f} | route, first request "
                f"{r:6.3f} s ×{g / r:5.1f}   (medians of {len(route_t)}, gensim {len(gensim_t)}; "
                f"load {min(loads):.1f}–{max(loads):.1f})",
                flush=True,
            )
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, args.json)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=100_000, help="synthetic model's words")
    parser.add_argument("--dim", type=int, default=300, help="synthetic model's dimension")
    parser.add_argument("--questions", type=int, default=3000, help="questions asked of the synthetic model")
    parser.add_argument(
        "--compare-words", type=int, default=200, help="words compared by gensim on the synthetic model"
    )
    parser.add_argument("--cosmul", action="store_true", help="also time 3CosMul on the synthetic model")
    parser.add_argument(
        "--only",
        choices=("lee", "synthetic", "google"),
        help="time one model only (the Lee model: analogies and pairs, without the comparison); "
        "google: the Google analogies through the route on 400k × 50 models",
    )
    parser.add_argument(
        "--work",
        default=os.path.join(tempfile.gettempdir(), "w2v-bench-evaluate"),
        help="google: where the models are written (once)",
    )
    parser.add_argument(
        "--restrict",
        type=int,
        nargs="+",
        default=list(GOOGLE_RESTRICTS),
        help="google: restrict_vocab values",
    )
    parser.add_argument("--gensim-repeats", type=int, default=3, help="google: gensim runs (the slow side)")
    parser.add_argument("--json", help="google: write the figures here")
    parser.add_argument(
        "--models", nargs="+", default=["glove", "synthetic"], help="google: glove and/or synthetic"
    )
    parser.add_argument(
        "--synthetic-words", type=int, default=400_000, help="google: the synthetic model's words (CI: fewer)"
    )
    args = parser.parse_args(argv)
    if args.only == "google":
        print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n", flush=True)
        bench_google(args)
        return
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={threads}, "
        f"medians of at least {args.repeats} runs\n"
    )
    if args.only != "synthetic":
        bench_lee(args)
    if args.only != "lee":
        bench_synthetic(args)


def bench_lee(args: argparse.Namespace) -> None:
    lee = lee_model()
    bench_model("Lee corpus Word2Vec", lee, QUESTIONS, args.repeats, cosmul=True)
    if args.only == "lee":
        return
    other = Word2Vec(
        LineSentence(datapath("lee_background.cor")),
        vector_size=50,
        min_count=5,
        epochs=20,
        seed=2,
        workers=1,
    ).wv
    bench_compare("compare (Lee)", lee, other, 1000, gensim_words=1000)
    print()


def bench_synthetic(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        sample = sample_questions(args.questions, folder)
        kv = synthetic_model(args.vocab, args.dim)
        bench_model("synthetic", kv, sample, args.repeats, cosmul=args.cosmul)
        other = projected_model(kv, args.dim // 2)
        bench_compare("compare (synthetic)", kv, other, 1000, gensim_words=args.compare_words)


if __name__ == "__main__":
    main()
