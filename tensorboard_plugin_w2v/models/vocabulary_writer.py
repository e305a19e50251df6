"""The vocabulary cache's tries, built in a child process at the lowest CPU priority.

Building the MARISA trie of 1M words holds the GIL for 2 s in one call, and the rest of the
files (trie ids, the prefix index) take another 4 s of Python. In the server's process that
stalled every request, of every TensorBoard plugin, for seconds after a large model was loaded
(16 clients on the load test, measured on the code before: p99 116 → 149 ms while it ran). :func:`write` hands the words to
``python -m tensorboard_plugin_w2v.models.vocabulary_writer FOLDER``, an interpreter of its own,
and waits for it without holding the GIL.

The folder holds the input: ``words.in`` (the words in row order, UTF-8, each followed by a
NUL) and, if the model has counts, ``counts.npy`` (which stays: it is one of the cache's
files). The child writes ``words.marisa``, the prefix index (:mod:`.prefix`), ``ids.npy`` and
``rows.npy`` beside them, removes ``words.in``, and exits 0; or prints one JSON line and exits :data:`REFUSED` (a vocabulary a trie cannot
hold: ``{"refused": why}``) or :data:`FAILED_WRITE` (``{"errno": n, "error": text}``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np

from tensorboard_plugin_w2v import lifecycle

WORDS_IN = "words.in"
COUNTS_IN = "counts.npy"
REFUSED = 3
FAILED_WRITE = 4
POLL_SECONDS = 0.25  # how often the parent checks whether it should stop the child


class Refused(ValueError):
    """The vocabulary cannot be held by a trie (a word with a NUL, a repeated word, a lone
    surrogate, a key that is not a string)."""


def write(folder: str, words, counts, stopped: Callable[[], bool]) -> None:
    """Write the trie files of ``words`` (and ``counts``) into ``folder`` from a child process.

    Raises :class:`Refused`, ``OSError`` for a failed write (with the child's ``errno``),
    ``InterruptedError`` when ``stopped()`` became true (the child is killed), and
    ``RuntimeError`` if the child failed otherwise."""
    try:
        payload = "\0".join(words).encode("utf-8") + b"\0" if len(words) else b""
    except (TypeError, UnicodeEncodeError) as exc:  # TypeError: keys that are not str
        raise Refused(str(exc)) from None
    path = os.path.join(folder, WORDS_IN)
    with open(path, "wb") as f:
        f.write(payload)
    del payload
    if counts is not None:
        np.save(os.path.join(folder, COUNTS_IN), np.asarray(counts))
    child = subprocess.Popen(
        [sys.executable, "-m", __name__, folder, str(len(words))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lifecycle.child_environment(),
    )
    while True:
        try:
            out, err = child.communicate(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if stopped():
                child.kill()
                child.communicate()
                raise InterruptedError("the vocabulary writer was stopped") from None
    if child.returncode == 0:
        return
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else {}
    except ValueError:
        reply = {}
    if child.returncode == REFUSED and "refused" in reply:
        raise Refused(reply["refused"])
    if child.returncode == FAILED_WRITE and "errno" in reply:
        raise OSError(reply["errno"], reply.get("error", "write failed"))
    tail = err.decode("utf-8", "replace").strip().splitlines()
    raise RuntimeError(f"the vocabulary writer exited with {child.returncode}: {tail[-1] if tail else ''}")


def _build(folder: str, rows: int) -> None:
    import marisa_trie

    from tensorboard_plugin_w2v.models.prefix import PrefixIndex

    with open(os.path.join(folder, WORDS_IN), "rb") as f:
        words = f.read().decode("utf-8").split("\0")[:-1] if rows else []
    if len(words) != rows:
        raise Refused("a word holds a NUL character")
    counts_path = os.path.join(folder, COUNTS_IN)
    counts = np.load(counts_path) if os.path.exists(counts_path) else None
    trie = marisa_trie.Trie(words)
    if len(trie) != len(words):
        raise Refused("the vocabulary repeats a word")
    ids = np.fromiter((trie[w] for w in words), dtype=np.int64, count=len(words))
    found = np.empty_like(ids)
    found[ids] = np.arange(len(ids))
    dtype = np.int32 if len(ids) < 2**31 else np.int64
    trie.save(os.path.join(folder, "words.marisa"))
    PrefixIndex.build(words, counts).save(folder)
    np.save(os.path.join(folder, "ids.npy"), ids.astype(dtype))
    np.save(os.path.join(folder, "rows.npy"), found.astype(dtype))
    os.remove(os.path.join(folder, WORDS_IN))


def main(argv: list[str]) -> int:
    folder, rows = argv[0], int(argv[1])
    try:
        os.setpriority(os.PRIO_PROCESS, 0, lifecycle.LOWEST)  # the lowest: the server's threads come first
    except (AttributeError, OSError):
        pass
    try:
        _build(folder, rows)
    except Refused as exc:
        print(json.dumps({"refused": str(exc)}))
        return REFUSED
    except OSError as exc:
        print(json.dumps({"errno": exc.errno, "error": str(exc)}))
        return FAILED_WRITE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
