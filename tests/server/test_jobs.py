"""Evaluation jobs: queued, running and done states, cancellation, the queue bound, closing."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from tensorboard_plugin_w2v.analysis import evaluation as ev
from tensorboard_plugin_w2v.errors import Busy, Conflict, NotFound
from tensorboard_plugin_w2v.server import http
from tensorboard_plugin_w2v.server.jobs import BackgroundJobs


def test_background_jobs_report_queued_running_then_done():
    jobs = BackgroundJobs(workers=1)
    gate = threading.Event()

    def slow(progress):
        progress.total = 10
        progress.check(3)
        return gate.wait(10) and "finished"

    status, result, cached, progress = jobs.run("slow", slow, wait=0.2)
    assert (status, result, cached) == ("running", None, False)
    assert progress == {"done": 3, "total": 10, "fraction": 0.3}
    assert jobs.run("next", lambda progress: "second", wait=0)[0] == "queued"  # the only worker is busy
    gate.set()
    assert jobs.run("slow", lambda progress: "never run", wait=10) == ("done", "finished", True, None)
    assert jobs.run("next", lambda progress: "never run", wait=10) == ("done", "second", True, None)
    with pytest.raises(NotFound):
        jobs.run("fails", lambda progress: ev.builtin("nope"), wait=10)
    with pytest.raises(ZeroDivisionError):
        jobs.run("crash", lambda progress: 1 / 0, wait=10)
    assert jobs.run("crash", lambda progress: "retried", wait=10) == ("done", "retried", False, None)


def test_cancelled_jobs_stop_and_are_forgotten():
    jobs = BackgroundJobs(workers=1)
    steps = []

    def endless(progress):
        for i in itertools.count():
            progress.check(i)
            steps.append(i)
            time.sleep(0.005)

    assert jobs.run("endless", endless, wait=0.1)[0] == "running"
    assert jobs.run("queued", lambda progress: steps.append("ran"), wait=0)[0] == "queued"
    waiter_saw = []

    def wait_for_endless():
        try:
            jobs.run("endless", endless, wait=10)
        except Conflict as exc:
            waiter_saw.append(exc.to_json())

    waiter = threading.Thread(target=wait_for_endless)
    waiter.start()
    time.sleep(0.05)
    assert jobs.cancel("queued") and jobs.cancel("endless")
    assert not jobs.cancel("endless") and not jobs.cancel("unknown")
    waiter.join(10)
    assert waiter_saw == [{"error": "the evaluation was cancelled", "status": "cancelled"}]
    # forgotten: asking again starts a new job
    assert jobs.run("endless", lambda progress: "restarted", wait=10)[:3] == ("done", "restarted", False)
    ran = len(steps)
    time.sleep(0.05)
    assert len(steps) == ran and "ran" not in steps  # the endless job stopped; the queued one never ran


def test_too_many_pending_jobs_are_refused():
    jobs = BackgroundJobs(workers=1, max_pending=2)
    gate = threading.Event()
    try:
        for key in ("a", "b"):
            jobs.run(key, lambda progress: gate.wait(10), wait=0)
        with pytest.raises(Busy) as refused:
            jobs.run("c", lambda progress: "c", wait=0)
        assert http.status_of(refused.value) == 429
        assert jobs.run("a", lambda progress: "not again", wait=0)[2] is True  # known keys still answer
    finally:
        gate.set()
    for key in ("a", "b"):
        assert jobs.run(key, lambda progress: "not again", wait=10)[0] == "done"
    assert jobs.run("c", lambda progress: "c", wait=10)[:2] == ("done", "c")
