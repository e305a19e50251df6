"""Bringing a file's pages in before queries touch them (:mod:`tensorboard_plugin_w2v.io.prefetch`).

A saved index's prefetch after a restart is tested with the index, in
``tests/search/test_calibration.py``; a model's, with the vocabulary cache, in
``tests/models/test_vocabulary.py``."""

from __future__ import annotations

import os

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
