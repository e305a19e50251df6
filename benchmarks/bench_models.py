"""Benchmark: prefix search and the cold start of a never-seen model, as a user meets them.

    python benchmarks/bench_models.py vocab              # /vocab at 3M words, in-process and over a socket
    python benchmarks/bench_models.py cold               # first answer of a never-seen 3M × 300 model
    python benchmarks/bench_models.py --quick vocab cold # CI smoke test: small sizes, figures not judged

``vocab`` writes a 3M-word model's vocabulary cache, then times :func:`queries.vocab` in-process
(against the scan of gensim's own vocabulary it replaces) and ``/vocab`` through the real
``tensorboard`` command over a socket, beside TensorBoard's own ``/data/environment`` (its HTTP
floor) in the same run; also a vocabulary whose counts are in random order (not gensim's sorted
order), in-process.

``cold`` drops the page cache (root only: ``sync; echo 1 > /proc/sys/vm/drop_caches``; without
root the figures are warm and say so) before each of: reading the model's matrix with ``read()``
(and with ``dd``), gensim's own ``KeyedVectors.load(mmap='r')`` (the vocabulary unpickle), the
plugin's first ``neighbors`` answer in-process (``load_model`` + the query), and through the real
``tensorboard`` command over a socket (started with an empty cache folder and its heavy imports
warmed; the page cache is dropped just before the request), for a settled file and a freshly
written one (modified a moment ago, so it is served from a private copy). Medians over repeats,
with the machine load beside them. Every first answer is compared with gensim's ``most_similar``
(the same words in the same order, the same similarities): ``answers_equal_gensim``. Models are generated once under ``--data``.

Every one of them meets memory in the same state (``--memory``). A page the system has not
touched lately can cost far more to touch again than to read from disk: a virtual machine that
hands free memory back to its host (Firecracker's free page reporting) faults every such page
in from the host, and ``dd`` of a 3.6 GB matrix took 2.8-3.4 s right after a drop and 8.4 s
fifteen seconds later, with the same page cache. ``recycled`` (the default) reads the matrix
before each drop, so what the drop frees is what the next measurement touches, as on a machine
without such reporting; ``reclaimed`` waits ``RECLAIM_SECONDS`` after each drop instead.
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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

BASE = "/data/plugin/word2vec"
PREFIXES = ["", "w", "w1", "w12", "w123", "w1234", "w00", "w2999999", "x"]
KEEP_CACHE_ENV = "W2V_BENCH_KEEP_CACHE"  # set by --keep-cache, read by the child processes too
MEMORY_ENV = "W2V_BENCH_MEMORY"  # set by --memory, read by the child processes too
RECLAIM_SECONDS = 15.0  # after a drop: long enough for the guest to have reported the freed memory
WARM_UP_SECONDS = 8.0  # after TensorBoard answers: the plugin's heavy imports are done by then


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 3)


def drop_page_cache(matrix: str | None = None) -> bool:
    """Drop the page cache (root only, and not with ``--keep-cache``), leaving memory as
    ``--memory`` says (``matrix``: the file read first for ``recycled``); whether it was dropped."""
    if os.geteuid() != 0 or os.environ.get(KEEP_CACHE_ENV):
        return False
    reclaimed = os.environ.get(MEMORY_ENV) == "reclaimed"
    if matrix and not reclaimed:
        _dd(matrix)
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")
    if reclaimed:
        time.sleep(RECLAIM_SECONDS)
    return True


def _model(data: str, rows: int, dim: int) -> str:
    from benchmarks import synth

    t = time.perf_counter()
    path = synth.write_model(data, rows, dim)
    print(f"model {path} ready in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return path


def _files(path: str) -> list[str]:
    folder, base = os.path.split(path)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f == base or f.startswith(base + ".")]


def _logdir_with(path: str, work: str, mtime: float) -> str:
    """A logdir whose run ``run`` holds hard links to the model's files, modified at ``mtime``."""
    run = os.path.join(work, "logdir", "run")
    os.makedirs(run)
    for f in _files(path):
        target = os.path.join(run, os.path.basename(f))
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)
        os.utime(target, (mtime, mtime))
    return os.path.dirname(run)


def _get(url: str, timeout: float = 600) -> tuple[float, dict]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
    return time.perf_counter() - t, json.loads(body)


# -- vocab ----------------------------------------------------------------------------------


def bench_vocab(args) -> dict:
    import numpy as np

    from tensorboard_plugin_w2v.analysis import queries
    from tensorboard_plugin_w2v.io import fileio
    from tensorboard_plugin_w2v.models import loading, prefix, vocabulary

    rows = args.vocab_rows
    path = _model(args.data, rows, 8)  # the width does not matter to prefix search
    work = tempfile.mkdtemp(prefix="bench-vocab-", dir=args.data)
    cache = os.path.join(work, "cache")
    out: dict = {"rows": rows, "prefixes": PREFIXES, "load_before": _load()}
    try:
        first = loading.load_model(path, cache_dir=cache, mmap_policy="always")
        t = time.perf_counter()
        vocabulary.save(first.kv, cache, fileio.stat(path), {"vectors": vocabulary.stamp(path + ".vectors.npy")})
        out["cache_write_s"] = round(time.perf_counter() - t, 2)
        cached = loading.load_model(path, cache_dir=cache, mmap_policy="always")
        assert isinstance(cached.kv.key_to_index, vocabulary.WordIndex)
        scan_kv = first.kv  # gensim's dict and list: what /vocab scanned before
        in_process, scan, shuffled = {}, {}, {}
        shuffled_index = prefix.PrefixIndex.build(
            first.kv.index_to_key, np.random.default_rng(0).permutation(rows).astype(np.int64)
        )
        for p in PREFIXES:
            expect = queries.vocab(cached.kv, p, 0, 5, True)
            times = []
            for _ in range(args.repeats * 10):
                t = time.perf_counter()
                got = queries.vocab(cached.kv, p, 0, 5, True)
                times.append(time.perf_counter() - t)
            assert got == expect
            in_process[p] = {"p50_ms": _median_ms(times), "max_ms": round(1000 * max(times), 3), "total": got[1]}
            times = []
            for _ in range(args.repeats * 10):
                t = time.perf_counter()
                shuffled_index.page(p, 0, 5)
                times.append(time.perf_counter() - t)
            shuffled[p] = {"p50_ms": _median_ms(times), "max_ms": round(1000 * max(times), 3)}
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                matches = queries._by_frequency(scan_kv, queries._rows_with_prefix(scan_kv, p), True)
                times.append(time.perf_counter() - t)
            assert matches[:5] == [e.index for e in expect[0]] and len(matches) == expect[1]
            scan[p] = {"p50_ms": _median_ms(times)}
        out["in_process"], out["shuffled_counts_in_process"], out["scan_before"] = in_process, shuffled, scan
        del first, cached, scan_kv
        out["socket"] = _vocab_socket(path, work, cache, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["load_after"] = _load()
    return out


def _vocab_socket(path: str, work: str, cache: str, args) -> dict:
    from tb_process import tensorboard

    logdir = _logdir_with(path, work, time.time() - 3600)
    name = os.path.basename(path)
    out: dict = {}
    with tensorboard(logdir, f"--word2vec_cache_dir={cache}", "--word2vec_memory_budget=20G") as base:
        url = f"{base}{BASE}/vocab?run=run&model={name}&limit=5&prefix="
        _get(url + "w1")  # loads the model (from the vocabulary cache)
        env, per_prefix = [], {p: [] for p in PREFIXES}
        for _ in range(args.repeats * 10):
            env.append(_get(f"{base}/data/environment")[0])
            for p in PREFIXES:
                seconds, data = _get(url + urllib.request.quote(p))
                per_prefix[p].append(seconds)
        out["environment_p50_ms"] = _median_ms(env)
        out["vocab"] = {
            p: {"p50_ms": _median_ms(v), "max_ms": round(1000 * max(v), 3), "over_floor_ms": 0.0}
            for p, v in per_prefix.items()
        }
        for p in PREFIXES:
            out["vocab"][p]["over_floor_ms"] = round(out["vocab"][p]["p50_ms"] - out["environment_p50_ms"], 3)
    return out


# -- cold start -----------------------------------------------------------------------------


def _read_seconds(path: str) -> float:
    """Seconds to read ``path`` with ``read()`` into a reused 16 MB buffer."""
    buf = bytearray(16 << 20)
    view = memoryview(buf)
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - t


def _dd(path: str) -> None:
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=16M"], check=True, capture_output=True)


def _dd_seconds(path: str) -> float:
    t = time.perf_counter()
    _dd(path)
    return time.perf_counter() - t


def matrix_of(model: str) -> str:
    """The ``.npy`` sidecar holding a saved ``KeyedVectors``' matrix."""
    return model + ".vectors.npy"


_CHILD = r"""
import json, os, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from benchmarks.bench_models import drop_page_cache, matrix_of
what, path, word = sys.argv[1:4]
matrix = matrix_of(path)
if what == "gensim":
    from gensim.models import KeyedVectors
    drop_page_cache(matrix)
    t = time.perf_counter()
    kv = KeyedVectors.load(path, mmap="r")
    seconds = time.perf_counter() - t
    answer = [[w, s] for w, s in kv.most_similar(word, topn=10)] if sys.argv[4:] == ["answer"] else None
    print(json.dumps({{"seconds": seconds, "neighbors": answer}}))
else:
    from tensorboard_plugin_w2v.analysis import queries
    from tensorboard_plugin_w2v.models import loading
    policy, cache = sys.argv[4:6]
    drop_page_cache(matrix)
    t = time.perf_counter()
    model = loading.load_model(path, cache_dir=cache, mmap_policy=policy)
    loaded = time.perf_counter() - t
    found = queries.neighbors(model.kv, word, k=10)
    seconds = time.perf_counter() - t
    print(json.dumps({{"seconds": seconds, "load_seconds": loaded, "neighbors": [[n.word, n.similarity] for n in found]}}))
"""


def _child(*argv: str) -> dict:
    code = _CHILD.format(root=ROOT, tests=os.path.join(ROOT, "tests"))
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _first_answer_socket(path: str, args, fresh: bool) -> dict:
    from tb_process import tensorboard

    work = tempfile.mkdtemp(prefix="bench-cold-", dir=args.data)
    try:
        logdir = _logdir_with(path, work, time.time() - (0 if fresh else 3600))
        cache = os.path.join(work, "cache")
        name = os.path.basename(path)
        with tensorboard(logdir, f"--word2vec_cache_dir={cache}", "--word2vec_memory_budget=20G") as base:
            time.sleep(WARM_UP_SECONDS)
            dropped = drop_page_cache(matrix_of(path))
            seconds, data = _get(f"{base}{BASE}/neighbors?run=run&model={name}&word=w123&k=10")
        neighbors = [[n["word"], n["similarity"]] for n in data["neighbors"]]
        return {"seconds": seconds, "dropped": dropped, "exact": data["exact"], "neighbors": neighbors}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _first_answer_in_process(path: str, args, fresh: bool) -> dict:
    work = tempfile.mkdtemp(prefix="bench-cold-", dir=args.data)
    try:
        logdir = _logdir_with(path, work, time.time() - (0 if fresh else 3600))
        model = os.path.join(logdir, "run", os.path.basename(path))
        return _child("plugin", model, "w123", "auto", os.path.join(work, "cache"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_cold(args) -> dict:
    path = _model(args.data, args.cold_rows, args.dim)
    vectors = matrix_of(path)
    out: dict = {
        "rows": args.cold_rows,
        "dim": args.dim,
        "matrix_bytes": os.path.getsize(vectors),
        "page_cache_dropped": os.geteuid() == 0 and not os.environ.get(KEEP_CACHE_ENV),
        "memory": os.environ.get(MEMORY_ENV, "recycled"),
        "load_before": _load(),
    }
    runs: dict[str, list[float]] = {
        k: [] for k in ("read", "dd", "gensim_load", "in_process_settled", "in_process_fresh", "socket_settled", "socket_fresh")
    }
    reference = _child("gensim", path, "w123", "answer")["neighbors"]  # gensim's most_similar
    mismatches: list[dict] = []
    for i in range(args.repeats):
        drop_page_cache(vectors)
        runs["read"].append(_read_seconds(vectors))
        drop_page_cache(vectors)
        runs["dd"].append(_dd_seconds(vectors))
        runs["gensim_load"].append(_child("gensim", path, "w123")["seconds"])
        for fresh in (False, True):
            kind = "fresh" if fresh else "settled"
            for where, first_answer in (("in_process", _first_answer_in_process), ("socket", _first_answer_socket)):
                found = first_answer(path, args, fresh)
                runs[f"{where}_{kind}"].append(found["seconds"])
                if not _same_answer(found["neighbors"], reference):
                    mismatches.append({"run": f"{where}_{kind}", "repeat": i + 1, "neighbors": found["neighbors"]})
        print(f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), file=sys.stderr)
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    floor = max(med["read"], med["gensim_load"])
    out["seconds"] = {k: [round(x, 3) for x in v] for k, v in runs.items()}
    out["median_seconds"] = med
    out["bound_seconds"] = round(floor, 3)  # max(reading the matrix, gensim's own load)
    answers = ("in_process_settled", "in_process_fresh", "socket_settled", "socket_fresh")
    out["ratio_to_bound"] = {k: round(med[k] / floor, 2) for k in answers}
    # The same against dd's read of the matrix (often faster than read()'s on this kind of disk).
    dd_floor = max(med["dd"], med["gensim_load"])
    out["ratio_to_dd_bound"] = {k: round(med[k] / dd_floor, 2) for k in answers}
    out["answers_equal_gensim"] = not mismatches  # every first answer, words and similarities
    out["mismatches"] = mismatches
    out["load_after"] = _load()
    return out


def _same_answer(found: list, reference: list) -> bool:
    """The same words in the same order, with gensim's similarities (to float32 precision)."""
    return [w for w, _ in found] == [w for w, _ in reference] and all(
        abs(a - b) <= 1e-6 * max(1.0, abs(b)) for (_, a), (_, b) in zip(found, reference, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", default=["vocab", "cold"], choices=["vocab", "cold"])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    parser.add_argument("--data", default=os.environ.get("W2V_BENCH_DATA", os.path.join(tempfile.gettempdir(), "w2v-bench-models")))
    parser.add_argument("--vocab-rows", type=int, default=3_000_000)
    parser.add_argument("--cold-rows", type=int, default=3_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file for the results")
    parser.add_argument(
        "--keep-cache", action="store_true", help="never drop the page cache (smoke tests on a shared machine)"
    )
    parser.add_argument(
        "--memory",
        choices=["recycled", "reclaimed"],
        default="recycled",
        help="memory each cold measurement meets: just freed by the drop, or handed back to a VM's host",
    )
    args = parser.parse_args(argv)
    if args.keep_cache:
        os.environ[KEEP_CACHE_ENV] = "1"
    os.environ[MEMORY_ENV] = args.memory
    if args.quick:
        args.vocab_rows, args.cold_rows, args.dim, args.repeats = 200_000, 200_000, 50, 1
    os.makedirs(args.data, exist_ok=True)
    results: dict = {
        "what": "benchmarks/bench_models.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    for part in args.parts:
        results[part] = bench_vocab(args) if part == "vocab" else bench_cold(args)
        print(json.dumps({part: results[part]}, indent=1))
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
