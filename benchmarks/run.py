"""Benchmark: the plugin's routes against gensim on large models (synthetic or given).

    python benchmarks/run.py --quick                      # CI: small sizes, under two minutes
    python benchmarks/run.py                              # 3M × 300 and 400k × 50
    python benchmarks/run.py --sizes 1000000x300 --model ~/GoogleNews-vectors-negative300.bin

For every model, a fresh server process (TensorBoard's WSGI app with only this plugin, called
through ``werkzeug.test.Client``: the whole request/response path without a socket) is timed
from its first request (empty cache: no index, no vocabulary cache yet). A second fresh process,
the restart, reuses the saved index and vocabulary cache and measures warm neighbour queries (default settings), resident memory, and
gensim's ``most_similar`` on the same memory-mapped vectors in that process, each gensim query
alternating with an ``exact=1`` request so both see the same machine load; gensim's answers are
the reference for recall@10. A logdir of 100 models measures the listing. The table is printed
and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BASE = "/data/plugin/word2vec"
RUN = "."  # the model's own folder is the logdir, so the index cache key is its real path


# -- the server side (runs in a fresh process) ----------------------------------------------


def _rss() -> dict:
    """Resident memory of this process, in bytes (anonymous and file-backed pages)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


COSMUL_QUERIES = 10  # 3CosMul triples per model, at most


def _serve(spec: dict) -> dict:
    """Start a plugin on ``spec['logdir']``; time the first answer, the build, warm queries, memory."""
    t_start = time.perf_counter()
    import argparse as _argparse

    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from tensorboard_plugin_w2v.server.loader import Word2VecLoader

    parser = _argparse.ArgumentParser()
    loader = Word2VecLoader()
    loader.define_flags(parser)
    flags = parser.parse_args([f"--word2vec_cache_dir={spec['cache_dir']}", "--word2vec_memory_budget=20G"])
    loader.fix_flags(flags)
    plugin = loader.load(base_plugin.TBContext(logdir=spec["logdir"], flags=flags))
    if spec.get("exact_max_cells") is not None:
        plugin.indexes.exact_max_cells = spec["exact_max_cells"]
    client = Client(application.TensorBoardWSGI([plugin]))
    out: dict = {"import_and_start_s": time.perf_counter() - t_start, "rss_baseline": _rss()}

    def call(route: str, **params):
        response = client.get(f"{BASE}/{route}", query_string=params)
        if response.status_code != 200:
            raise RuntimeError(f"{route} {params}: {response.status_code} {response.get_data(as_text=True)}")
        return response.get_json()

    t = time.perf_counter()
    listing = call("models")
    out["listing_s"] = time.perf_counter() - t
    out["listing_models"] = len(listing["models"])
    if spec.get("listing_only"):
        t = time.perf_counter()
        call("models")
        out["listing_again_s"] = time.perf_counter() - t
        return out
    words, name = spec["words"], spec["model"]
    t = time.perf_counter()
    first = call("neighbors", run=RUN, model=name, word=words[0], k=10)
    out["first_answer_s"] = time.perf_counter() - t
    out["first_answer_exact"] = first["exact"]
    version = plugin.catalog.runs()[RUN][name].version()
    model = plugin.store.get(version)
    handle = model.index
    out["index_state_at_first_answer"] = handle.state if handle else None
    out["vocabulary_from_cache"] = not isinstance(model.kv.key_to_index, dict)
    out["rss_first_answer"] = _rss()
    if not spec.get("wait_build", True):
        return out
    if handle is not None:
        t = time.perf_counter()
        last = 0.0
        while not handle.wait(30):
            progress = handle.status().get("progress", 0)
            if progress - last >= 0.1:
                print(
                    f"  index build {100 * progress:.0f}% ({time.perf_counter() - t:.0f}s)", file=sys.stderr
                )
                last = progress
        out["index"] = handle.status()
        out["index_wait_s"] = time.perf_counter() - t
    out["rss_after_build"] = _rss()
    # Warm-up: a few queries touch the index and the rows they re-score.
    for w in words[:5]:
        call("neighbors", run=RUN, model=name, word=w, k=10)
    lat, answers = [], []
    for w in words:
        t = time.perf_counter()
        data = call("neighbors", run=RUN, model=name, word=w, k=10)
        lat.append(time.perf_counter() - t)
        answers.append([n["word"] for n in data["neighbors"]])
    out["route_latency_s"] = lat
    out["route_answers"] = answers
    out["route_exact"] = data["exact"]
    out["rss_serving"] = _rss()
    # gensim's most_similar on the same (memory-mapped) vectors in this process, warm, each
    # query alternating with the exact=1 route so that both see the same machine load.
    from tensorboard_plugin_w2v.models.norms import ensure_norms

    kv = model.kv
    t = time.perf_counter()
    ensure_norms(kv)  # the values gensim's fill_norms computes, without its 3.6 GB temporary
    out["norms_s"] = time.perf_counter() - t
    kv.most_similar(words[0], topn=10)
    call("neighbors", run=RUN, model=name, word=words[0], k=10, exact=1)
    g_lat, g_answers, e_lat, e_answers = [], [], [], []
    for i, w in enumerate(words):
        t = time.perf_counter()
        g_answers.append([x for x, _ in kv.most_similar(w, topn=10)])
        g_lat.append(time.perf_counter() - t)
        if i < spec["exact_queries"]:
            t = time.perf_counter()
            data = call("neighbors", run=RUN, model=name, word=w, k=10, exact=1)
            e_lat.append(time.perf_counter() - t)
            e_answers.append([n["word"] for n in data["neighbors"]])
    out["gensim_latency_s"], out["gensim_answers"] = g_lat, g_answers
    out["exact_latency_s"], out["exact_answers"] = e_lat, e_answers
    # 3CosMul through the route (exact: one walk over the matrix) against gensim's
    # most_similar_cosmul (three passes), alternating on the same triples.
    triples = [words[i : i + 3] for i in range(0, 3 * min(COSMUL_QUERIES, spec["exact_queries"]), 3)]
    triples = [t for t in triples if len(t) == 3]
    c_lat, c_gensim, c_same = [], [], []
    for a, b, c in triples:
        t = time.perf_counter()
        theirs = [x for x, _ in kv.most_similar_cosmul(positive=[a, c], negative=[b], topn=10)]
        c_gensim.append(time.perf_counter() - t)
        t = time.perf_counter()
        data = call("analogy", run=RUN, model=name, positive=[a, c], negative=[b], method="3cosmul", exact=1)
        c_lat.append(time.perf_counter() - t)
        c_same.append([n["word"] for n in data["neighbors"]] == theirs)
    out["cosmul_latency_s"], out["cosmul_gensim_latency_s"], out["cosmul_same"] = c_lat, c_gensim, c_same
    out["rss_after_exact"] = _rss()
    return out


# -- the driver -----------------------------------------------------------------------------


def _serve_in_subprocess(spec: dict) -> dict:
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_serve", json.dumps(spec)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return statistics.mean(len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(found, truth, strict=False))


def bench_model(
    path: str,
    label: str,
    work: str,
    n_queries: int,
    exact_queries: int,
    index_cache: str | None,
    exact_max_cells: int | None = None,
    seed: int = 1,
) -> dict:
    """Everything measured for one model file (served from its own folder as the logdir)."""
    import numpy as np

    from tensorboard_plugin_w2v.models.loading import load_model

    path = os.path.abspath(path)
    kv = load_model(path).kv
    rng = np.random.default_rng(seed)
    words = [
        kv.index_to_key[i] for i in rng.choice(len(kv.index_to_key), min(n_queries, len(kv)), replace=False)
    ]
    ref = {"rows": len(kv.index_to_key), "dim": int(kv.vector_size), "matrix_bytes": int(kv.vectors.nbytes)}
    del kv
    spec = {
        "logdir": os.path.dirname(path),
        "words": words,
        "exact_queries": exact_queries,
        "model": os.path.basename(path),
        "exact_max_cells": exact_max_cells,
    }
    scratch = os.path.join(work, f"cache-{label}")
    shutil.rmtree(scratch, ignore_errors=True)
    if index_cache:
        print(f"[{label}] first start, empty cache (first answer only) ...", file=sys.stderr)
        first = _serve_in_subprocess({**spec, "cache_dir": scratch, "wait_build": False})
        print(
            f"[{label}] start with the index cache {index_cache} (makes its private copy) ...",
            file=sys.stderr,
        )
        _serve_in_subprocess({**spec, "cache_dir": index_cache, "wait_build": False})
        print(f"[{label}] restart with the index cache {index_cache} ...", file=sys.stderr)
        again = _serve_in_subprocess({**spec, "cache_dir": index_cache})
    else:
        print(f"[{label}] first start (builds the index) ...", file=sys.stderr)
        first = _serve_in_subprocess({**spec, "cache_dir": scratch})
        print(f"[{label}] restart (reuses the saved index) ...", file=sys.stderr)
        again = _serve_in_subprocess({**spec, "cache_dir": scratch})
    return _summarise(label, ref, first, again)


def _sidecars(path: str) -> list[str]:
    import glob

    return sorted(glob.glob(glob.escape(path) + ".*.npy"))


def _summarise(label: str, ref: dict, first: dict, again: dict) -> dict:
    gensim = again["gensim_latency_s"]
    g50, g95 = _pct(gensim, 0.5), _pct(gensim, 0.95)
    r50, r95 = _pct(again["route_latency_s"], 0.5), _pct(again["route_latency_s"], 0.95)
    n_exact = len(again["exact_latency_s"])
    ge50 = _pct(gensim[:n_exact], 0.5)
    e50, e95 = _pct(again["exact_latency_s"], 0.5), _pct(again["exact_latency_s"], 0.95)
    index = again.get("index") or first.get("index") or {}
    index_bytes = index.get("bytes", 0) or 0
    baseline = again["rss_baseline"]["VmRSS"]
    serving = again["rss_serving"]["VmRSS"] - baseline
    after_exact = again["rss_after_exact"]["VmRSS"] - baseline
    truth = again["gensim_answers"]
    return {
        "model": label,
        "rows": ref["rows"],
        "dim": ref["dim"],
        "matrix_bytes": ref["matrix_bytes"],
        "gensim": {"p50_s": g50, "p95_s": g95, "queries": len(gensim)},
        "route_default": {
            "exact": again["route_exact"],
            "p50_s": r50,
            "p95_s": r95,
            "recall_at_10": _recall(again["route_answers"], truth),
            "speedup_vs_gensim_p50": g50 / r50,
        },
        "route_exact": {
            "queries": n_exact,
            "p50_s": e50,
            "p95_s": e95,
            "recall_at_10": _recall(again["exact_answers"], truth[:n_exact]),
            "gensim_p50_same_queries_s": ge50,
            "ratio_to_gensim_p50": e50 / ge50,
        },
        "route_3cosmul_exact": _cosmul_summary(again),
        "index": {
            "state": index.get("state"),
            "build_s": index.get("build_seconds"),
            "bytes": index_bytes,
            "reused_on_restart": index.get("from_cache"),
            "wait_on_first_start_s": first.get("index_wait_s"),
        },
        "cold": {
            "first_start_first_answer_s": first["first_answer_s"],
            "first_start_answer_exact": first["first_answer_exact"],
            "restart_first_answer_s": again["first_answer_s"],
            "restart_answer_exact": again["first_answer_exact"],
            "restart_vocabulary_from_cache": again["vocabulary_from_cache"],
            "listing_s": again["listing_s"],
        },
        "memory": {
            "rss_baseline_bytes": baseline,
            "serving_rss_bytes": serving,
            "serving_over_matrix_plus_index": serving / (ref["matrix_bytes"] + index_bytes),
            "after_exact_rss_bytes": after_exact,
            "after_exact_over_matrix_plus_index": after_exact / (ref["matrix_bytes"] + index_bytes),
        },
    }


def _cosmul_summary(run: dict) -> dict:
    ours, theirs = run.get("cosmul_latency_s") or [], run.get("cosmul_gensim_latency_s") or []
    if not ours:
        return {"queries": 0}
    return {
        "queries": len(ours),
        "p50_s": _pct(ours, 0.5),
        "gensim_p50_s": _pct(theirs, 0.5),
        "speedup_vs_gensim_p50": _pct(theirs, 0.5) / _pct(ours, 0.5),
        "same_words_as_gensim": sum(run["cosmul_same"]) / len(ours),
    }


def bench_listing(work: str, n_models: int = 100) -> dict:
    """A logdir of ``n_models`` small gensim models: how long the first listing takes."""
    from benchmarks import synth

    logdir = os.path.join(work, "logdir-many")
    shutil.rmtree(logdir, ignore_errors=True)
    src = synth.write_model(os.path.join(work, "models"), 2000, 50)
    for i in range(n_models):
        run = os.path.join(logdir, f"run{i:03d}")
        os.makedirs(run)
        shutil.copy(src, os.path.join(run, "vectors.kv"))
        for side in _sidecars(src):
            shutil.copy(side, os.path.join(run, "vectors.kv" + side[len(src) :]))
    spec = {"logdir": logdir, "cache_dir": os.path.join(work, "cache-many"), "listing_only": True}
    out = _serve_in_subprocess(spec)
    return {
        "models": out["listing_models"],
        "first_listing_s": out["listing_s"],
        "again_s": out["listing_again_s"],
    }


def _size(text: str) -> tuple[int, int]:
    rows, dim = text.lower().split("x")
    return int(float(rows)), int(dim)


def _print_table(results: list[dict], listing: dict) -> None:
    ms = 1000
    print()
    head = (
        f"{'model':>16} {'gensim p50':>10} {'route p50':>9} {'p95':>7} {'speedup':>8} {'recall@10':>9} "
        f"{'exact p50':>9} {'×gensim':>7} {'build s':>8} {'index MB':>8} {'1st ans s':>9} "
        f"{'restart s':>9} {'RSS/(M+I)':>9} {'3CosMul ×gensim':>15}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        d, e = r["route_default"], r["route_exact"]
        build = r["index"]["build_s"]
        print(
            f"{r['model']:>16} {r['gensim']['p50_s'] * ms:>8.2f}ms {d['p50_s'] * ms:>7.2f}ms "
            f"{d['p95_s'] * ms:>5.2f}ms {d['speedup_vs_gensim_p50']:>7.1f}× {d['recall_at_10']:>9.3f} "
            f"{e['p50_s'] * ms:>7.2f}ms {e['ratio_to_gensim_p50']:>6.2f}× "
            f"{build if build is not None else '-':>8} {r['index']['bytes'] / 1e6:>8.0f} "
            f"{r['cold']['first_start_first_answer_s']:>9.2f} {r['cold']['restart_first_answer_s']:>9.2f} "
            f"{r['memory']['serving_over_matrix_plus_index']:>9.2f} "
            + (f"{c['speedup_vs_gensim_p50']:>14.1f}×" if (c := r["route_3cosmul_exact"])["queries"] else f"{'-':>15}")
        )
    print(
        f"\nlisting {listing['models']} models: {listing['first_listing_s']:.3f}s (again {listing['again_s']:.3f}s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for CI (under two minutes)")
    parser.add_argument("--sizes", help="synthetic models, e.g. 3000000x300,400000x50")
    parser.add_argument("--model", action="append", default=[], help="also benchmark this model file")
    parser.add_argument("--queries", type=int, help="neighbour queries per model")
    parser.add_argument("--exact-queries", type=int, help="exact=1 queries per model")
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "w2v-bench"))
    parser.add_argument(
        "--index-cache",
        help="cache folder that may already hold the indexes (built by an earlier run): the first "
        "start then only times its first answer, and the restart uses this folder",
    )
    parser.add_argument("--json", help="where to write the results (default: WORK_DIR/results.json)")
    parser.add_argument(
        "--exact-max-cells",
        type=int,
        help="models with at most rows × dim cells answer exactly by default "
        "(the plugin's default: tensorboard_plugin_w2v.search.index.EXACT_MAX_CELLS)",
    )
    parser.add_argument("--_serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._serve:
        print(json.dumps(_serve(json.loads(args._serve))))
        from tensorboard_plugin_w2v.models import vocabulary

        vocabulary.wait_for_saves()  # the next start of this benchmark reads what it writes
        return 0

    from benchmarks import synth

    sizes = args.sizes or ("100000x300,400000x50" if args.quick else "3000000x300,400000x50")
    if args.quick and args.exact_max_cells is None:
        args.exact_max_cells = 25_000_000  # so that 100k × 300 gets an index and 400k × 50 does not
    n_queries = args.queries or (50 if args.quick else 200)
    exact_queries = args.exact_queries or (20 if args.quick else 50)
    os.makedirs(args.work_dir, exist_ok=True)
    results = []
    for text in [s for s in sizes.split(",") if s]:
        rows, dim = _size(text)
        print(f"[{text}] generating (cached in {args.work_dir}) ...", file=sys.stderr)
        path = synth.write_model(os.path.join(args.work_dir, "models"), rows, dim)
        results.append(
            bench_model(
                path, text, args.work_dir, n_queries, exact_queries, args.index_cache, args.exact_max_cells
            )
        )
    for path in args.model:
        label = os.path.basename(path)
        results.append(
            bench_model(
                path, label, args.work_dir, n_queries, exact_queries, args.index_cache, args.exact_max_cells
            )
        )
    listing = bench_listing(args.work_dir)
    _print_table(results, listing)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "http": "werkzeug.test.Client over TensorBoardWSGI (full WSGI request/response, no socket)",
        "results": results,
        "listing": listing,
    }
    args.json = args.json or os.path.join(args.work_dir, "results.json")
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print(f"written {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
