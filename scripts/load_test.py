#!/usr/bin/env python
"""Load test: the real ``tensorboard`` command, many concurrent clients, mixed queries.

Builds a logdir of several real gensim models (or uses ``--logdir``), starts
``tensorboard --logdir <dir> --host 127.0.0.1 --port <free port>`` with this checkout's plugin,
and drives it with ``--clients`` threads for ``--duration`` seconds (``--quick``: 10 s) of
neighbours, analogy, vocabulary and similarity queries over every model, plus evaluation when the
server has an ``/evaluate`` route. Traffic goes to 127.0.0.1 only and stops by itself after
``--duration`` seconds or ``--max-requests`` requests, whichever comes first.

It prints p50/p99 latency per route, the error count (must be 0) and the server's resident
memory sampled every second, and exits non-zero if any request failed or memory kept growing.

    python scripts/load_test.py --quick
    python scripts/load_test.py --clients 16 --duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_PREFIX = "/data/plugin/word2vec"
HOST = "127.0.0.1"  # loopback only, always


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 60.0) -> tuple[int, dict | None]:
    """(HTTP status, decoded JSON body or None) of a GET; never raises for HTTP errors."""
    assert urllib.parse.urlsplit(url).hostname == HOST, url
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    if not ctype.startswith("application/json"):
        return status, None
    return status, json.loads(body)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class TensorBoardProcess:
    """``tensorboard --logdir ... --host 127.0.0.1 --port <free>`` running this checkout's plugin.

    Started in its own process group, which is ended (by its id) on exit.
    """

    def __init__(
        self,
        logdir: str,
        extra_args: list[str] | None = None,
        startup_timeout: float = 90.0,
        env: dict[str, str] | None = None,
        block_tensorflow: bool = False,
    ):
        self.logdir = logdir
        self.port = free_port()
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.env = dict(env or {})
        self.block_tensorflow = block_tensorflow
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="tensorboard-", suffix=".log", delete=False)

    def command(self) -> list[str]:
        exe = shutil.which("tensorboard")
        base = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
        if self.block_tensorflow:
            # TensorBoard exactly as installed, but as if TensorFlow were not: its import fails.
            prelude = (
                "import sys; sys.modules['tensorflow'] = None; sys.argv[0] = 'tensorboard'; "
                "from tensorboard.main import run_main; run_main()"
            )
            base = [sys.executable, "-c", prelude]
        return [*base, "--logdir", self.logdir, "--host", HOST, "--port", str(self.port), *self.extra_args]

    def url(self, route: str, **params) -> str:
        query = urllib.parse.urlencode(params, doseq=True)
        return f"http://{HOST}:{self.port}{PLUGIN_PREFIX}/{route.lstrip('/')}" + (
            f"?{query}" if query else ""
        )

    def __enter__(self) -> TensorBoardProcess:
        env = dict(os.environ)
        # This checkout's plugin, not whichever copy is installed in site-packages.
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.env)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.proc.returncode}:\n{self.output()}")
            try:
                status, _ = get_json(self.url("models"), timeout=5)
                if status == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"tensorboard did not answer within {self.startup_timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()[-5000:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=15)
        self.log.close()


def build_logdir(root: str) -> str:
    """Several real gensim models in the formats people log, trained on gensim's Lee corpus."""
    from gensim.models import FastText, Word2Vec
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    corpus = LineSentence(datapath("lee_background.cor"))
    os.makedirs(root, exist_ok=True)
    for run, seed in (("cbow", 1), ("skipgram", 2)):
        folder = os.path.join(root, run)
        os.makedirs(folder, exist_ok=True)
        model = Word2Vec(corpus, vector_size=64, min_count=2, sg=seed - 1, seed=seed, workers=1, epochs=3)
        model.save(os.path.join(folder, "w2v.model"), sep_limit=0)  # pickle + .npy sidecars
        model.wv.save_word2vec_format(os.path.join(folder, "vectors.bin"), binary=True)
        model.wv.save_word2vec_format(os.path.join(folder, "vectors.txt"))
    folder = os.path.join(root, "fasttext")
    os.makedirs(folder, exist_ok=True)
    ft = FastText(corpus, vector_size=32, min_count=3, seed=3, workers=1, epochs=2, bucket=50_000)
    ft.save(os.path.join(folder, "ft.model"))
    folder = os.path.join(root, "glove")
    os.makedirs(folder, exist_ok=True)
    shutil.copy(datapath("test_glove.txt"), os.path.join(folder, "glove.txt"))
    return root


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.count = 0

    def add(self, route: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.count += 1
            self.latencies[route].append(seconds)
            if error:
                self.errors.append(error)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def plan_queries(tb: TensorBoardProcess, log=print) -> tuple[list, list[str]]:
    """(weighted query makers, notes): one entry per model and route, from each model's vocabulary."""
    status, body = get_json(tb.url("models"))
    assert status == 200, body
    models = [(m["run"], m["model"]) for m in body["models"]]
    notes = []
    makers = []
    probe = models[0]
    eval_status, eval_body = get_json(tb.url("evaluate", run=probe[0], model=probe[1]))
    has_evaluate = eval_status == 200
    if eval_status == 404 and eval_body is None:
        notes.append("/evaluate does not exist on this server: evaluation queries skipped")
    elif not has_evaluate:
        notes.append(f"/evaluate answered {eval_status} {eval_body}: evaluation queries skipped")
    else:
        notes.append(
            "/evaluate exists: included in the mix (each model on each benchmark; "
            "computed once, then answered from the server's cache)"
        )
    for run, model in models:
        status, vocab = get_json(tb.url("vocab", run=run, model=model, limit=300))
        if status != 200:
            raise RuntimeError(f"{run}/{model} does not load: {vocab}")
        words = [w["word"] for w in vocab["words"] if " " not in w["word"]]
        prefixes = sorted({w[:2] for w in words[:100]})

        def neighbors(rng, run=run, model=model, words=words):
            return tb.url("neighbors", run=run, model=model, word=rng.choice(words), k=rng.choice([10, 50]))

        def analogy(rng, run=run, model=model, words=words):
            a, b, c = rng.sample(words, 3)
            return tb.url(
                "analogy",
                run=run,
                model=model,
                positive=[a, c],
                negative=[b],
                method=rng.choice(["3cosadd", "3cosmul"]),
            )

        def vocab_q(rng, run=run, model=model, prefixes=prefixes):
            return tb.url("vocab", run=run, model=model, prefix=rng.choice(prefixes), limit=50)

        def similarity(rng, run=run, model=model, words=words):
            a, b = rng.sample(words, 2)
            return tb.url("similarity", run=run, model=model, a=a, b=b)

        makers += [("neighbors", neighbors, 4), ("analogy", analogy, 2), ("vocab", vocab_q, 2)]
        makers += [("similarity", similarity, 1)]
        if has_evaluate:
            benchmarks = [b["name"] for b in eval_body.get("benchmarks", [])] or [None]

            def evaluate(rng, run=run, model=model, benchmarks=benchmarks):
                name = rng.choice(benchmarks)
                extra = {"benchmark": name, "wait": 30} if name else {}
                return tb.url("evaluate", run=run, model=model, **extra)

            makers.append(("evaluate", evaluate, 1))
    log(f"{len(models)} models: " + ", ".join(f"{r}/{m}" for r, m in models))
    return makers, notes


def drive(
    tb: TensorBoardProcess, clients: int, duration: float, max_requests: int, seed: int = 0, log=print
) -> dict:
    """Run the clients; returns a summary dict."""
    makers, notes = plan_queries(tb, log=log)
    names = [m[0] for m in makers for _ in range(m[2])]
    funcs = [m[1] for m in makers for _ in range(m[2])]
    stats = Stats()
    stop = threading.Event()
    deadline = time.monotonic() + duration
    rss_samples: list[tuple[float, int]] = []
    started = time.monotonic()

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        while not stop.is_set() and time.monotonic() < deadline:
            with stats.lock:
                if stats.count >= max_requests:
                    return
            k = rng.randrange(len(funcs))
            url = funcs[k](rng)
            t0 = time.perf_counter()
            error = None
            try:
                status, body = get_json(url, timeout=60)
                if status != 200 or body is None:
                    error = f"{status} {url}: {body}"
            except Exception as exc:  # a refused or dropped connection is an error too
                error = f"{type(exc).__name__} {url}: {exc}"
            stats.add(names[k], time.perf_counter() - t0, error)

    def sampler() -> None:
        while not stop.is_set():
            rss = rss_bytes(tb.proc.pid)
            if rss is not None:
                rss_samples.append((time.monotonic() - started, rss))
            stop.wait(1.0)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    mem = threading.Thread(target=sampler, daemon=True)
    mem.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 120)
    stop.set()
    mem.join(timeout=5)
    elapsed = time.monotonic() - started
    all_lat = [x for v in stats.latencies.values() for x in v]
    rss = [r for _, r in rss_samples]
    third = max(1, len(rss) // 3)
    early, late = (max(rss[:third]), max(rss[-third:])) if rss else (0, 0)
    growth = late - early
    # Stable: the last third's peak is within 10% (and 64 MiB) of the first third's peak.
    rss_stable = bool(rss) and growth <= max(0.10 * early, 64 << 20)
    return {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "requests": stats.count,
        "requests_per_s": round(stats.count / elapsed, 1) if elapsed else 0,
        "errors": len(stats.errors),
        "first_errors": stats.errors[:10],
        "p50_ms": round(percentile(all_lat, 0.50) * 1000, 1),
        "p99_ms": round(percentile(all_lat, 0.99) * 1000, 1),
        "per_route": {
            name: {
                "n": len(v),
                "p50_ms": round(percentile(v, 0.5) * 1000, 1),
                "p99_ms": round(percentile(v, 0.99) * 1000, 1),
            }
            for name, v in sorted(stats.latencies.items())
        },
        "rss_mib": {
            "samples": len(rss),
            "min": round(min(rss) / 2**20, 1) if rss else None,
            "max": round(max(rss) / 2**20, 1) if rss else None,
            "first_third_peak": round(early / 2**20, 1),
            "last_third_peak": round(late / 2**20, 1),
            "stable": rss_stable,
        },
        "server_alive": tb.alive(),
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--quick", action="store_true", help="about 10 s of load, for CI")
    parser.add_argument("--max-requests", type=int, default=500_000, help="hard cap on requests sent")
    parser.add_argument("--logdir", help="serve this logdir instead of building one")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 10.0)
    if not (0 < args.duration <= 3600 and 0 < args.clients <= 256 and args.max_requests > 0):
        parser.error("--duration must be in (0, 3600], --clients in (0, 256]")
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tmp = None
    try:
        if args.logdir:
            logdir = args.logdir
        else:
            tmp = tempfile.mkdtemp(prefix="w2v-load-")
            log("building a logdir of real gensim models ...")
            logdir = build_logdir(os.path.join(tmp, "logdir"))
        cache = tempfile.mkdtemp(prefix="w2v-load-cache-")
        with TensorBoardProcess(logdir, ["--word2vec_cache_dir", cache]) as tb:
            log(
                f"tensorboard pid {tb.proc.pid} on {HOST}:{tb.port}; {args.clients} clients for {args.duration}s"
            )
            summary = drive(tb, args.clients, args.duration, args.max_requests, log=log)
        shutil.rmtree(cache, ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for note in summary["notes"]:
            print("note:", note)
        print(
            f"{summary['requests']} requests in {summary['duration_s']}s "
            f"({summary['requests_per_s']}/s) from {summary['clients']} clients; errors: {summary['errors']}"
        )
        print(f"latency p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms")
        for name, r in summary["per_route"].items():
            print(f"  {name:12s} n={r['n']:6d} p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms")
        m = summary["rss_mib"]
        print(
            f"server RSS: {m['samples']} samples, {m['min']}..{m['max']} MiB; peak first third "
            f"{m['first_third_peak']} MiB, last third {m['last_third_peak']} MiB: "
            + ("stable" if m["stable"] else "GROWING")
        )
        for e in summary["first_errors"]:
            print("error:", e)
    ok = summary["errors"] == 0 and summary["rss_mib"]["stable"] and summary["server_alive"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
