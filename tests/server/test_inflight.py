"""BLAS runs one thread per call while several JSON requests are answered at once, and gets its
own number of threads back for a request that starts alone once the server has answered one
request at a time for ``QUIET_SECONDS`` (numpy's real OpenBLAS, via threadpoolctl)."""

from __future__ import annotations

import threading
import time

import numpy as np
from werkzeug.test import Client

from tensorboard_plugin_w2v.server import http, inflight


def blas_threads() -> list[int]:
    found = inflight.REQUESTS.blas.current()
    assert found, "threadpoolctl found no BLAS library in this process"
    return found


def test_two_requests_in_flight_give_blas_one_thread_each():
    np.dot(np.ones((300, 300)), np.ones(300))  # BLAS is loaded
    blas_threads()  # fails if threadpoolctl finds no BLAS
    defaults = inflight.REQUESTS.blas.defaults()
    both_inside = threading.Barrier(2, timeout=30)
    seen: dict[str, list[int]] = {}

    def handler(args):
        both_inside.wait()  # both requests are being answered now
        seen[args["name"]] = blas_threads()
        both_inside.wait()  # neither leaves before the other has looked
        return {"name": args["name"]}

    app = http.json_route(handler)
    results = {}

    def ask(name: str) -> None:
        results[name] = Client(app).get("/", query_string={"name": name})

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(results[n].status_code == 200 and results[n].json == {"name": n} for n in "ab")
    assert seen == {"a": [1] * len(defaults), "b": [1] * len(defaults)}
    assert inflight.REQUESTS.count == 0

    alone = []
    lone = http.json_route(lambda args: alone.append(blas_threads()) or {})
    assert Client(lone).get("/").status_code == 200  # right after the pair: still one thread
    time.sleep(inflight.QUIET_SECONDS + 0.1)
    assert Client(lone).get("/").status_code == 200  # after a quiet spell: every thread again
    assert alone == [[1] * len(defaults), defaults]
    assert blas_threads() == defaults


def test_a_lone_request_keeps_every_blas_thread():
    blas_threads()  # fails if threadpoolctl finds no BLAS
    defaults = inflight.REQUESTS.blas.defaults()
    time.sleep(inflight.QUIET_SECONDS + 0.1)  # whatever ran before has been over for a while
    seen = []

    def handler(args):
        seen.append((inflight.REQUESTS.count, blas_threads()))
        return {}

    assert Client(http.json_route(handler)).get("/").status_code == 200
    assert seen == [(1, defaults)]


def test_a_request_that_fails_still_leaves_the_count():
    def handler(args):
        raise ValueError("boom")

    before = inflight.REQUESTS.count
    response = Client(http.json_route(handler)).get("/")
    assert response.status_code == 500 and "internal error" in response.json["error"]
    assert inflight.REQUESTS.count == before


def test_the_server_counts_as_busy_lately_for_a_quiet_spell_after_two_requests(monkeypatch):
    """What background reads go by (``lifecycle.DEMAND.lately``): two requests at once, or the
    moments after, not a lone request."""
    monkeypatch.setattr(inflight, "QUIET_SECONDS", 0.3)
    counter = inflight.InFlight()
    with counter:
        assert not counter.busy_lately
    with counter:
        with counter:
            assert counter.busy_lately
        assert counter.busy_lately  # one left the other behind: the spell starts
    assert counter.busy_lately
    time.sleep(0.35)
    assert not counter.busy_lately
