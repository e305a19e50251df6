"""Requests in flight, and BLAS's threads: one per call while several requests run at once.

TensorBoard serves each request in its own thread. An exact scan is one BLAS call, and
OpenBLAS splits a large call over every core and keeps its worker threads spinning after it;
with several requests scanning at once those workers fight the request threads (and each
other) for the same cores: on 2 cores (shared with other jobs), 16 clients of
``scripts/load_test.py`` got 50-54 answers a second at 10 ms of server CPU each with OpenBLAS's
default, and 111-121 at 5.7-5.9 ms with one thread per call. A lone request keeps every core.

:class:`InFlight` counts the JSON requests being answered; when a second one starts it sets
the BLAS libraries loaded in the process (through ``threadpoolctl``, when installed) to one
thread per call, and gives them their default back only to a request that starts alone after
the server has answered one request at a time for :data:`QUIET_SECONDS`. Going back at every
dip to one request let the next scan wake OpenBLAS's workers, which then spin for a while
after it: under 16 clients a quarter of the server's CPU (4.8-5.1 ms of CPU per request
against 3.5-3.8 ms with one thread throughout). The setting is process-wide. :data:`REQUESTS`
is also what :data:`lifecycle.DEMAND` reads, for background work that makes way for requests.
"""

from __future__ import annotations

import logging
import threading
import time

from tensorboard_plugin_w2v import lifecycle

logger = logging.getLogger(__name__)

QUIET_SECONDS = 0.5  # one request at a time for this long: a lone request gets every BLAS thread again


class BlasThreads:
    """Sets the number of threads of the BLAS libraries loaded in this process (a no-op
    without ``threadpoolctl``)."""

    def __init__(self) -> None:
        self._controllers: list | None = None
        self._defaults: dict[str, int] = {}  # library file → its own number of threads
        self._single = False
        self._lock = threading.Lock()

    def _libraries(self) -> list:
        if self._controllers is None:
            try:
                from threadpoolctl import ThreadpoolController

                found = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception as exc:  # not installed, or a library it cannot drive
                logger.info("BLAS threads stay as they are: %s", exc)
                found = []
            # An OpenMP-threaded BLAS (faiss's own OpenBLAS) keeps its thread count per calling
            # thread, so no request thread can set it for the others; only index builds call it
            # with more than a few rows, and they set their own (search/ann.py).
            found = [c for c in found if getattr(c, "threading_layer", None) != "openmp"]
            for c in found:
                if c.filepath not in self._defaults:  # first seen: still at its default
                    self._defaults[c.filepath] = c.num_threads
                    if self._single:
                        self._set(c, 1)
            self._controllers = found
        return self._controllers

    def refresh(self) -> None:
        """Look for BLAS libraries again (e.g. after scipy, which ships its own, was imported)."""
        with self._lock:
            self._controllers = None
            self._libraries()

    @staticmethod
    def _set(controller, threads: int) -> None:
        # threadpoolctl lets only the first thread that set OpenBLAS's (process-wide) pool size
        # set it again; here any request thread may, one at a time (under ``_lock``).
        clear = getattr(controller, "clear_controlling_thread", None)  # threadpoolctl >= 3.6
        if clear is not None:
            clear(force=True)
        controller.set_num_threads(threads)

    @property
    def is_single(self) -> bool:
        """Whether BLAS runs one thread per call now."""
        return self._single

    def single(self) -> None:
        """One thread per BLAS call."""
        with self._lock:
            self._single = True
            for c in self._libraries():
                self._set(c, 1)

    def default(self) -> None:
        """Each library's own number of threads again."""
        with self._lock:
            self._single = False
            for c in self._libraries():
                self._set(c, self._defaults[c.filepath])

    def defaults(self) -> list[int]:
        """Each library's own number of threads (for tests)."""
        with self._lock:
            return [self._defaults[c.filepath] for c in self._libraries()]

    def current(self) -> list[int]:
        """The number of threads of each library found (for tests)."""
        with self._lock:
            return [c.get_num_threads() for c in self._libraries()]


class InFlight:
    """Counts requests being answered; BLAS runs one thread per call from the moment two are
    until one starts alone after :data:`QUIET_SECONDS` without company."""

    def __init__(self, blas: BlasThreads | None = None):
        self.blas = blas or BlasThreads()
        self._count = 0
        # When the server counts as answering one request at a time again: set whenever a request
        # leaves another behind, which comes after every moment two were in flight.
        self._busy_until = 0.0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    @property
    def busy_lately(self) -> bool:
        """Whether two requests are being answered, or were less than QUIET_SECONDS ago."""
        return self._count >= 2 or time.monotonic() < self._busy_until

    def __enter__(self) -> InFlight:
        with self._lock:
            self._count += 1
            if self._count >= 2:
                if not self.blas.is_single:
                    self.blas.single()
            elif self.blas.is_single and time.monotonic() >= self._busy_until:
                self.blas.default()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._count -= 1
            if self._count >= 1:  # another request is still being answered
                self._busy_until = time.monotonic() + QUIET_SECONDS


REQUESTS = InFlight()  # the JSON routes of every plugin instance in this process
lifecycle.DEMAND.counted_by(REQUESTS)
