"""Benchmark: serving a model from Milvus against serving it locally and against gensim.

    python benchmarks/bench_milvus.py              # 400k × 300 (about 10 minutes on 2 cores)
    python benchmarks/bench_milvus.py --quick      # 50k × 100, CI-sized
    python benchmarks/bench_milvus.py --uri http://milvus:19530   # an existing Milvus

A synthetic clustered model (benchmarks/synth.py) is pushed into the real Milvus standalone
server (started here on free ports unless ``--uri`` is given) with :func:`push_model`: push
throughput in rows/s (inserts alone, and with flush and the HNSW build). Two real ``tensorboard``
processes then serve the logdir over loopback sockets, one with ``--word2vec_milvus_uri`` and
one without; ``/neighbors`` (k=10) is timed through each, on the same random words, alternating
query by query, and gensim's ``most_similar`` on the same memory-mapped vectors in this process.
gensim's answers are the reference for recall@10. Resident memory (VmRSS) of both TensorBoard
processes and of the Milvus server is read from ``/proc`` after the queries.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.parse

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from benchmarks.synth import write_model  # noqa: E402

BASE = "/data/plugin/word2vec/"


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


class Route:
    """Keep-alive HTTP to one TensorBoard, as a browser tab would."""

    def __init__(self, base: str):
        parts = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)

    def get(self, route: str, **params) -> tuple[float, dict]:
        t0 = time.perf_counter()
        self.conn.request("GET", BASE + route + "?" + urllib.parse.urlencode(params))
        response = self.conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
        if response.status != 200:
            raise RuntimeError(f"{route} {params}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)


def _wait_for_index(route: Route, limit: float = 3600.0) -> dict | None:
    """Wait until the local model's background index build is over; its final state."""
    deadline = time.monotonic() + limit
    while True:
        index = route.get("models")[1]["models"][0]["index"]
        if index is None or index["state"] not in ("queued", "building") or time.monotonic() > deadline:
            return index
        time.sleep(5)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return statistics.mean(len(set(a) & set(b)) / len(b) for a, b in zip(found, truth, strict=True))


def run(n: int, dim: int, queries: int, work: str, uri: str | None) -> dict:
    from gensim.models import KeyedVectors
    from milvus_server import MilvusServer
    from tb_process import listener_pid, tensorboard

    from tensorboard_plugin_w2v.engines.milvus_push import push_model

    logdir = os.path.join(work, "logdir")
    path = write_model(os.path.join(logdir, "run"), n, dim)
    server = None if uri else MilvusServer(os.path.join(work, "milvus"))
    uri = uri or server.uri
    stages: dict[str, float] = {}

    def progress(stage, done, total):
        if done >= total and stage not in stages:
            stages[stage] = time.monotonic()

    t0 = time.monotonic()
    pushed = push_model(path, uri, run="run", name=os.path.basename(path), progress=progress)
    if pushed.status == "failed":
        raise RuntimeError(pushed.reason)
    push = {"status": pushed.status, "seconds": round(pushed.seconds, 2), "rows_per_second": None}
    if pushed.status == "pushed":
        push["insert_seconds"] = round(stages["insert"] - t0, 2)
        push["insert_rows_per_second"] = round(n / (stages["insert"] - t0))
        push["rows_per_second"] = round(pushed.rows_per_second)
    kv = KeyedVectors.load(path, mmap="r")
    rng = np.random.default_rng(1)
    words = [kv.index_to_key[i] for i in rng.choice(n, queries, replace=False)]
    kv.fill_norms()
    truth, gensim_t = [], []
    model = os.path.basename(path)
    result: dict = {}
    flags = ("--word2vec_memory_budget", "16G", "--word2vec_cache_dir", os.path.join(work, "cache"))
    with (
        tensorboard(logdir, *flags, "--word2vec_milvus_uri", uri, startup_seconds=300) as via_milvus,
        tensorboard(logdir, *flags, startup_seconds=300) as local,
    ):
        routes = {"milvus": Route(via_milvus), "local": Route(local)}
        first = {}
        for name, route in routes.items():  # first answer: Milvus loads the collection, local the file
            first[name], _ = route.get("neighbors", run="run", model=model, word=words[0], k=10)
            route.get("neighbors", run="run", model=model, word=words[1], k=10)
        result["local_index"] = _wait_for_index(routes["local"])  # local answers from its ANN index
        times = {name: [] for name in routes}
        found = {name: [] for name in routes}
        for word in words:
            t = time.perf_counter()
            truth.append([w for w, _ in kv.most_similar(word, topn=10)])
            gensim_t.append(time.perf_counter() - t)
            for name, route in routes.items():
                elapsed, data = route.get("neighbors", run="run", model=model, word=word, k=10)
                times[name].append(elapsed)
                found[name].append([x["word"] for x in data["neighbors"]])
        rows = routes["milvus"].get("models")[1]["models"]
        engine = rows[0]["engine"]
        for name, base in (("milvus", via_milvus), ("local", local)):
            result[name] = {
                "p50_ms": round(_pct(times[name], 50), 2),
                "p95_ms": round(_pct(times[name], 95), 2),
                "first_answer_s": round(first[name], 2),
                "recall_at_10": round(_recall(found[name], truth), 4),
                "tensorboard_rss_mib": round(_rss([listener_pid(base)]) / 2**20, 1),
            }
        result["milvus"]["engine_in_models"] = engine
    result["gensim"] = {"p50_ms": round(_pct(gensim_t, 50), 2), "p95_ms": round(_pct(gensim_t, 95), 2)}
    if server is not None:
        result["milvus_server_rss_mib"] = round(_rss(server.pids) / 2**20, 1)
        server.stop()
    matrix_mib = n * dim * 4 / 2**20
    return {"model": f"{n}x{dim}", "matrix_mib": round(matrix_mib, 1), "queries": queries, "push": push, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50k × 100, 100 queries")
    parser.add_argument("--size", default=None, help="ROWSxDIM (default 400000x300, quick 50000x100)")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--uri", default=None, help="an existing Milvus instead of a local server")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    size = args.size or ("50000x100" if args.quick else "400000x300")
    n, dim = (int(x) for x in size.lower().split("x"))
    queries = args.queries or (100 if args.quick else 300)
    work = args.work_dir or tempfile.mkdtemp(prefix="w2v-bench-milvus-")
    result = run(n, dim, queries, work, args.uri)
    result = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              **result}
    m, loc, g = result["milvus"], result["local"], result["gensim"]
    push = result["push"]
    print(f"model {result['model']} ({result['matrix_mib']} MiB of vectors), {queries} queries, k=10")
    if result.get("local_index"):
        ix = result["local_index"]
        print(f"local index: {ix['state']} (built in {ix.get('build_seconds')} s, from cache: {ix.get('from_cache')})")
    if push["status"] == "pushed":
        print(f"push: {push['insert_rows_per_second']:,} rows/s inserted, {push['rows_per_second']:,} rows/s "
              f"with flush and HNSW build ({push['seconds']} s)")
    print("| path | p50 ms | p95 ms | recall@10 | first answer s | TensorBoard RSS MiB |")
    print("|---|---|---|---|---|---|")
    print(f"| /neighbors via Milvus | {m['p50_ms']} | {m['p95_ms']} | {m['recall_at_10']} | {m['first_answer_s']} "
          f"| {m['tensorboard_rss_mib']} |")
    print(f"| /neighbors local | {loc['p50_ms']} | {loc['p95_ms']} | {loc['recall_at_10']} | {loc['first_answer_s']} "
          f"| {loc['tensorboard_rss_mib']} |")
    print(f"| gensim most_similar (in process) | {g['p50_ms']} | {g['p95_ms']} | 1.0 | – | – |")
    if "milvus_server_rss_mib" in result:
        print(f"Milvus server RSS: {result['milvus_server_rss_mib']} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
