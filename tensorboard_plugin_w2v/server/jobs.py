"""Evaluation jobs of the server: worker threads that run keyed jobs and remember their results."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.analysis.progress import Cancelled, Progress
from tensorboard_plugin_w2v.errors import Busy, Conflict, Word2VecError

STATUS_DONE = "done"
STATUS_QUEUED = "queued"
STATUS_RUNNING = "running"


@dataclass
class _Job:
    work: Callable[[Progress], Any]
    progress: Progress = field(default_factory=Progress)
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None

    def status(self) -> str:
        if self.finished.is_set():
            return STATUS_DONE
        return STATUS_RUNNING if self.started.is_set() else STATUS_QUEUED

    def run(self) -> None:
        self.started.set()
        try:
            self.progress.check(0)  # cancelled while it waited: never starts
            self.result = self.work(self.progress)
        except BaseException as exc:  # kept for the request that asks for it
            self.error = exc
        finally:
            self.finished.set()


class BackgroundJobs:
    """Runs keyed jobs on worker threads and remembers their results (least recently used go).

    A request asks with :meth:`run` and waits at most ``wait`` seconds; an evaluation that
    takes longer keeps running and a later request with the same key picks up its result.
    Failures of type :class:`Word2VecError` are remembered like results; other failures, and
    cancelled jobs (:meth:`cancel`), are forgotten so the next request starts again. At most
    ``max_pending`` jobs wait or run at once; more are refused with :class:`Busy`. The workers
    are threads of ``group``; :meth:`close` cancels every job and joins them.

    >>> jobs = BackgroundJobs()
    >>> jobs.run("key", lambda progress: 42, wait=5)
    ('done', 42, False, None)
    >>> jobs.run("key", lambda progress: 0, wait=5)
    ('done', 42, True, None)
    >>> jobs.close()
    """

    def __init__(
        self,
        workers: int = 2,
        keep: int = 256,
        max_pending: int = 16,
        group: lifecycle.ThreadGroup | None = None,
    ):
        self._jobs: OrderedDict[Hashable, _Job] = OrderedDict()
        self._keep = keep
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._worker_count = workers
        self._workers: list[threading.Thread] = []
        self._group = group or lifecycle.ThreadGroup("w2v-eval")
        self._own_group = group is None
        self._group.on_close(self.close)

    def run(
        self, key: Hashable, job: Callable[[Progress], Any], wait: float
    ) -> tuple[str, Any, bool, dict | None]:
        """``(status, result, cached, progress)``: ``("done", result, …, None)``, or after ``wait``
        seconds ``("queued" | "running", None, …, progress as JSON)``."""
        with self._lock:
            entry = self._jobs.get(key)
            cached = entry is not None
            if entry is None:
                entry = self._jobs[key] = self._submit(job)
                self._forget_oldest()
            self._jobs.move_to_end(key)
        if not entry.finished.wait(wait):
            return entry.status(), None, cached, entry.progress.to_json()
        if entry.error is None:
            return STATUS_DONE, entry.result, cached, None
        if not isinstance(entry.error, Word2VecError) or isinstance(entry.error, Cancelled):
            self._forget(key, entry)
        if isinstance(entry.error, Cancelled):
            raise Conflict("the evaluation was cancelled", status="cancelled") from None
        raise entry.error

    def cancel(self, key: Hashable) -> bool:
        """Stop the job of ``key`` if it waits or runs (its result is not kept); whether it did."""
        with self._lock:
            entry = self._jobs.get(key)
            if entry is None or entry.finished.is_set():
                return False
            del self._jobs[key]
        entry.progress.cancel()  # a job still queued never starts; a running one stops soon
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every job and wait for the workers to end. Safe to call more than once."""
        with self._lock:
            entries, workers = list(self._jobs.values()), list(self._workers)
            self._worker_count = 0  # no new workers
        for entry in entries:
            entry.progress.cancel()
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(timeout)
        if self._own_group and not self._group.closed:
            self._group.close(timeout)

    def _submit(self, work: Callable[[Progress], Any]) -> _Job:
        pending = sum(not j.finished.is_set() for j in self._jobs.values())
        if pending >= self.max_pending:
            raise Busy(
                f"{pending} evaluations are already waiting or running; try again when they finish",
                retry_after=10,
            )
        entry = _Job(work)
        self._workers = [w for w in self._workers if w.is_alive()]
        if len(self._workers) < self._worker_count:
            worker = self._group.spawn(self._work, name=f"w2v-eval-{len(self._workers)}")
            if worker is not None:
                self._workers.append(worker)
        if not self._workers:  # closed: nothing will run it
            entry.progress.cancel()
            entry.run()
        else:
            self._queue.put(entry)
        return entry

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            entry.run()

    def _forget_oldest(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished.is_set()]
        while len(self._jobs) > self._keep and finished:
            del self._jobs[finished.pop(0)]

    def _forget(self, key: Hashable, entry: _Job) -> None:
        with self._lock:
            if self._jobs.get(key) is entry:
                del self._jobs[key]
