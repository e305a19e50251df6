"""Benchmark of the analyses (issue 14): drift between two large models, and WEAT.

    python benchmarks/bench_analysis.py              # two 400k × 300 models
    python benchmarks/bench_analysis.py --quick      # two 50k × 300 models, fewer repeats (CI)

**Drift** is timed as a user meets it: the real ``tensorboard`` command on a logdir holding two
synthetic models (model B is model A rotated, with noise, 1% of A's words dropped, 1,000 new
ones and 100 words moved to random directions). Both models are loaded first (``/vocab``), any
search index build is waited for, and the matrices' pages are read into the page cache (a
memory-mapped model is "loaded" without them; cold, this disk adds its read time), so the
machine is quiet; then the first ``/drift`` answer
(alignment on 50,000 anchors and the drift of every shared word) and later answers (from the
cache keyed by the two file versions, asked with other ``top``/``word``) are timed over HTTP.
The straightforward numpy/scipy code (shared words with a dict, normalised copies,
``scipy.linalg.orthogonal_procrustes``, drift of every shared word, a full sort) runs in this
process on the same files, memory-mapped, and must find the same words.

**WEAT** is timed in this process (the library) and through the real server (``/weat`` with
word lists not asked before): 8-word sets (12,870 splits, enumerated) and 25-word sets (sampled:
the observed split and 99,999 random ones). The straightforward code computes the cosines one
pair at a time and counts the splits one at a time, as May et al. (2019)'s reference code
does; its p-values must equal the library's for the enumerated case.

Results are printed and written as JSON (default ``benchmarks/results/analysis-quick.json`` or
``analysis-full.json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.parse

import numpy as np
from gensim.models import KeyedVectors
from scipy.linalg import orthogonal_procrustes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from load_test import cpu_seconds  # noqa: E402

from benchmarks import synth  # noqa: E402
from tensorboard_plugin_w2v.analysis import weat  # noqa: E402
from tests.tb_process import get_json, listener_pid, tensorboard  # noqa: E402

BASE = "/data/plugin/word2vec"
RUN = "bench"
MOVED = 100


def make_models(folder: str, n: int, dim: int, moved_path: str) -> tuple[str, str, list[str]]:
    """Model A (synthetic clusters) and model B (A rotated, noised, edited) in ``folder``; their
    paths and the words moved (also written to ``moved_path``). Models already written are
    reused, and so are their search indexes."""
    a_path, b_path = os.path.join(folder, "a.kv"), os.path.join(folder, "b.kv")
    if all(os.path.exists(p) for p in (a_path, b_path, moved_path)):
        with open(moved_path) as f:
            saved = json.load(f)
        if saved["size"] == [n, dim]:
            return a_path, b_path, saved["moved"]
    rng = np.random.default_rng(7)
    kv_a = synth.keyed_vectors(n, dim, seed=0)
    keep = np.sort(rng.choice(n, size=n - n // 100, replace=False))
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    vectors = kv_a.vectors[keep] @ rotation.astype(np.float32)
    vectors += rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(0.05)
    moved_rows = rng.choice(len(keep), size=MOVED, replace=False)
    vectors[moved_rows] = rng.standard_normal((MOVED, dim), dtype=np.float32) * np.float32(
        np.linalg.norm(vectors[moved_rows], axis=1).mean() / math.sqrt(dim)
    )
    words = [kv_a.index_to_key[i] for i in keep] + [f"new{i}" for i in range(1000)]
    vectors = np.vstack([vectors, rng.standard_normal((1000, dim), dtype=np.float32)])
    kv_b = KeyedVectors(dim, count=len(words), dtype=np.float32)
    kv_b.index_to_key = words
    kv_b.key_to_index = {w: i for i, w in enumerate(words)}
    kv_b.vectors = vectors
    kv_b.expandos["count"] = np.concatenate([kv_a.expandos["count"][keep], np.ones(1000, np.int64)])
    os.makedirs(folder, exist_ok=True)
    synth.save(kv_a, a_path)
    synth.save(kv_b, b_path)
    moved = [words[i] for i in moved_rows]
    with open(moved_path, "w") as f:
        json.dump({"size": [n, dim], "moved": moved}, f)
    return a_path, b_path, moved


def read_through(paths: list[str]) -> float:
    """Read files once so that their pages are in the page cache; the seconds it took."""
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    return time.perf_counter() - started


def server_cpu_seconds(base: str) -> float:
    """User + system CPU time of the process serving ``base`` (the tensorboard started here)."""
    seconds = cpu_seconds(listener_pid(base))
    if seconds is None:
        raise RuntimeError(f"the process serving {base} is gone")
    return seconds


def straightforward_drift(a: KeyedVectors, b: KeyedVectors, anchors: int = 50_000, top: int = 20):
    """Drift of every shared word with plain numpy/scipy; (most changed words, seconds)."""
    started = time.perf_counter()
    shared = [w for w in a.index_to_key if w in b.key_to_index]
    rows_a = np.array([a.key_to_index[w] for w in shared])
    rows_b = np.array([b.key_to_index[w] for w in shared])
    unit_a = a.vectors[rows_a] / np.linalg.norm(a.vectors[rows_a], axis=1)[:, None]
    unit_b = b.vectors[rows_b] / np.linalg.norm(b.vectors[rows_b], axis=1)[:, None]
    r, _ = orthogonal_procrustes(unit_b[:anchors], unit_a[:anchors])
    drift = 1 - np.sum(unit_a * (unit_b @ r), axis=1)
    order = np.argsort(-drift)
    return [shared[i] for i in order[:top]], time.perf_counter() - started


def straightforward_weat(kv: KeyedVectors, x, y, a, b, samples: int = weat.SAMPLED_SPLITS, seed: int = 0):
    """(effect size, p-value): cosines one pair at a time, splits counted one at a time."""
    targets, attributes = x + y, a + b

    def cos(u, v):
        return np.dot(u, v) / math.sqrt(np.dot(u, u) * np.dot(v, v))

    vec = {w: np.asarray(kv[w], dtype=np.float64) for w in targets + attributes}
    sims = np.array([[cos(vec[w], vec[t]) for t in attributes] for w in targets])
    s = sims[:, : len(a)].mean(axis=1) - sims[:, len(a) :].mean(axis=1)
    effect = (s[: len(x)].mean() - s[len(x) :].mean()) / s.std(ddof=1)
    observed = s[: len(x)].sum()
    if math.comb(len(targets), len(x)) <= weat.MAX_EXACT_SPLITS:
        counts = [s[list(c)].sum() >= observed for c in itertools.combinations(range(len(targets)), len(x))]
    else:
        rng, order = np.random.default_rng(seed), np.arange(len(targets))
        counts = [True]
        for _ in range(samples - 1):
            rng.shuffle(order)
            counts.append(s[order[: len(x)]].sum() >= observed)
    return float(effect), sum(counts) / len(counts)


def word_sets(kv: KeyedVectors, size: int, count: int, seed: int) -> list[list[list[str]]]:
    """``count`` different (X, Y, A, B) of ``size`` words each, from the 20,000 most frequent."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        rows = rng.choice(min(20_000, len(kv)), size=4 * size, replace=False)
        words = [kv.index_to_key[i] for i in rows]
        out.append([words[i * size : (i + 1) * size] for i in range(4)])
    return out


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def bench_weat(kv: KeyedVectors, base: str, size: int, repeats: int, naive_repeats: int) -> dict:
    sets = word_sets(kv, size, repeats + naive_repeats, seed=size)
    library, library_cpu = [], []
    for x, y, a, b in sets[:repeats]:
        cpu = time.process_time()
        seconds, result = timed(lambda x=x, y=y, a=a, b=b: weat.weat(kv, x, y, a, b))
        library_cpu.append(time.process_time() - cpu)
        library.append(seconds)
    naive, agree = [], []
    for x, y, a, b in sets[:naive_repeats]:
        seconds, (effect, p) = timed(lambda x=x, y=y, a=a, b=b: straightforward_weat(kv, x, y, a, b))
        naive.append(seconds)
        ours = weat.weat(kv, x, y, a, b)
        agree.append(abs(ours.effect_size - effect) < 1e-9 and (not ours.exact or ours.p_value == p))
    route = []
    for x, y, a, b in sets[repeats:]:  # never asked before: nothing cached
        query = [("run", RUN), ("model", "a.kv"), ("wait", "60")]
        query += [(key, w) for key, words in zip("xyab", (x, y, a, b), strict=True) for w in words]
        seconds, (status, data) = timed(
            lambda q=query: get_json(f"{base}{BASE}/weat?{urllib.parse.urlencode(q)}")
        )
        assert status == 200 and data["status"] == "done", data
        route.append(seconds)
    p50, naive_p50 = statistics.median(library), statistics.median(naive)
    return {
        "set_size": size,
        "splits": math.comb(2 * size, size)
        if math.comb(2 * size, size) <= weat.MAX_EXACT_SPLITS
        else 100_000,
        "exact": math.comb(2 * size, size) <= weat.MAX_EXACT_SPLITS,
        "library_p50_s": p50,
        "library_max_s": max(library),
        "library_cpu_p50_s": statistics.median(library_cpu),
        "route_first_answer_p50_s": statistics.median(route),
        "straightforward_p50_s": naive_p50,
        "speedup": naive_p50 / p50,
        "agrees_with_straightforward": all(agree),
        "runs": {"library": len(library), "straightforward": len(naive), "route": len(route)},
    }


def wait_for_indexes(base: str, timeout: float = 3600) -> float:
    """Wait until no model's search index is queued or building; the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        _, listing = get_json(f"{base}{BASE}/models")
        states = [(m.get("index") or {}).get("state") for m in listing["models"]]
        if not any(s in ("queued", "building") for s in states):
            return time.perf_counter() - started
        time.sleep(2)
    raise RuntimeError("index builds did not finish")


def run(args) -> dict:
    n, dim = (50_000, 300) if args.quick else (400_000, 300)
    repeats = 5 if args.quick else 20
    work = args.work_dir or tempfile.mkdtemp(prefix="w2v-bench-analysis-")
    logdir = os.path.join(work, "logdir")
    t = time.perf_counter()
    a_path, b_path, moved = make_models(os.path.join(logdir, RUN), n, dim, os.path.join(work, "moved.json"))
    report: dict = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "models": f"{n} x {dim}",
        "write_models_s": round(time.perf_counter() - t, 2),
    }
    print(f"models written ({n} x {dim}) in {report['write_models_s']} s", file=sys.stderr)
    cache = os.path.join(work, "cache")
    with tensorboard(logdir, f"--word2vec_cache_dir={cache}", "--word2vec_memory_budget=20G") as base:
        for name in ("a.kv", "b.kv"):
            seconds, (status, data) = timed(
                lambda name=name: get_json(f"{base}{BASE}/vocab?run={RUN}&model={name}&limit=1")
            )
            assert status == 200, data
            report[f"load_{name}_s"] = round(seconds, 3)
        report["index_wait_s"] = round(wait_for_indexes(base), 1)
        # "Already loaded": the models are memory-mapped; their pages are made resident here so
        # that the first answer measures the computation, not this disk (a cold read of the two
        # matrices is reported beside it).
        report["page_in_s"] = round(read_through([a_path + ".vectors.npy", b_path + ".vectors.npy"]), 2)
        query = f"{base}{BASE}/drift?run={RUN}&model=a.kv&model2=b.kv"
        cpu_before, load_before = server_cpu_seconds(base), os.getloadavg()[0]
        first_s, (status, first) = timed(lambda: get_json(f"{query}&top={MOVED}", timeout=600))
        first_cpu = server_cpu_seconds(base) - cpu_before
        assert status == 200 and first["cached"] is False, first
        later = []
        for i in range(repeats):
            words = "".join(f"&word={urllib.parse.quote(w)}" for w in moved[i : i + 3])
            seconds, (status, again) = timed(lambda w=words, i=i: get_json(f"{query}&top={10 + i}{w}"))
            assert status == 200 and again["cached"] is True, again
            later.append(seconds)
        a = KeyedVectors.load(a_path, mmap="r")
        b = KeyedVectors.load(b_path, mmap="r")
        cpu = time.process_time()
        naive_top, naive_s = straightforward_drift(a, b, top=MOVED)
        naive_cpu = time.process_time() - cpu
        route_top = [r["word"] for r in first["most_changed"]]
        report["drift"] = {
            "shared": first["shared"],
            "anchors": first["anchors"],
            "route_first_answer_s": round(first_s, 3),
            "server_seconds_first": first["seconds"],
            "server_cpu_seconds_first": round(first_cpu, 2),
            "load_average_before_first": load_before,
            "straightforward_cpu_seconds": round(naive_cpu, 2),
            "route_cached_p50_s": round(statistics.median(later), 4),
            "straightforward_s": round(naive_s, 3),
            "speedup_first": round(naive_s / first_s, 2),
            "found_the_moved_words": set(route_top) == set(moved),
            "same_most_changed_as_straightforward": set(route_top) == set(naive_top),
        }
        print(
            f"drift: first {first_s:.2f} s, cached {statistics.median(later) * 1000:.1f} ms", file=sys.stderr
        )
        del a, b
        kv = KeyedVectors.load(a_path, mmap="r")
        report["weat"] = [
            bench_weat(kv, base, 8, repeats, 3 if args.quick else 10),
            bench_weat(kv, base, 25, max(3, repeats // 4), 1 if args.quick else 3),
        ]
    return report


def print_table(report: dict) -> None:
    d = report["drift"]
    print(f"\nanalysis benchmark, two {report['models']} models ({report['when']})")
    print(f"  drift, real tensorboard over HTTP: shared {d['shared']:,}, anchors {d['anchors']:,}")
    print(
        f"    first answer {d['route_first_answer_s']:.2f} s (server {d['server_seconds_first']:.2f} s, "
        f"{d['server_cpu_seconds_first']:.1f} CPU-s; load average {d['load_average_before_first']:.1f}), "
        f"cached {1000 * d['route_cached_p50_s']:.1f} ms; straightforward numpy/scipy {d['straightforward_s']:.2f} s "
        f"({d['speedup_first']:.1f}x; {d['straightforward_cpu_seconds']:.1f} CPU-s); moved words found: {d['found_the_moved_words']}"
    )
    for w in report["weat"]:
        kind = f"{w['splits']:,} {'exact' if w['exact'] else 'sampled'} splits"
        print(
            f"  WEAT {w['set_size']}-word sets ({kind}): library p50 {1000 * w['library_p50_s']:.1f} ms "
            f"({1000 * w['library_cpu_p50_s']:.1f} ms CPU) "
            f"(max {1000 * w['library_max_s']:.1f}), route first answer {1000 * w['route_first_answer_p50_s']:.1f} ms, "
            f"straightforward {1000 * w['straightforward_p50_s']:.0f} ms ({w['speedup']:.0f}x); "
            f"agree: {w['agrees_with_straightforward']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50k x 300 models and fewer repeats (CI)")
    parser.add_argument("--work-dir", help="where to write the models (default: a new temporary folder)")
    parser.add_argument(
        "--json", help="where to write the results (default: benchmarks/results/analysis-*.json)"
    )
    args = parser.parse_args(argv)
    report = run(args)
    print_table(report)
    out = args.json or os.path.join(HERE, "results", f"analysis-{'quick' if args.quick else 'full'}.json")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, out)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
