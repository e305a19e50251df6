"""The norms a large model's load starts early: computed by a child process while the model
decodes (a thread here would wait for the GIL the decoding holds), and by this process's
threads once it has."""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.models import norms

ROWS, DIM = 600_000, 50  # 120 MB: four chunks of 32 MB


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 600k × 50 ``KeyedVectors``' matrix saved as ``.npy``, and gensim's own norms of it."""
    rng = np.random.default_rng(7)
    kv = KeyedVectors(DIM, count=ROWS)
    kv.vectors = rng.standard_normal((ROWS, DIM), dtype=np.float32)
    kv.fill_norms()
    path = tmp_path_factory.mktemp("norms") / "vectors.npy"
    np.save(path, kv.vectors)
    return str(path), kv.norms


@pytest.fixture()
def group():
    group = lifecycle.ThreadGroup("test-norms")
    yield group
    assert group.close() == []


def test_a_child_computes_the_norms_while_the_model_decodes(large, group):
    """Nobody here computes before the decoding ends, and the norms are complete anyway: the
    child computed every chunk, bit for bit gensim's."""
    path, expected = large
    job = norms.start_norms(np.load(path, mmap_mode="r"), group)
    assert isinstance(job, norms.MappedNormsJob) and job.chunk_rows * 4 >= ROWS > job.chunk_rows * 3
    assert job._done.wait(60), "the child did not finish the norms"
    np.testing.assert_array_equal(job.result(), expected)


def test_a_query_and_the_child_meet_in_the_middle(large, group):
    """A query needing the norms at once takes chunks from the first while the child takes them
    from the last; each chunk is counted once and the norms are gensim's."""
    path, expected = large
    job = norms.start_norms(np.load(path, mmap_mode="r"), group)
    np.testing.assert_array_equal(job.result(), expected)
    assert job._left == 0


def test_a_child_that_dies_leaves_its_chunks_to_this_process(large, group):
    path, expected = large
    job = norms.start_norms(np.load(path, mmap_mode="r"), group)
    job._child.kill()
    job.unpickled()
    np.testing.assert_array_equal(job.result(), expected)


def test_without_a_child_the_norms_wait_for_the_decoding(tmp_path, group):
    """A matrix the child cannot read as rows (Fortran order) has its norms computed here, once
    the decoding has ended: beside gensim's unpickling, each NumPy call waited for the GIL, and
    the thread made a 3M-word load 0.3 s slower while computing a tenth of its norms."""
    vectors = np.asfortranarray(np.random.default_rng(3).standard_normal((2000, 20), dtype=np.float32))
    np.save(tmp_path / "f.npy", vectors)
    job = norms.start_norms(np.load(tmp_path / "f.npy", mmap_mode="r"), group)
    assert job._child is None
    time.sleep(0.5)  # long enough to compute 2,000 norms many times over
    assert job._left == 1 and not job._done.is_set()
    job.unpickled()
    assert job._done.wait(30)
    np.testing.assert_array_equal(job.result(), np.linalg.norm(vectors, axis=1))


def test_a_closed_group_stops_a_norms_thread_waiting_for_a_decoding(tmp_path):
    group = lifecycle.ThreadGroup("test-norms")
    vectors = np.asfortranarray(np.ones((100, 4), dtype=np.float32))
    np.save(tmp_path / "f.npy", vectors)
    norms.start_norms(np.load(tmp_path / "f.npy", mmap_mode="r"), group)
    started = time.monotonic()
    assert group.close() == []
    assert time.monotonic() - started < 2


def test_a_closed_group_stops_the_child(large):
    """Closing the load's thread group kills the child (here one frozen mid-way) and ends the
    thread following it; the norms are then computed here by whoever needs them."""
    path, expected = large
    group = lifecycle.ThreadGroup("test-norms")
    job = norms.start_norms(np.load(path, mmap_mode="r"), group)
    child = job._child
    os.kill(child.pid, signal.SIGSTOP)  # it will never report a chunk
    started = time.monotonic()
    assert group.close() == []
    assert time.monotonic() - started < 2
    assert child.wait(10) == -signal.SIGKILL and job._child is None
    np.testing.assert_array_equal(job.result(), expected)


def test_the_child_only_ever_writes_finished_norms(large):
    """Where the two ends meet, the child computes chunks this process has computed and may be
    reading: they must only ever hold the norms (a reduction's output holds zeros and partial
    sums until it is done; a child killed then left zeros that a query divided by)."""
    path, expected = large
    vectors = np.load(path, mmap_mode="r")
    fd = os.memfd_create("test-norms")
    os.ftruncate(fd, expected.nbytes)
    shared = np.frombuffer(mmap.mmap(fd, expected.nbytes), dtype=np.float32)
    shared[:] = expected  # as if this process had computed every chunk
    argv = [path, vectors.offset, ROWS, DIM, vectors.dtype.str, 10_000, fd]
    child = subprocess.Popen(
        [sys.executable, "-m", "tensorboard_plugin_w2v.models.norms_child", *map(str, argv)],
        stdout=subprocess.PIPE, pass_fds=(fd,), text=True,
    )
    os.close(fd)
    looks = 0
    while child.poll() is None:
        np.testing.assert_array_equal(shared, expected)
        looks += 1
    assert child.wait() == 0 and looks > 10
    assert child.stdout.read().split() == [str(c) for c in reversed(range(ROWS // 10_000))]
    np.testing.assert_array_equal(shared, expected)


def test_this_process_only_writes_finished_norms_where_the_child_writes(large, group, monkeypatch):
    """Where the two ends meet, both compute one chunk, and the child copies its norms into the
    shared ones while this process computes them. A reduction here into the shared norms took
    the square root of the child's values (a block came out wrong in two of eight loads of a
    3M-word model): this process computes aside too, and only copies finished norms there."""
    path, expected = large
    job = norms.start_norms(np.load(path, mmap_mode="r"), group)
    into_shared, real = [], norms.norms_into

    def watched(rows, out, scratch=None):
        into_shared.append(np.shares_memory(out, job.norms))
        return real(rows, out, scratch)

    monkeypatch.setattr(norms, "norms_into", watched)
    job.unpickled()
    np.testing.assert_array_equal(job.result(), expected)
    assert into_shared and not any(into_shared)
