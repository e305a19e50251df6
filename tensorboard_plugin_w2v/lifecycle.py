"""Who owns each background thread: a :class:`ThreadGroup` starts them and stops them together.

Every thread the package starts belongs to a group: the plugin's (stopped by
``Word2VecPlugin.close()``), or :data:`LIBRARY` for work started by plain library calls such as
:func:`~tensorboard_plugin_w2v.models.loading.load_model`. A group's threads watch its
:attr:`~ThreadGroup.stopping` event at their natural pauses (between chunks, batches, files) and
end soon after it is set; :meth:`ThreadGroup.close` sets it and joins them. One ``atexit`` hook
for the whole process closes whatever is still open (TensorBoard offers plugins no shutdown
call; it runs ``atexit`` handlers on SIGTERM and Ctrl-C), so no thread is left inside a native
library while the interpreter shuts down.

    >>> group = ThreadGroup("example")
    >>> thread = group.spawn(lambda: group.stopping.wait(60), name="w2v-example")
    >>> group.close(timeout=5)
    []
    >>> thread.is_alive()
    False
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Nice values (Linux, per thread). The requests run at the process's own (0); reading a model
# someone waits for, below them; work nobody waits for (index builds, private copies, the
# vocabulary cache), below that. The scheduler's weights for 0, 10 and 19 are 1024, 110 and 15.
LOADING = 10
LOWEST = 19


class Demand:
    """The requests this process is answering, read from the server's own counter
    (:data:`~tensorboard_plugin_w2v.server.inflight.REQUESTS`, which registers itself). Work that
    holds the GIL in the background (decoding a model's pickle) makes way for them while
    :meth:`busy`."""

    def __init__(self) -> None:
        self._counter = None  # anything with the ``count`` and ``busy_lately`` of server.inflight.InFlight

    def counted_by(self, counter) -> None:
        self._counter = counter

    def busy(self) -> bool:
        """Whether requests besides one waiting for the background work are being answered."""
        counter = self._counter
        return counter is not None and counter.count >= 2

    def lately(self) -> bool:
        """Whether requests were being answered two or more at a time now or a moment ago (a
        server under steady load, even at an instant between its requests)."""
        counter = self._counter
        return counter is not None and counter.busy_lately


DEMAND = Demand()


class GilShare:
    """Pacing for background work that holds the GIL in steps (decoding a pickle's frames,
    building a dict in chunks): call :meth:`step` between steps.

    A quiet process keeps the work at full speed: a hand-over at every step (``sleep(0)``) made
    the first load of a 3M-word model 0.25-0.6 s slower on a 2-core VM, where a sleeping core
    wakes slowly. While requests are being answered (:data:`DEMAND`), each step hands the GIL
    over, and if another thread took it, the work rests (GIL released) ``1 / share - 1`` times
    as long as its last step took, at most ``max_rest``: it keeps about ``share`` of the GIL.
    Handing over alone left a busy server's request threads half their pace: each came back
    from its socket or BLAS call to find the GIL taken by the next step."""

    CONTENDED = 0.0002  # a hand-over this long found another thread waiting for the GIL

    def __init__(self, share: float = 0.05, max_rest: float = 0.02):
        self.share = share
        self.max_rest = max_rest
        self._resumed = time.perf_counter()

    def step(self) -> None:
        """Between two steps of the work: make way for requests if there are any."""
        now = time.perf_counter()
        if DEMAND.busy():  # requests are being answered
            time.sleep(0)  # hand the GIL to a thread waiting for it, if any
            back = time.perf_counter()
            if back - now > self.CONTENDED:  # one did: make way
                time.sleep(min((now - self._resumed) * (1 / self.share - 1), self.max_rest))
                back = time.perf_counter()
            now = back
        self._resumed = now


class Stopped(Exception):
    """Background work given up part-way because its group is closing (nothing half-done is kept)."""


class Closable(Protocol):
    def close(self, timeout: float = ...) -> object: ...


def child_environment() -> dict[str, str]:
    """The environment of a child ``python -m tensorboard_plugin_w2v...``: this one, with the
    folder this package was imported from first on ``PYTHONPATH`` (a checkout not installed)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def lower_priority(nice: int) -> None:
    """Run the calling thread at ``nice`` (0–19) unless it already runs lower. On Linux ``nice``
    applies per thread and the threads it starts (OpenMP's) inherit it; elsewhere, or where
    not allowed, the thread keeps its priority."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(LOWEST, max(nice, os.getpriority(os.PRIO_PROCESS, tid))))


def _lowered(nice: int, target: Callable[..., object], args: tuple) -> None:
    lower_priority(nice)
    target(*args)


def run_lowered(group: ThreadGroup, work: Callable[[], T], *, name: str, nice: int = LOADING) -> T:
    """``work()`` in a thread of ``group`` running at ``nice`` (:func:`lower_priority`), the caller
    waiting for it: its result, or its exception raised here (a thread cannot raise its own
    priority back once lowered, so the caller's stays as it was). :class:`Stopped` if the group
    is closing."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = group.spawn(run, name=name, nice=nice)
    if thread is None:
        raise Stopped(f"{name}: the server is closing")
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


class ThreadGroup:
    """Threads started for one owner; :meth:`close` stops and joins them all."""

    def __init__(self, name: str):
        self.name = name
        self.stopping = threading.Event()  # set by close(): threads end at their next pause
        self._threads: set[threading.Thread] = set()
        # The threads started, in order (for logs and tests; the last 1,000 over a long uptime).
        self.started: collections.deque[threading.Thread] = collections.deque(maxlen=1000)
        self._closers: list[Callable[[float], object]] = []
        self._lock = threading.Lock()
        _open_groups.add(self)

    @property
    def closed(self) -> bool:
        return self.stopping.is_set()

    def spawn(
        self, target: Callable[..., object], *, name: str, args: tuple = (), nice: int = 0
    ) -> threading.Thread | None:
        """Start ``target(*args)`` in a daemon thread of this group, running at ``nice`` if that
        is lower than its starter's priority (:func:`lower_priority`); ``None`` once closed."""
        if nice:
            target, args = _lowered, (nice, target, args)
        with self._lock:
            if self.stopping.is_set():
                return None
            self._threads = {t for t in self._threads if t.is_alive()}
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            self._threads.add(thread)
            self.started.append(thread)
            thread.start()
        return thread

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the group is closed first; True if it was (stop now)."""
        return self.stopping.wait(max(0.0, seconds))

    def on_close(self, closer: Callable[[float], object]) -> None:
        """Call ``closer(seconds_left)`` when the group closes, before its threads are joined
        (a component's own shutdown: wake its worker, cancel its jobs)."""
        with self._lock:
            self._closers.append(closer)

    def threads(self) -> list[threading.Thread]:
        """This group's threads still alive."""
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def close(self, timeout: float = 5.0) -> list[str]:
        """Stop every thread of the group and wait up to ``timeout`` seconds in all; the names of
        threads still alive after that (none, normally). Safe to call more than once."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self.stopping.set()
            closers, self._closers = self._closers, []
        for closer in closers:
            try:
                closer(max(0.0, deadline - time.monotonic()))
            except Exception:  # one component's failure must not keep the others running
                logger.exception("closing %s failed", self.name)
        alive = []
        for thread in self.threads():
            if thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                alive.append(thread.name)
        if alive:
            logger.warning("%s: threads still running after %.1fs: %s", self.name, timeout, ", ".join(alive))
        _open_groups.discard(self)
        return alive


_open_groups: weakref.WeakSet[ThreadGroup] = weakref.WeakSet()
_at_exit: weakref.WeakSet = weakref.WeakSet()

# Work started by library calls outside a plugin (load_model's vocabulary cache, early norms).
LIBRARY = ThreadGroup("tensorboard_plugin_w2v")


def close_at_exit(obj: Closable) -> None:
    """Have ``obj.close()`` called when the process exits (if it is still alive then)."""
    _at_exit.add(obj)


def _close_everything() -> None:
    for obj in list(_at_exit):
        try:
            obj.close()
        except Exception:
            logger.exception("closing %r at exit failed", obj)
    for group in list(_open_groups):
        group.close()


atexit.register(_close_everything)
