"""Unpickling that lets the server's other threads run while a large pickle is decoded.

``pickle.loads`` decodes a whole pickle in one C call that holds the GIL: gensim's pickle of a
million-word vocabulary held it for a second, and every request of every TensorBoard plugin
waited meanwhile. Given a file object instead, the C unpickler asks for each frame of a
protocol-4 pickle (64 KB; gensim writes protocol 4) with a call to its ``read``. When that
``read`` is Python code, the interpreter may hand the GIL to a waiting thread there, so the others
wait at most a frame's decoding (about a millisecond) after the switch interval (5 ms), not the
whole pickle. While requests are being answered (:data:`lifecycle.DEMAND`), ``read`` also hands
the GIL over itself (``time.sleep(0)``) after every frame, and if that shows another thread
wanted it, decoding rests (GIL released) nineteen times as long as its last frame took: it keeps
about a twentieth of the GIL while requests want it (handing over alone left a busy server's
request threads half their pace: each came back from its socket or BLAS call to find the GIL
taken by the next frame). A quiet load keeps all of it: a ``sleep(0)`` after every frame made
the first load of a 3M-word model 0.25-0.6 s slower on a 2-core VM, where a sleeping core wakes
slowly. Older protocols have no frames (the unpickler
would call ``read`` for every opcode), so they are decoded in one call as before.

    >>> import pickle
    >>> loads(pickle.dumps({"king": 0, "queen": 1}, protocol=4))
    {'king': 0, 'queen': 1}
"""

from __future__ import annotations

import io
import mmap
import pickle
import time

from tensorboard_plugin_w2v import lifecycle

FRAMED_PROTOCOL = 4
# While requests want the GIL, decoding keeps about this share of it: after each frame it
# rests (GIL released) for (1 / SHARE - 1) times the frame's decoding, at most MAX_REST.
SHARE = 0.05
MAX_REST = 0.02
CONTENDED = 0.0002  # a hand-over (sleep(0)) this long found another thread waiting for the GIL


def loads(data: bytes | mmap.mmap, encoding: str = "latin1"):
    """``pickle.loads(data, encoding=encoding)``, letting other threads run between frames;
    ``data`` may also be an ``mmap`` (:func:`~tensorboard_plugin_w2v.io.streamed.read_file`)."""
    if len(data) < 2 or data[0] != pickle.PROTO[0] or data[1] < FRAMED_PROTOCOL:
        return pickle.loads(data, encoding=encoding)
    return pickle.Unpickler(_Yielding(data), encoding=encoding).load()


class _Yielding:
    """A file over ``data`` whose methods are Python code, so each call is a point where the
    interpreter may hand the GIL to another thread."""

    def __init__(self, data: bytes | mmap.mmap):
        if isinstance(data, mmap.mmap):
            data.seek(0)
            self._file = data  # read in place (a BytesIO would copy it)
        else:
            self._file = io.BytesIO(data)
        self._resumed = time.perf_counter()

    def read(self, size: int = -1) -> bytes:
        now = time.perf_counter()
        if lifecycle.DEMAND.busy():  # requests are being answered
            time.sleep(0)  # hand the GIL to a thread waiting for it, if any
            back = time.perf_counter()
            if back - now > CONTENDED:  # one did: make way
                time.sleep(min((now - self._resumed) * (1 / SHARE - 1), MAX_REST))
                back = time.perf_counter()
            now = back
        self._resumed = now
        return self._file.read(size)

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._file.read(len(view))  # an mmap has no readinto
        view[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        return self._file.readline()
