"""The norms a model's load starts early: computed once its vocabulary is decoded, not beside it."""

from __future__ import annotations

import time

import numpy as np

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.models import norms


def _mapped(tmp_path, lee_model) -> np.memmap:
    np.save(tmp_path / "vectors.npy", lee_model.wv.vectors)
    return np.load(tmp_path / "vectors.npy", mmap_mode="r")


def test_the_early_norms_wait_for_the_decoding_and_then_equal_gensims(tmp_path, lee_model):
    """Beside gensim's unpickling, each of the norms' NumPy calls waited for the GIL: they made a
    3M-word load 0.3 s slower and computed a tenth of it. The matrix is mapped meanwhile (no GIL
    needed); the norms are computed once the model is decoded."""
    group = lifecycle.ThreadGroup("test-norms")
    try:
        vectors = _mapped(tmp_path, lee_model)
        job = norms.start_norms(vectors, group)
        assert isinstance(job, norms.MappedNormsJob)
        time.sleep(0.5)  # long enough to map and compute a 1,800-row matrix many times over
        assert job._left == 1 and not job._done.is_set()
        job.unpickled()
        assert job._done.wait(30)
        expected = lee_model.wv
        expected.fill_norms(force=True)
        np.testing.assert_array_equal(job.result(), expected.norms)
    finally:
        assert group.close() == []


def test_a_query_waiting_for_the_norms_computes_them_without_waiting_for_the_decoding(tmp_path, lee_model):
    """The thread that needs the norms (a query) computes them itself; and a group closed while
    its norms thread waits for a decoding that never ends stops that thread."""
    group = lifecycle.ThreadGroup("test-norms")
    vectors = _mapped(tmp_path, lee_model)
    job = norms.start_norms(vectors, group)
    np.testing.assert_array_equal(job.result(), np.linalg.norm(lee_model.wv.vectors, axis=1))
    started = time.monotonic()
    assert group.close() == []
    assert time.monotonic() - started < 2
