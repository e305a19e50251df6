"""A .npy file read into private memory: the same array as numpy's own load, whatever the steps."""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
import time

import numpy as np
import pytest
from fixtures import memory_of

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import streamed
from tensorboard_plugin_w2v.models import norms
from tensorboard_plugin_w2v.server import inflight


def _read(path: str) -> np.ndarray:
    stream = streamed.StreamedNpy(path)
    threading.Thread(target=stream.run).start()
    return stream.result()


@pytest.fixture
def small_steps(monkeypatch):
    monkeypatch.setattr(streamed, "FIRST_STEP_BYTES", 4096)  # many reads, the last one short
    monkeypatch.setattr(streamed, "STEP_BYTES", 3 * 4096)


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(0).standard_normal((1001, 37)).astype(np.float32),
        np.asfortranarray(np.random.default_rng(1).standard_normal((300, 20))),
        np.arange(12345, dtype=np.int64),
        np.zeros((0, 8), dtype=np.float32),
    ],
    ids=["float32-rows", "fortran", "one-dimensional", "empty"],
)
def test_the_array_equals_numpys_load(tmp_path, small_steps, array):
    path = str(tmp_path / "a.npy")
    np.save(path, array)
    got = _read(path)
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, np.load(path))
    assert not isinstance(got, np.memmap)


def test_read_npy_reads_in_the_calling_thread_into_anonymous_memory(tmp_path, small_steps):
    path = str(tmp_path / "a.npy")
    array = np.random.default_rng(4).standard_normal((777, 9)).astype(np.float32)
    np.save(path, array)
    got = streamed.read_npy(path)
    np.testing.assert_array_equal(got, np.load(path))
    assert isinstance(memory_of(got), mmap.mmap)
    np.save(path, np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match="Python objects"):
        streamed.read_npy(path)


def test_while_requests_are_answered_the_file_is_read_in_steps_faulted_in_first(tmp_path, monkeypatch):
    """Under demand (two requests counted as the server counts them) each step's memory is
    faulted in from user space before the read fills it; the array is the same."""
    monkeypatch.setattr(streamed, "TOUCHED_STEP_BYTES", 3 * 4096 + 100)  # unaligned steps
    path = str(tmp_path / "a.npy")
    array = np.random.default_rng(5).standard_normal((3001, 13)).astype(np.float32)
    np.save(path, array)
    with inflight.REQUESTS, inflight.REQUESTS:
        assert lifecycle.DEMAND.lately()
        stream = streamed.StreamedNpy(path)
        stream.run()
    np.testing.assert_array_equal(stream.result(), array)
    assert isinstance(memory_of(stream.result()), mmap.mmap)


@pytest.mark.parametrize("answering", [False, True], ids=["quiet", "requests"])
def test_read_file_returns_the_files_bytes(tmp_path, small_steps, monkeypatch, answering):
    monkeypatch.setattr(streamed, "TOUCHED_STEP_BYTES", 5000)
    data = np.random.default_rng(6).integers(0, 256, 123_457, dtype=np.uint8).tobytes()
    (tmp_path / "f.bin").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    deadline = time.monotonic() + 5
    while lifecycle.DEMAND.lately() and time.monotonic() < deadline:  # an earlier test's requests
        time.sleep(0.05)
    with contextlib.ExitStack() as requests:
        for _ in range(2 if answering else 0):  # as the server counts two requests being answered
            requests.enter_context(inflight.REQUESTS)
        assert lifecycle.DEMAND.lately() == answering
        got = streamed.read_file(str(tmp_path / "f.bin"))
    assert isinstance(got, mmap.mmap) and got[:] == data
    assert streamed.read_file(str(tmp_path / "empty")) == b""
    with pytest.raises(FileNotFoundError):
        streamed.read_file(str(tmp_path / "missing"))


def test_without_preadv_the_file_is_read_with_plain_reads(tmp_path, small_steps, monkeypatch):
    monkeypatch.delattr(os, "preadv")  # as on a platform that lacks it
    path = str(tmp_path / "a.npy")
    array = np.random.default_rng(7).standard_normal((999, 11)).astype(np.float32)
    np.save(path, array)
    np.testing.assert_array_equal(streamed.read_npy(path), array)
    with open(path, "rb") as f:
        assert streamed.read_file(path)[:] == f.read()


def test_a_header_of_format_2_is_read(tmp_path, small_steps):
    path = str(tmp_path / "v2.npy")
    array = np.random.default_rng(2).standard_normal((50, 3)).astype(np.float32)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=(2, 0))
    np.testing.assert_array_equal(_read(path), array)


def test_without_dontcache_the_page_cache_is_dropped_by_hand(tmp_path, small_steps, monkeypatch):
    monkeypatch.setattr(streamed, "RWF_DONTCACHE", 0x40000000)  # a flag no kernel knows: refused
    path = str(tmp_path / "a.npy")
    array = np.random.default_rng(3).standard_normal((2000, 16)).astype(np.float32)
    np.save(path, array)
    np.testing.assert_array_equal(_read(path), array)


def test_rows_are_announced_as_they_arrive_and_the_norms_follow_the_reader(tmp_path, small_steps):
    path = str(tmp_path / "a.npy")
    array = np.random.default_rng(4).standard_normal((4000, 64)).astype(np.float32)
    np.save(path, array)
    stream = streamed.StreamedNpy(path)
    assert stream.rows_read() == 0
    job = norms.StreamedNormsJob(stream)
    helper = threading.Thread(target=job.work)
    helper.start()  # waits for rows: nothing is read yet
    stream.run()
    helper.join()
    assert stream.rows_read() == len(array)
    np.testing.assert_array_equal(job.result(), np.linalg.norm(array, axis=1))  # gensim's formula


def test_a_file_shorter_than_its_header_says_is_refused(tmp_path):
    path = str(tmp_path / "short.npy")
    np.save(path, np.ones((100, 10), dtype=np.float32))
    os.truncate(path, os.path.getsize(path) - 8)
    with pytest.raises(ValueError, match="truncated"):
        streamed.StreamedNpy(path)


def _opened(tmp_path) -> tuple[str, streamed.StreamedNpy]:
    """A 5,000 × 10 array's file, opened (its header read) and not read yet."""
    path = str(tmp_path / "a.npy")
    np.save(path, np.ones((5000, 10), dtype=np.float32))
    return path, streamed.StreamedNpy(path)


def test_a_file_that_shrinks_while_it_is_read_is_an_error_for_every_waiter(tmp_path, small_steps):
    path, stream = _opened(tmp_path)
    os.truncate(path, 10_000)  # rewritten by its job after the header was read
    stream.run()
    with pytest.raises(ValueError, match="shrank"):
        stream.result()
    with pytest.raises(ValueError, match="shrank"):
        stream.wait_rows(4000)
    assert not stream.unchanged()


def test_arrays_of_python_objects_are_refused(tmp_path):
    path = str(tmp_path / "objects.npy")
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        streamed.StreamedNpy(path)


def test_a_stopped_read_ends_at_its_next_step(tmp_path, small_steps):
    _path, stream = _opened(tmp_path)
    stop = threading.Event()
    stop.set()
    stream.run(stop)
    with pytest.raises(lifecycle.Stopped):
        stream.result()


def test_a_read_file_knows_whether_it_changed_since(tmp_path):
    path = str(tmp_path / "a.npy")
    np.save(path, np.ones((10, 10), dtype=np.float32))
    stream = streamed.StreamedNpy(path)
    assert not stream.unchanged()  # not read yet
    stream.run()
    assert stream.unchanged()
    os.utime(path, ns=(1, 1))
    assert not stream.unchanged()
