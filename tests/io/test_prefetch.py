"""Bringing a file's pages in before queries touch them (:mod:`tensorboard_plugin_w2v.io.prefetch`).

A saved index's prefetch after a restart is tested with the index, in
``tests/search/test_calibration.py``; a model's, with the vocabulary cache, in
``tests/models/test_vocabulary.py``."""

from __future__ import annotations

import os
import threading

import pytest

from tensorboard_plugin_w2v.io import prefetch


def test_prefetch_reads_a_file_this_process_has_not_mapped(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(1 << 20))
    assert prefetch.mapped_ranges(str(path)) == []
    assert prefetch.prefetch(str(path)) == "read"
    assert prefetch.prefetch(str(tmp_path / "missing")) == "failed"


def test_files_that_would_not_fit_in_half_the_memory_available_are_not_brought_in(tmp_path):
    path = str(tmp_path / "data.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(1 << 20))
    assert prefetch.warm([path, str(tmp_path / "missing")], available=(2 << 20) - 1) == {path: "skipped"}
    assert prefetch.warm([path], available=2 << 20) == {path: "read"}
    assert prefetch.available_memory() > 0  # this test machine's kernel tells


def test_the_smallest_files_are_brought_in_first(tmp_path):
    """A model's small arrays, which every query reads, come before its matrix."""
    paths = []
    for name, size in (("matrix", 3 << 20), ("norms", 1 << 20), ("ids", 2 << 20)):
        paths.append(str(tmp_path / name))
        with open(paths[-1], "wb") as f:
            f.write(os.urandom(size))
    done = prefetch.warm(paths, available=1 << 30)
    assert list(done) == [paths[1], paths[2], paths[0]] and set(done.values()) == {"read"}


def test_only_the_pieces_not_in_the_page_cache_are_touched_again(tmp_path):
    """Pages the page cache holds need no touching; pieces dropped from it are read back in."""
    import numpy as np

    from tensorboard_plugin_w2v.io import pages

    path = str(tmp_path / "data.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(3 * prefetch.CHUNK))
        f.flush()
        os.fsync(f.fileno())
    data = np.memmap(path, dtype=np.uint8, mode="r")
    assert prefetch._cold_chunks(data) == []  # just written: all in the page cache
    pages.drop(path, prefetch.CHUNK, prefetch.CHUNK)
    if pages.resident(data.ctypes.data + prefetch.CHUNK, prefetch.CHUNK):
        pytest.skip("this file system keeps its pages in memory (tmpfs)")
    assert prefetch._cold_chunks(data) == [prefetch.CHUNK]
    assert prefetch.touch(path)
    assert prefetch._cold_chunks(data) == []


def _written(path: str, size: int) -> None:
    with open(path, "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())


def _pages_resident(data, first: int, count: int):
    """Which of ``count`` pages from page ``first`` of a mapping are in the page cache."""
    from tensorboard_plugin_w2v.io import pages

    return [pages.resident(data.ctypes.data + (first + i) * pages.PAGE, pages.PAGE) for i in range(count)]


def test_asking_for_rows_reads_their_pages_and_nothing_around_them(tmp_path):
    """A fault on a cold mapped page reads far around it (8 MB on some disks); the queries ask
    for exactly the pages of the rows they are about to read instead."""
    import time

    import numpy as np

    from tensorboard_plugin_w2v.io import pages

    path = str(tmp_path / "matrix.npy")
    np.save(path, np.random.default_rng(0).standard_normal((20_000, 300)).astype(np.float32))  # 24 MB
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    matrix = np.load(path, mmap_mode="r")
    pages.drop(path)
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if pages.resident(raw.ctypes.data, len(raw)) is not False:
        pytest.skip("this file system keeps its pages in memory (tmpfs), or the kernel does not say")
    rows = np.array([5_000, 12_345, 19_999])
    pages.ask_for_rows(matrix, rows)
    wanted = sorted({(matrix.offset + r * matrix.strides[0] + b) // pages.PAGE for r in rows.tolist() for b in (0, 1199)})
    deadline = time.monotonic() + 5
    while not all(_pages_resident(raw, p, 1)[0] for p in wanted) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_pages_resident(raw, p, 1)[0] for p in wanted)
    # nothing read around them: the pages 16 before and after each row stay on disk
    for p in wanted:
        assert not any(_pages_resident(raw, p + 2, 14)), p
        assert not any(_pages_resident(raw, max(0, p - 16), 14)), p
    np.testing.assert_array_equal(matrix[rows], np.load(path)[rows])


def test_queries_ask_for_the_rows_of_a_file_until_its_prefetch_has_brought_them_in(tmp_path, monkeypatch):
    import numpy as np

    from tensorboard_plugin_w2v.io import pages

    monkeypatch.chdir(tmp_path)
    np.save("matrix.npy", np.ones((1000, 50), dtype=np.float32))
    matrix = np.load("matrix.npy", mmap_mode="r")
    asked = []
    monkeypatch.setattr(pages, "ask_for_rows", lambda m, rows: asked.append(rows.tolist()))
    prefetch.ask_for_rows(matrix, np.array([3]))
    assert asked == []  # no prefetch is about this file: its pages fault in as they always did
    assert prefetch.warm(["matrix.npy"], available=1) == {"matrix.npy": "skipped"}
    prefetch.ask_for_rows(matrix, np.array([3]))
    assert asked == []  # nor about a file left out because it does not fit
    progress = prefetch._track("matrix.npy")  # a prefetch starting, nothing looked at yet
    prefetch.ask_for_rows(matrix, np.array([3, 999]))
    assert asked == [[3, 999]] and not progress.done
    assert prefetch.prefetch("matrix.npy", progress=progress) == "mapped"
    assert progress.done and prefetch._FILES[str(tmp_path / "matrix.npy")] is progress
    prefetch.ask_for_rows(matrix, np.array([4]))
    assert asked == [[3, 999]]


def _three_pieces(tmp_path) -> str:
    path = str(tmp_path / "data.bin")
    _written(path, 3 * prefetch.CHUNK)
    return path


def test_queries_ask_only_for_pieces_that_were_not_in_the_page_cache(tmp_path):
    """Asking costs 0.5-0.9 ms per 64 rows even for pages in memory: a file the page cache
    holds has nothing to ask for, and a file with a cold piece only that piece, until reached."""
    import numpy as np

    from tensorboard_plugin_w2v.io import pages

    path = _three_pieces(tmp_path)
    warm = prefetch._track(path)
    warm.look(path)
    assert not prefetch.reaching(path) and warm.pages_in.is_set()
    pages.drop(path, prefetch.CHUNK, prefetch.CHUNK)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if pages.resident(data.ctypes.data + prefetch.CHUNK, prefetch.CHUNK) is not False:
        pytest.skip("this file system keeps its pages in memory (tmpfs), or the kernel does not say")
    cold = prefetch._track(path)
    cold.look(path)
    assert prefetch.reaching(path) and not cold.pages_in.is_set()
    ends = np.array([100, prefetch.CHUNK + 100, 2 * prefetch.CHUNK + 100])
    assert prefetch.not_yet_in(path, ends).tolist() == [False, True, False]
    cold.advance(2 * prefetch.CHUNK)  # the prefetch is past the cold piece
    assert not prefetch.reaching(path) and cold.pages_in.is_set()
    assert prefetch.not_yet_in(path, ends).tolist() == [False, False, False]


def test_the_first_query_reads_beside_a_prefetch_and_the_next_wait_until_its_pages_are_in(tmp_path):
    """Each query reading beside a prefetch of cold pages slows it down; one does, to answer at
    once, and the others wait for the pages."""
    import numpy as np

    from tensorboard_plugin_w2v.io import pages

    path = str(tmp_path / "matrix.npy")
    np.save(path, np.ones((300_000, 50), dtype=np.float32))  # 60 MB: two pieces
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    matrix = np.load(path, mmap_mode="r")
    pages.drop(path)
    progress = prefetch._track(path)  # a prefetch starting
    prefetch.settle(path)  # the first query: on at once
    early = threading.Thread(target=prefetch.settle, args=(path,))
    early.start()
    early.join(5)
    assert not early.is_alive()  # before it has looked which pieces are cold, nobody waits
    progress.look(path)
    if not prefetch.reaching(path):
        pytest.skip("this file system keeps its pages in memory (tmpfs), or the kernel does not say")
    second = threading.Thread(target=prefetch.settle, args=(path,))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # then another query waits ...
    prefetch.settle(path)  # ... but not the first one's thread again
    assert prefetch.prefetch(path, progress=progress) == "mapped"
    second.join(5)
    assert not second.is_alive()  # ... until the pages are in
    assert prefetch._FILES[path].done and float(matrix[299_999].sum()) == 50.0
    prefetch.settle(path)  # and nobody waits afterwards
