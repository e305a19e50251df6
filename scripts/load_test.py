#!/usr/bin/env python
"""Load test: the real ``tensorboard`` command, many concurrent clients, mixed queries.

Builds a logdir of several real gensim models (or uses ``--logdir``), starts
``tensorboard --logdir <dir> --host 127.0.0.1 --port 0`` with this checkout's plugin,
and drives it with ``--clients`` threads for ``--duration`` seconds (``--quick``: 10 s) of
neighbours, analogy, vocabulary and similarity queries over every model, plus evaluation when the
server has an ``/evaluate`` route. Traffic goes to 127.0.0.1 only and stops by itself after
``--duration`` seconds or ``--max-requests`` requests, whichever comes first.

The built logdir holds eight small models (gensim's Lee corpus) and synthetic clustered ones of
``--sizes`` (default 400k × 50 and 100k × 300, searched exactly). One client runs first
(``--baseline`` seconds) for the throughput ratio; the first ``--warmup`` seconds of each phase
are not counted. ``--during-build SIZE`` then adds a model (``--arrivals N``: N models, one after
another) and measures the others' latency while it loads and builds its search index (with
``--logdir``, in a copy of it), by what the new model was doing when each request started.

It prints p50/p99 latency per route, the error count (must be 0), requests per second against
one client's, the machine's load average and the server's resident memory sampled every
second, and exits non-zero if any request failed or memory kept growing.

    python scripts/load_test.py --quick
    python scripts/load_test.py --clients 16 --duration 60 --during-build 1000000x100
    python scripts/load_test.py --during-build 1000000x40 --arrivals 3   # loads only (exact search)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
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


SERVING = re.compile(r"^TensorBoard \S+ at http://[^/\s]+:(\d+)/", re.MULTILINE)


def serving_port(log_path: str) -> int | None:
    """The port a ``tensorboard`` started with ``--port 0`` says in its log it serves on, once
    it does. The kernel picks a free one as it binds, so nothing can take it first, as an
    outgoing connection's ephemeral port could take one :func:`free_port` found (seen in CI)."""
    with open(log_path, errors="replace") as f:
        found = SERVING.search(f.read())
    return int(found.group(1)) if found else None


def get_json(url: str, timeout: float = 60.0) -> tuple[int, dict | None]:
    """(HTTP status, decoded JSON body or None) of a GET; never raises for HTTP errors."""
    assert urllib.parse.urlsplit(url).hostname == HOST, url
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    return _decoded(status, body, ctype)


def _decoded(status: int, body: bytes, ctype: str) -> tuple[int, dict | None]:
    """(HTTP status, the body decoded if it is JSON, else None)."""
    return status, (json.loads(body) if ctype.startswith("application/json") else None)


class KeptConnection:
    """One client's HTTP/1.1 connection, reused from request to request as a browser would
    reuse it, for as long as the server keeps it open: opened on first use, again after an
    error and whenever a response closes it. TensorBoard's werkzeug server closes every
    connection after its response (``Connection: close``, werkzeug 3.1 here), so against
    it each request still opens a new connection and a new server thread, as a browser's do."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def get_json(self, url: str) -> tuple[int, dict | None]:
        """As :func:`get_json`, over this connection."""
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == HOST, url
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, parts.port, timeout=self.timeout)
        try:
            self._conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
            r = self._conn.getresponse()
            status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except BaseException:
            self.close()  # a failed request is reported; the next one opens a new connection
            raise
        if r.will_close:
            self.close()
        return _decoded(status, body, ctype)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process used so far, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """``tensorboard --logdir ... --host 127.0.0.1 --port 0`` running this checkout's plugin
    (:attr:`port` is the one it binds, once it serves).

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
        self.port: int | None = None
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
        return [*base, "--logdir", self.logdir, "--host", HOST, "--port", "0", *self.extra_args]

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
            self.log.flush()
            self.port = self.port or serving_port(self.log.name)
            try:
                if self.port is not None and get_json(self.url("models"), timeout=5)[0] == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        output = self.output()  # before __exit__ closes the log
        self.__exit__(None, None, None)
        raise RuntimeError(f"tensorboard did not answer within {self.startup_timeout}s:\n{output}")

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
        self.by_class: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.count = 0
        self.started: list[tuple[float, float]] = []  # (monotonic start, seconds) of each request

    def add(
        self, route: str, seconds: float, error: str | None, kind: str | None = None, begun: float = 0.0
    ) -> None:
        with self.lock:
            self.count += 1
            self.started.append((begun, seconds))
            self.latencies[route].append(seconds)
            self.by_class[kind or route].append(seconds)
            if error:
                self.errors.append(error)


def query_class(url: str) -> str:
    """``route[/method] run/model`` of a plugin URL: which requests make up the tail."""
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query))
    route = parts.path.rsplit("/", 1)[-1] + (f"/{params['method']}" if "method" in params else "")
    return f"{route} {params.get('run', '?')}/{params.get('model', '?')}"


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
    notes.append("models: " + ", ".join(f"{r}/{m}" for r, m in models))
    return makers, notes


def drive(
    tb: TensorBoardProcess,
    clients: int,
    duration: float,
    max_requests: int,
    seed: int = 0,
    log=print,
    warmup: float = 0.0,
    plan: tuple[list, list[str]] | None = None,
    until=None,
    timeline: list | None = None,
    keep_alive: bool = True,
) -> dict:
    """Run ``clients`` closed-loop clients for ``duration`` seconds (or until ``until()`` is true);
    requests started in the first ``warmup`` seconds are sent but not counted. A summary dict;
    ``timeline`` (a list) receives each counted request's ``(monotonic start, seconds)``. Each
    client reuses its connection while the server keeps it open (:class:`KeptConnection`);
    without ``keep_alive`` it opens a new one for each request."""
    makers, notes = plan or plan_queries(tb, log=log)
    names = [m[0] for m in makers for _ in range(m[2])]
    funcs = [m[1] for m in makers for _ in range(m[2])]
    stats = Stats()
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + warmup + duration
    counted_from = started + warmup
    rss_samples: list[tuple[float, int]] = []
    sent = [0]

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        fetch = KeptConnection(timeout=60).get_json if keep_alive else (lambda u: get_json(u, timeout=60))
        while not stop.is_set() and time.monotonic() < deadline:
            with stats.lock:
                if sent[0] >= max_requests:
                    return
                sent[0] += 1
            k = rng.randrange(len(funcs))
            url = funcs[k](rng)
            begun = time.monotonic()
            t0 = time.perf_counter()
            error = None
            try:
                status, body = fetch(url)
                if status != 200 or body is None:
                    error = f"{status} {url}: {body}"
            except Exception as exc:  # a refused or dropped connection is an error too
                error = f"{type(exc).__name__} {url}: {exc}"
            if begun >= counted_from or error:
                stats.add(names[k], time.perf_counter() - t0, error, query_class(url), begun)

    cpu: dict[str, float | None] = {}

    def sampler() -> None:
        while not stop.is_set():
            if "start" not in cpu and time.monotonic() >= counted_from:
                cpu["start"], cpu["client_start"] = cpu_seconds(tb.proc.pid), time.process_time()
            rss = rss_bytes(tb.proc.pid)
            if rss is not None:
                rss_samples.append((time.monotonic() - started, rss))
            if until is not None and time.monotonic() > counted_from and until():
                stop.set()
            stop.wait(1.0)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    mem = threading.Thread(target=sampler, daemon=True)
    mem.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=warmup + duration + 120)
    stop.set()
    mem.join(timeout=5)
    if timeline is not None:
        timeline.extend(stats.started)
    cpu["end"], client_cpu = cpu_seconds(tb.proc.pid), time.process_time() - cpu.get("client_start", 0.0)
    server_cpu = (
        cpu["end"] - cpu["start"] if cpu.get("start") is not None and cpu["end"] is not None else None
    )
    elapsed = time.monotonic() - max(started + warmup, min(counted_from, time.monotonic()))
    all_lat = [x for v in stats.latencies.values() for x in v]
    rss = [r for _, r in rss_samples]
    third = max(1, len(rss) // 3)
    early, late = (max(rss[:third]), max(rss[-third:])) if rss else (0, 0)
    growth = late - early
    # Stable: the last third's peak is within 10% (and 64 MiB) of the first third's peak.
    rss_stable = bool(rss) and growth <= max(0.10 * early, 64 << 20)
    return {
        "clients": clients,
        "connections": "keep-alive" if keep_alive else "new",
        "warmup_s": warmup,
        "duration_s": round(elapsed, 1),
        "requests": stats.count,
        "requests_per_s": round(stats.count / elapsed, 1) if elapsed else 0,
        "errors": len(stats.errors),
        "first_errors": stats.errors[:10],
        # the server's CPU time per counted request: what a request costs, whatever the machine's load
        "server_cpu_ms_per_request": round(1000 * server_cpu / stats.count, 2)
        if server_cpu and stats.count
        else None,
        "client_cpu_ms_per_request": round(1000 * client_cpu / stats.count, 2) if stats.count else None,
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
        # Each route on each model (analogies by method), and how many of the slowest 1% it has.
        "per_class": _per_class(stats.by_class, percentile(all_lat, 0.99)),
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


def _per_class(by_class: dict[str, list[float]], p99: float) -> dict:
    return {
        name: {
            "n": len(v),
            "p50_ms": round(percentile(v, 0.5) * 1000, 1),
            "p99_ms": round(percentile(v, 0.99) * 1000, 1),
            "in_slowest_1_percent": sum(x >= p99 for x in v),
        }
        for name, v in sorted(by_class.items())
    }


def add_synthetic_models(
    logdir: str, sizes: str, prefix: str = "synth", log=print, seed: int = 0
) -> list[str]:
    """Synthetic clustered models (``benchmarks/synth.py``) of ``sizes`` (``400000x50,...``), each
    in a run of its own (``synth400000x50``); their run names."""
    sys.path.insert(0, REPO)
    from benchmarks import synth

    runs = []
    for text in [s for s in sizes.split(",") if s]:
        rows, dim = (int(float(x)) for x in text.lower().split("x"))
        run = f"{prefix}{rows}x{dim}"
        log(f"writing a synthetic {rows} x {dim} model ...")
        os.makedirs(os.path.join(logdir, run), exist_ok=True)
        synth.save(synth.keyed_vectors(rows, dim, seed=seed), os.path.join(logdir, run, "vectors.kv"))
        runs.append(run)
    return runs


def during_build(
    tb: TensorBoardProcess,
    logdir: str,
    size: str,
    clients: int,
    limit: float,
    seed: int,
    log=print,
    arrivals: int = 1,
    settled: bool = False,
    keep_alive: bool = True,
    timeline_path: str | None = None,
) -> dict:
    """``arrivals`` new models of ``size`` arrive in the logdir one after another, each asked for
    once as the tab does (it loads, then builds its search index unless it is small enough to be
    searched exactly), while ``clients`` keep querying the models already loaded: their latency
    meanwhile, also by what the arriving model was doing when each request started. ``settled``
    models arrive with hour-old modification times, so they are mapped rather than read."""
    plan = plan_queries(tb, log=lambda *a: None)
    # Written beforehand next to the logdir (same file system), each moved in by one rename.
    staging = tempfile.mkdtemp(prefix=".arriving-", dir=os.path.dirname(os.path.abspath(logdir)))
    runs = [
        add_synthetic_models(staging, size, prefix=f"arriving{i + 1}-", log=log, seed=i + 1)[0]
        for i in range(arrivals)
    ]
    if settled:  # copied in with their times kept (``cp -p``): old enough to be memory-mapped
        old = time.time() - 3600
        for run in runs:
            for name in os.listdir(os.path.join(staging, run)):
                os.utime(os.path.join(staging, run, name), (old, old))
    t0 = time.monotonic()
    stages: list[tuple[float, str]] = []  # when an arriving model's state changed
    models: list[dict] = []
    current: dict = {}

    def arrive() -> None:  # the next model appears and is asked for; its row is then followed
        i = len(models)
        os.rename(os.path.join(staging, runs[i]), os.path.join(logdir, runs[i]))
        current.update(run=runs[i], arrived=time.monotonic())
        models.append({"run": runs[i], "arrived_s": round(current["arrived"] - t0, 1)})
        stages.append((current["arrived"], "listing"))

        def ask(run=runs[i], row=models[-1], since=current["arrived"]) -> None:
            while time.monotonic() - since < 120:  # until a scan of the logdir lists it
                status, body = get_json(tb.url("models", run=run, model="vectors.kv"), timeout=60)
                if status == 200 and body and body.get("models"):
                    break
                time.sleep(0.2)
            asked = time.monotonic()
            row["listed_s"] = round(asked - since, 1)
            stages.append((asked, "loading"))
            status, _ = get_json(tb.url("neighbors", run=run, model="vectors.kv", word="w1", k=10), timeout=600)
            answered = time.monotonic()
            stages.append((answered, "answered"))  # then its index's state, polled
            row["first_answer_status"], row["loaded_s"] = status, round(answered - asked, 1)

        threading.Thread(target=ask, daemon=True).start()

    def index_settled() -> bool:  # the arriving model answered and its index is no longer on its way
        if "loaded_s" not in models[-1]:
            return False
        status, body = get_json(tb.url("models", run=current["run"], model="vectors.kv"), timeout=60)
        if status != 200:
            return False
        index = body["models"][0].get("index") or {}
        state = index.get("state")
        stage = index.get("stage") or state or "answered"
        if stage != stages[-1][1]:
            stages.append((time.monotonic(), stage))
        if state in ("queued", "building"):
            return False
        models[-1].update(
            index_state=state,
            index_ready_s=round(time.monotonic() - current["arrived"], 1),
            build_seconds=index.get("build_seconds"),
        )
        return True

    def finished() -> bool:  # polled about once a second by drive()
        if index_settled():
            if len(models) == arrivals:
                return True
            arrive()
        return False

    arrive()
    timeline: list[tuple[float, float]] = []
    try:
        summary = drive(
            tb,
            clients,
            limit,
            10**9,
            seed=seed + 1,
            log=log,
            plan=plan,
            until=finished,
            timeline=timeline,
            keep_alive=keep_alive,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["arriving_models"] = models
    summary["arrivals_completed"] = sum("index_state" in m for m in models)
    summary["by_stage"] = by_stage(timeline, stages)
    summary["by_stage_name"] = by_stage_name(timeline, stages)
    if timeline_path:
        write_timeline(timeline_path, timeline, stages, t0)
    return summary


def write_timeline(path: str, timeline: list[tuple[float, float]], stages: list[tuple[float, str]], t0: float) -> None:
    """Every counted request (start in seconds after the first arrival, latency in seconds) and
    the arriving models' stages, as JSON: where in a load the slow requests began."""
    data = {
        "requests": [[round(begun - t0, 4), round(seconds, 5)] for begun, seconds in sorted(timeline)],
        "stages": [[round(when - t0, 4), stage] for when, stage in stages],
    }
    with open(path, "w") as f:
        json.dump(data, f)


def by_stage(timeline: list[tuple[float, float]], stages: list[tuple[float, str]]) -> list[dict]:
    """The latency of the requests started in each stage of the arriving model (``loading``,
    then its index's build stages, polled about once a second), in order."""
    out = []
    for i, (since, stage) in enumerate(stages):
        until = stages[i + 1][0] if i + 1 < len(stages) else float("inf")
        lat = [s for begun, s in timeline if since <= begun < until]
        out.append(
            {
                "stage": stage,
                "from_s": round(since - stages[0][0], 1),
                "n": len(lat),
                "p50_ms": round(percentile(lat, 0.5) * 1000, 1) if lat else None,
                "p99_ms": round(percentile(lat, 0.99) * 1000, 1) if lat else None,
            }
        )
    return out


def by_stage_name(timeline: list[tuple[float, float]], stages: list[tuple[float, str]]) -> dict:
    """The latency of the requests started in each kind of stage, over every arriving model."""
    lat: dict[str, list[float]] = {}
    for i, (since, stage) in enumerate(stages):
        until = stages[i + 1][0] if i + 1 < len(stages) else float("inf")
        lat.setdefault(stage, []).extend(s for begun, s in timeline if since <= begun < until)
    return {
        stage: {
            "n": len(v),
            "p50_ms": round(percentile(v, 0.5) * 1000, 1) if v else None,
            "p99_ms": round(percentile(v, 0.99) * 1000, 1) if v else None,
            "max_ms": round(max(v) * 1000, 1) if v else None,
        }
        for stage, v in lat.items()
    }


def print_summary(title: str, summary: dict) -> None:
    print(
        f"{title}: {summary['requests']} requests in {summary['duration_s']}s "
        f"({summary['requests_per_s']}/s) from {summary['clients']} clients "
        f"(first {summary['warmup_s']:g} s not counted); errors: {summary['errors']}"
    )
    print(
        f"  latency p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms; "
        f"CPU per request: server {summary['server_cpu_ms_per_request']} ms, "
        f"these clients {summary['client_cpu_ms_per_request']} ms"
    )
    for name, r in summary["per_route"].items():
        print(f"  {name:12s} n={r['n']:6d} p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms")
    tail = sorted(summary["per_class"].items(), key=lambda item: -item[1]["in_slowest_1_percent"])
    print("  the slowest 1%: " + ", ".join(f"{name} {r['in_slowest_1_percent']}" for name, r in tail[:5]))
    m = summary["rss_mib"]
    print(
        f"  server RSS: {m['samples']} samples, {m['min']}..{m['max']} MiB; peak first third "
        f"{m['first_third_peak']} MiB, last third {m['last_third_peak']} MiB: "
        + ("stable" if m["stable"] else "GROWING")
    )
    for e in summary["first_errors"]:
        print("  error:", e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds counted (default 60)")
    parser.add_argument("--warmup", type=float, help="seconds of load before counting (default 5; --quick 2)")
    parser.add_argument(
        "--baseline",
        type=float,
        help="seconds of one client first, for the throughput ratio (default 15; --quick 3)",
    )
    parser.add_argument("--quick", action="store_true", help="about 10 s of load on small models, for CI")
    parser.add_argument("--max-requests", type=int, default=500_000, help="hard cap on requests sent")
    parser.add_argument("--logdir", help="serve this logdir instead of building one")
    parser.add_argument(
        "--sizes",
        help="synthetic models added to the built logdir (default 400000x50,100000x300; --quick 50000x50)",
    )
    parser.add_argument(
        "--during-build",
        metavar="SIZE",
        help="then add a model of this size (e.g. 1000000x100: large enough for a search index; "
        "1000000x40 is searched exactly, so it only loads) and keep querying the others while it "
        "loads and builds its index",
    )
    parser.add_argument(
        "--arrivals",
        type=int,
        default=1,
        help="with --during-build: how many such models arrive, one after another (default 1)",
    )
    parser.add_argument(
        "--settled",
        action="store_true",
        help="with --during-build: the models arrive with hour-old times (as `cp -p` keeps them), so "
        "they are memory-mapped instead of read as a training job's fresh files",
    )
    parser.add_argument(
        "--during-build-limit", type=float, default=600.0, help="seconds at most for that phase"
    )
    parser.add_argument(
        "--connections",
        choices=("keep-alive", "new"),
        default="keep-alive",
        help="keep-alive (default): each client reuses its connection while the server keeps it "
        "open (TensorBoard's werkzeug server closes each one after its response); new: a new "
        "connection for each request, as scripts without a session do",
    )
    parser.add_argument(
        "--timeline",
        metavar="FILE",
        help="with --during-build: write every request's start and latency and the arriving "
        "models' stages to FILE (JSON)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)
    keep_alive = args.connections == "keep-alive"
    if args.quick:
        args.duration = min(args.duration, 10.0)
    warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 5.0)
    baseline = args.baseline if args.baseline is not None else (3.0 if args.quick else 15.0)
    sizes = args.sizes if args.sizes is not None else ("50000x50" if args.quick else "400000x50,100000x300")
    if not (0 < args.duration <= 3600 and 0 < args.clients <= 256 and args.max_requests > 0):
        parser.error("--duration must be in (0, 3600], --clients in (0, 256]")
    if not (0 <= warmup <= 600 and 0 <= baseline <= 600 and 0 < args.during_build_limit <= 3600):
        parser.error("--warmup and --baseline must be in [0, 600], --during-build-limit in (0, 3600]")
    if not 1 <= args.arrivals <= 100:
        parser.error("--arrivals must be in [1, 100]")
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tmp = tempfile.mkdtemp(prefix="w2v-load-")
    report: dict = {"load_average": {"before": os.getloadavg()}}
    try:
        if args.logdir and args.during_build:  # the new model goes into a copy, not the user's logdir
            log(f"copying {args.logdir} ...")
            logdir = shutil.copytree(args.logdir, os.path.join(tmp, "logdir"))
        elif args.logdir:
            logdir = args.logdir
        else:
            log("building a logdir of real gensim models ...")
            logdir = build_logdir(os.path.join(tmp, "logdir"))
            add_synthetic_models(logdir, sizes, log=log)
        cache = os.path.join(tmp, "cache")
        with TensorBoardProcess(logdir, ["--word2vec_cache_dir", cache]) as tb:
            log(f"tensorboard pid {tb.proc.pid} on {HOST}:{tb.port}")
            plan = plan_queries(tb, log=log)
            if baseline:
                log(f"one client for {baseline:g} s ...")
                report["one_client"] = drive(
                    tb,
                    1,
                    baseline,
                    args.max_requests,
                    log=log,
                    warmup=min(warmup, 1.0),
                    plan=plan,
                    keep_alive=keep_alive,
                )
            log(f"{args.clients} clients for {warmup:g} + {args.duration:g} s ...")
            summary = drive(
                tb,
                args.clients,
                args.duration,
                args.max_requests,
                log=log,
                warmup=warmup,
                plan=plan,
                keep_alive=keep_alive,
            )
            report["load_average"]["after"] = os.getloadavg()
            if baseline and report["one_client"]["requests_per_s"]:
                summary["throughput_vs_one_client"] = round(
                    summary["requests_per_s"] / report["one_client"]["requests_per_s"], 2
                )
            if args.during_build:
                log(
                    f"{args.arrivals} model(s) of {args.during_build} arrive; {args.clients} clients go on "
                    "querying the others ..."
                )
                report["during_build"] = during_build(
                    tb,
                    logdir,
                    args.during_build,
                    args.clients,
                    args.during_build_limit,
                    seed=1,
                    log=log,
                    arrivals=args.arrivals,
                    settled=args.settled,
                    keep_alive=keep_alive,
                    timeline_path=args.timeline,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {**summary, **report, "models_queried": plan[1][-1].removeprefix("models: ").split(", ")}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for note in summary["notes"]:
            print("note:", note)
        if "one_client" in summary:
            print_summary("one client", summary["one_client"])
        print_summary(f"{args.clients} clients", summary)
        if "throughput_vs_one_client" in summary:
            print(f"  throughput: {summary['throughput_vs_one_client']}x one client's")
        if "during_build" in summary:
            phase = summary["during_build"]
            print_summary("while models arrive, load and build their index", phase)
            for row in phase["arriving_models"]:
                print(f"  arriving model: {row}")
            for row in phase["by_stage"]:
                print(
                    f"  from {row['from_s']:6.1f} s {row['stage']:12s} n={row['n']:6d} "
                    f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms"
                )
            for stage, row in phase["by_stage_name"].items():
                print(
                    f"  all {stage:12s} n={row['n']:6d} p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  "
                    f"slowest {row['max_ms']} ms"
                )
        print(f"load average: {summary['load_average']}")
    phases = [summary] + [summary[k] for k in ("one_client", "during_build") if k in summary]
    ok = all(p["errors"] == 0 and p["server_alive"] for p in phases) and summary["rss_mib"]["stable"]
    if "during_build" in summary and summary["during_build"]["arrivals_completed"] < args.arrivals:
        log(f"only {summary['during_build']['arrivals_completed']} of {args.arrivals} arrivals settled in time")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
