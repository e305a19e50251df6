#!/usr/bin/env python
"""Soak test: the real ``tensorboard`` under 16 clients for a long time while files keep changing.

Builds a logdir of real gensim models trained on gensim's Lee corpus and starts ``tensorboard``
on it (loopback only) with a small ``--word2vec_cache_budget``. Then, for ``--duration`` seconds
(30 minutes by default; ``--short``: 150 s):

- ``--clients`` threads send a seeded random mix of neighbours, analogy, similarity and
  vocabulary queries over every model and step;
- a writer logs a new snapshot of a freshly trained model every few seconds (``log_model``),
  drops the oldest snapshots from the manifest, and atomically replaces a 19 MB word2vec binary
  (converted into the cache folder at each version) every 20 seconds;
- every 5 seconds the server's resident memory, open file descriptors and threads are read from
  ``/proc``, its store's maps (failed versions, path locks) from ``/models``, and the cache
  folder's size from the disk.

Every answer names the model version that produced it; a seeded share of them is checked against
gensim on that very version (answers naming a version the writer had not registered yet are
checked at the end). The report (JSON) and a plot (SVG) go to ``benchmarks/results/``. It exits
non-zero if any answer was a 5xx or wrong, or, with ``--check`` (implied by ``--short``), if
resident memory grew more than 5 % from the end of the first sixth (minute 5 of 30) to the end,
if descriptors or threads grew by more than 5, or if the store's maps or the cache folder grew
past their bounds.

    python scripts/soak.py --short
    python scripts/soak.py                      # 30 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_test import TensorBoardProcess, get_json, rss_bytes  # noqa: E402

SAMPLE_SECONDS = 5.0
KEEP_STEPS = 4  # snapshots kept in the manifest; older ones are dropped with their files
CACHE_BUDGET = 64 << 20
WORDS = ["police", "government", "fire", "Australia", "said", "two", "people", "world", "man", "day"]


def _lee():
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    return LineSentence(datapath("lee_background.cor"))


def _train(seed: int, **kw):
    from gensim.models import Word2Vec

    options = dict(vector_size=32, min_count=5, seed=seed, workers=1, epochs=2)
    options.update(kw)
    return Word2Vec(_lee(), **options)


class Registry:
    """Model versions the writer made: version tag → KeyedVectors (what gensim answers with)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_tag: dict = {}

    def add(self, path: str, kv, stat=None) -> None:
        from tensorboard_plugin_w2v.io import fileio

        st = stat or os.stat(path)
        tag = fileio.FileIdentity(os.path.abspath(path), st.st_size, st.st_mtime_ns).tag
        with self.lock:
            self.by_tag[tag] = kv

    def get(self, tag):
        with self.lock:
            return self.by_tag.get(tag)


class Writer(threading.Thread):
    """Logs snapshots, trims the manifest, replaces the big binary: the files change all along."""

    def __init__(self, logdir: str, registry: Registry, rng: random.Random, big_versions, snapshot_every, replace_every):
        super().__init__(name="soak-writer", daemon=True)
        self.logdir = logdir
        self.registry = registry
        self.rng = rng
        self.big_versions = big_versions
        self.snapshot_every = snapshot_every
        self.replace_every = replace_every
        self.stop = threading.Event()
        self.step = 1
        self.replacements = 0
        self.errors: list[str] = []

    def log_snapshot(self) -> None:
        from tensorboard_plugin_w2v.summary import log_model

        model = _train(seed=self.rng.randrange(1, 10**6), epochs=1)
        path = log_model(os.path.join(self.logdir, "snap"), model, name="lee", step=self.step)
        self.registry.add(path, model.wv)
        self.step += 1
        self._trim()

    def _trim(self) -> None:
        from tensorboard_plugin_w2v.io import fileio, manifest

        run = os.path.join(self.logdir, "snap")
        target = manifest.manifest_path(run)
        with manifest.locked(target + ".lock"):
            entries = manifest.read_entries(target)
            if len(entries) <= KEEP_STEPS:
                return
            gone, kept = entries[:-KEEP_STEPS], entries[-KEEP_STEPS:]
            data = {"version": 1, "models": kept}
            fileio.write_atomic(target, (json.dumps(data, indent=1) + "\n").encode())
        for entry in gone:
            shutil.rmtree(os.path.join(run, *entry["path"].split("/")[:-1]), ignore_errors=True)

    def replace_big(self) -> None:
        kv, data = self.big_versions[self.replacements % len(self.big_versions)]
        final = os.path.join(self.logdir, "swap", "big.bin")
        tmp = final + ".incoming"
        with open(tmp, "wb") as f:
            f.write(data)
        st = os.stat(tmp)
        self.registry.add(final, kv, st)  # registered before it is visible
        os.replace(tmp, final)
        self.replacements += 1

    def run(self) -> None:
        next_snap = next_swap = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_snap:
                    self.log_snapshot()
                    next_snap = now + self.snapshot_every
                if now >= next_swap:
                    self.replace_big()
                    next_swap = now + self.replace_every
            except Exception as exc:  # reported; the soak fails on writer errors too
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.stop.wait(0.2)


def build_logdir(root: str, registry: Registry):
    """``static`` (a Word2Vec file), ``snap`` (logged snapshots), ``swap`` (a 19 MB binary)."""
    from tensorboard_plugin_w2v.summary import log_model

    os.makedirs(os.path.join(root, "static"))
    os.makedirs(os.path.join(root, "swap"))
    static = _train(seed=1, vector_size=64, epochs=5)
    path = os.path.join(root, "static", "w2v.model")
    static.save(path)
    registry.add(path, static.wv)
    first = _train(seed=2, epochs=1)
    registry.add(log_model(os.path.join(root, "snap"), first, name="lee", step=0), first.wv)
    big_versions = []
    for seed in (3, 4):  # every word of the corpus, 450 dimensions: converted into the cache
        kv = _train(seed=seed, vector_size=450, min_count=1, epochs=1).wv
        tmp = os.path.join(root, f".big-{seed}.bin")
        kv.save_word2vec_format(tmp, binary=True)
        big_versions.append((kv, open(tmp, "rb").read()))
        os.remove(tmp)
    return big_versions


class Clients:
    """``n`` threads of seeded random queries; answers counted, a share checked against gensim."""

    def __init__(self, tb: TensorBoardProcess, registry: Registry, n: int, seed: int, check_share: float):
        self.tb = tb
        self.registry = registry
        self.n = n
        self.seed = seed
        self.check_share = check_share
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.kinds: Counter = Counter()
        self.checked = 0
        self.wrong: list = []
        self.pending: list = []  # answers of versions not registered when they came
        self.latencies: list[float] = []

    def _models(self, rng) -> tuple[dict, str]:
        choice = rng.random()
        if choice < 0.4:
            status, listing = get_json(self.tb.url("models"), timeout=60)
            snap = [m for m in (listing or {}).get("models", []) if m["run"] == "snap"]
            steps = snap[0]["steps"] if snap else []
            params = {"run": "snap", "model": "lee"}
            if steps and rng.random() < 0.5:
                params["step"] = rng.choice(steps)
            return params, "snap"
        if choice < 0.7:
            return {"run": "swap", "model": "big.bin"}, "swap"
        return {"run": "static", "model": "w2v.model"}, "static"

    def run_one(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        while not self.stop.is_set():
            params, _ = self._models(rng)
            kind = rng.choices(["neighbors", "similarity", "analogy", "vocab"], [0.5, 0.2, 0.15, 0.15])[0]
            a, b, c = rng.sample(WORDS, 3)
            if kind == "neighbors":
                query = {**params, "word": a, "k": 10}
            elif kind == "similarity":
                query = {**params, "a": a, "b": b}
            elif kind == "analogy":
                query = {**params, "positive": [a, b], "negative": [c], "k": 5}
            else:
                query = {**params, "prefix": a[:2].lower(), "limit": 10}
            started = time.monotonic()
            try:
                status, body = get_json(self.tb.url(kind, **query), timeout=120)
            except OSError as exc:
                status, body = 599, {"error": str(exc)}
            with self.lock:
                self.latencies.append(time.monotonic() - started)
                self.statuses[status] += 1
                self.kinds[kind] += 1
            if status == 200 and kind != "vocab" and rng.random() < self.check_share:
                self.check(kind, query, body)

    def check(self, kind: str, query: dict, body: dict) -> None:
        kv = self.registry.get(body.get("version"))
        if kv is None:
            with self.lock:
                self.pending.append((kind, query, body))
            return
        problem = answer_problem(kv, kind, query, body)
        with self.lock:
            self.checked += 1
            if problem:
                self.wrong.append(problem)

    def check_pending(self) -> None:
        for kind, query, body in self.pending:
            kv = self.registry.get(body.get("version"))
            problem = (
                answer_problem(kv, kind, query, body)
                if kv is not None
                else {"version": body.get("version"), "error": "an answer named a version no writer made"}
            )
            self.checked += 1
            if problem:
                self.wrong.append(problem)
        self.pending = []

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run_one, args=(i,), daemon=True) for i in range(self.n)]
        for t in threads:
            t.start()
        return threads


def answer_problem(kv, kind: str, query: dict, body: dict) -> dict | None:
    """How an answer differs from gensim's on the same version (``None`` if it does not)."""
    import numpy as np

    try:
        if kind == "neighbors":
            want = [w for w, _ in kv.most_similar(query["word"], topn=query["k"])]
            got = [n["word"] for n in body["neighbors"]]
        elif kind == "analogy":
            want = [w for w, _ in kv.most_similar(positive=query["positive"], negative=query["negative"], topn=query["k"])]
            got = [n["word"] for n in body["neighbors"]]
        else:
            want = float(kv.similarity(query["a"], query["b"]))
            got = body["similarity"]
            if got is not None and np.isclose(got, want, rtol=1e-5, atol=1e-6):
                return None
    except KeyError as exc:  # the server answered a word this version does not have
        return {"kind": kind, "query": query, "version": body.get("version"), "error": f"gensim: {exc}"}
    if got == want:
        return None
    return {"kind": kind, "query": query, "version": body.get("version"), "got": got, "want": want}


def sample(tb: TensorBoardProcess, cache: str, started: float) -> dict:
    from tensorboard_plugin_w2v.models import cache_budget

    pid = tb.proc.pid
    threads = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = None
    mapped = set()
    try:
        with open(f"/proc/{pid}/maps") as f:
            mapped = {line.split(None, 5)[-1].strip() for line in f if cache in line}
    except OSError:
        pass
    status, listing = get_json(tb.url("models"), timeout=60)
    store = (listing or {}).get("store", {})
    return {
        "t": round(time.monotonic() - started, 1),
        "rss": rss_bytes(pid),
        "fds": fds,
        "threads": threads,
        "cache_bytes": cache_budget.folder_bytes(cache),
        "failed_versions": store.get("failed_versions"),
        "path_locks": store.get("path_locks"),
        "loaded_models": store.get("loaded_models"),
        "listed_versions": sum(len(m["versions"]) for m in (listing or {}).get("models", [])),
        "mapped_cache_files": len(mapped),  # files of the cache folder the server maps now
    }


def _median_at(samples: list[dict], t: float, key: str, width: int = 3) -> float:
    nearest = min(range(len(samples)), key=lambda i: abs(samples[i]["t"] - t))
    window = samples[max(0, nearest - width // 2) : nearest + width // 2 + 1]
    return statistics.median(s[key] for s in window)


def verdict(samples: list[dict], duration: float, report: dict) -> list[str]:
    """The bounds the soak asserts; the list of those broken."""
    base_t = duration / 6  # minute 5 of 30
    end_t = samples[-1]["t"]
    problems = []
    rss0, rss1 = _median_at(samples, base_t, "rss"), _median_at(samples, end_t, "rss")
    report["rss_growth"] = round(rss1 / rss0 - 1, 4)
    if rss1 > rss0 * 1.05:
        problems.append(f"resident memory grew {100 * (rss1 / rss0 - 1):.1f}% (more than 5%)")
    for key in ("fds", "threads"):  # both follow the open connections: medians of 5 samples
        base, end = _median_at(samples, base_t, key, width=5), _median_at(samples, end_t, key, width=5)
        report[f"{key}_growth"] = end - base
        if end > base + 5:
            problems.append(f"{key} grew from {base} to {end} (more than +5)")
    for key in ("failed_versions", "path_locks"):
        high = max(s[key] for s in samples)
        bound = max(s["listed_versions"] for s in samples) + 2
        if high > bound:
            problems.append(f"the store's {key} reached {high} (bound: {bound}, the versions listed + 2)")
    cache_high = max(s["cache_bytes"] for s in samples if s["t"] >= base_t)
    report["cache_bytes_max"] = cache_high
    if cache_high > CACHE_BUDGET + (32 << 20):  # the budget plus an entry being written or in use
        problems.append(f"the cache folder reached {cache_high / 1e6:.0f} MB (budget {CACHE_BUDGET / 1e6:.0f} MB)")
    if report["server_errors"]:
        problems.append(f"{report['server_errors']} answers were 5xx")
    if report["wrong_answers"]:
        problems.append(f"{report['wrong_answers']} answers differed from gensim on their version")
    if report["writer_errors"]:
        problems.append(f"the writer failed: {report['writer_errors'][:3]}")
    return problems


def svg_plot(samples: list[dict], path: str, title: str) -> None:
    """Four small line charts (memory, descriptors, threads, cache folder) over time, as SVG."""
    panels = [
        ("rss", "resident memory (MB)", 1e6),
        ("fds", "open file descriptors", 1),
        ("threads", "threads", 1),
        ("cache_bytes", "cache folder (MB)", 1e6),
    ]
    width, height, pad = 360, 170, 42
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{2 * height + 30}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="13">{title}</text>',
    ]
    t_max = max(s["t"] for s in samples) or 1
    for i, (key, label, scale) in enumerate(panels):
        ox, oy = (i % 2) * width, 30 + (i // 2) * height
        values = [s[key] / scale for s in samples if s[key] is not None]
        low, high = min(values), max(values)
        low, high = (low * 0.95, high * 1.05) if high > low else (low - 1, high + 1)
        plot_w, plot_h = width - pad - 10, height - pad - 10

        def xy(t, v, ox=ox, oy=oy, low=low, high=high, plot_w=plot_w, plot_h=plot_h):
            return ox + pad + t / t_max * plot_w, oy + 10 + (1 - (v - low) / (high - low)) * plot_h

        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(s["t"], s[key] / scale) for s in samples if s[key] is not None))
        out += [
            f'<rect x="{ox + pad}" y="{oy + 10}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>',
            f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>',
            f'<text x="{ox + pad}" y="{oy + height - 12}">{label}; 0–{t_max / 60:.1f} min</text>',
            f'<text x="{ox + 2}" y="{oy + 16}">{high:.0f}</text>',
            f'<text x="{ox + 2}" y="{oy + 10 + plot_h}">{low:.0f}</text>',
        ]
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds (default 1800)")
    parser.add_argument("--short", action="store_true", help="150 s, for CI; implies --check")
    parser.add_argument("--check", action="store_true", help="exit non-zero when a bound is broken")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--check-share", type=float, default=0.2, help="share of answers checked against gensim")
    parser.add_argument("--out", default=None, help="report path (default benchmarks/results/soak[-short].json)")
    args = parser.parse_args(argv)
    duration = 150.0 if args.short else args.duration
    check = args.check or args.short
    name = "soak-short" if args.short else "soak"
    out = args.out or os.path.join(REPO, "benchmarks", "results", f"{name}.json")
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="w2v-soak-")
    registry = Registry()
    logdir, cache = os.path.join(work, "logs"), os.path.join(work, "cache")
    try:
        print(f"building the logdir in {logdir} …", flush=True)
        big_versions = build_logdir(logdir, registry)
        writer = Writer(logdir, registry, rng, big_versions, snapshot_every=4.0, replace_every=20.0)
        writer.replace_big()
        server_args = [
            "--word2vec_cache_dir", cache,
            "--word2vec_cache_budget", str(CACHE_BUDGET),
            "--word2vec_reload_interval", "1",
        ]
        with TensorBoardProcess(logdir, server_args, block_tensorflow=True) as tb:
            print(f"tensorboard pid {tb.proc.pid}; {args.clients} clients for {duration:.0f} s", flush=True)
            clients = Clients(tb, registry, args.clients, args.seed, args.check_share)
            started = time.monotonic()
            writer.start()
            threads = clients.start()
            samples = []
            while time.monotonic() - started < duration:
                samples.append(sample(tb, cache, started))
                s = samples[-1]
                print(
                    f"{s['t']:7.0f}s rss {s['rss'] / 1e6:6.0f} MB  fds {s['fds']:4}  threads {s['threads']:3}  "
                    f"cache {s['cache_bytes'] / 1e6:5.0f} MB  mapped {s['mapped_cache_files']}  failed {s['failed_versions']}  locks {s['path_locks']}  "
                    f"answers {sum(clients.statuses.values())}",
                    flush=True,
                )
                time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - started) % SAMPLE_SECONDS))
            clients.stop.set()
            writer.stop.set()
            for t in threads:
                t.join(120)
            writer.join(120)
            samples.append(sample(tb, cache, started))
            alive = tb.alive()
        clients.check_pending()
        lat = sorted(clients.latencies)
        report = {
            "duration_seconds": duration,
            "clients": args.clients,
            "seed": args.seed,
            "requests": sum(clients.statuses.values()),
            "statuses": {str(k): v for k, v in sorted(clients.statuses.items())},
            "queries": dict(clients.kinds),
            "p50_ms": round(1000 * lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 1) if lat else None,
            "checked_against_gensim": clients.checked,
            "wrong_answers": len(clients.wrong),
            "wrong_examples": clients.wrong[:5],
            "server_errors": sum(v for k, v in clients.statuses.items() if k >= 500),
            "snapshots_logged": writer.step,
            "big_file_replacements": writer.replacements,
            "writer_errors": writer.errors,
            "server_alive": alive,
            "cache_budget_bytes": CACHE_BUDGET,
            "samples": samples,
        }
        problems = verdict(samples, duration, report)
        if not alive:
            problems.append("the server died")
        report["problems"] = problems
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
        svg = os.path.splitext(out)[0] + ".svg"
        svg_plot(samples, svg, f"soak: {args.clients} clients, {duration / 60:.1f} min, files changing")
        summary = {k: v for k, v in report.items() if k not in ("samples", "wrong_examples")}
        print(json.dumps(summary, indent=1))
        print(f"report: {out}\nplot: {svg}")
        if problems:
            print("PROBLEMS:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1 if (problems and check) or report["server_errors"] or report["wrong_answers"] else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
