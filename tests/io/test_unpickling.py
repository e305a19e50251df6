"""A large gensim pickle is decoded without holding the server's other threads."""

from __future__ import annotations

import contextlib
import mmap
import pickle
import statistics
import threading
import time

import numpy as np
import pytest
from fixtures import longest_pause
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import streamed, unpickling
from tensorboard_plugin_w2v.models import loading
from tensorboard_plugin_w2v.server import inflight


def test_a_million_word_vocabulary_is_unpickled_without_holding_this_process(tmp_path):
    """``pickle.loads`` of this file held every other thread for about a second."""
    kv = KeyedVectors(2)
    words = [f"{i * 2654435761 % 2**32:08x}{i}" for i in range(1_000_000)]  # scattered, as real words are
    kv.add_vectors(words, np.arange(2_000_000, dtype=np.float32).reshape(-1, 2))
    kv.save(str(tmp_path / "big.kv"))
    loaded, held = longest_pause(lambda: loading.load_model(str(tmp_path / "big.kv")))
    assert held < 0.3, f"this process was held for {held:.2f} s"
    assert loaded.kv.index_to_key == words
    assert loaded.kv.key_to_index == kv.key_to_index
    np.testing.assert_array_equal(loaded.kv.vectors, kv.vectors)


@pytest.mark.parametrize("from_file", [False, True], ids=["bytes", "read_file"])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_every_pickle_protocol_is_decoded_as_pickle_decodes_it(tmp_path, protocol, from_file):
    value = {"words": ["king", "queen", "é"], "counts": np.arange(5), "big": b"x" * 200_000, "n": 3}
    data = pickle.dumps(value, protocol=protocol)
    if from_file:  # as the model readers read it: into anonymous memory (io.streamed.read_file)
        (tmp_path / "v.pkl").write_bytes(data)
        data = streamed.read_file(str(tmp_path / "v.pkl"))
        assert isinstance(data, mmap.mmap)
    decoded = unpickling.loads(data)
    assert decoded.keys() == value.keys() and decoded["words"] == value["words"]
    np.testing.assert_array_equal(decoded["counts"], value["counts"])
    assert decoded["big"] == value["big"] and decoded["n"] == 3


@pytest.mark.parametrize("cut", [1, 9, 4096, 65_537])
def test_a_pickle_in_parts_is_read_across_them(cut):
    """Buffers read one after the other (as :func:`unpickling.without_key_index` gives them),
    cut anywhere: inside an opcode, a frame header or a frame."""
    value = {"words": [f"w{i}" for i in range(30_000)], "counts": np.arange(9), "big": b"y" * 100_000}
    data = pickle.dumps(value, protocol=4)
    view = memoryview(data)
    parts = tuple(view[i : i + cut] for i in range(0, len(data), cut)) if cut < 100 else (view[:cut], b"", view[cut:])
    decoded = unpickling.loads(parts)
    assert decoded["words"] == value["words"] and decoded["big"] == value["big"]
    np.testing.assert_array_equal(decoded["counts"], value["counts"])
    reader = unpickling._Yielding((b"first line\nsec", b"ond\n", b"", b"rest"))
    assert [reader.readline(), reader.readline(), reader.read(2), reader.read()] == [b"first line\n", b"second\n", b"re", b"st"]


@pytest.mark.parametrize("answering", [True, False], ids=["requests", "other-threads"])
def test_while_requests_want_the_gil_decoding_keeps_a_small_share_of_it(answering):
    """Three threads answering requests (Python work between short waits, as a request's
    socket and BLAS calls are) keep most of their pace while a large pickle is decoded: decoding
    rests after each frame it was made to wait for. Handing the GIL over at each frame alone
    left them a third to a half of their pace (0.35-0.49 measured). Threads that are not
    answering requests (a load's own helpers) do not slow the decoding down: it takes its share."""
    words = [f"{i * 2654435761 % 2**32:08x}{i}" for i in range(500_000)]
    data = pickle.dumps({"words": words, "rows": {w: i for i, w in enumerate(words)}}, protocol=4)
    stop, answered = threading.Event(), [0]

    def answer_requests():
        while not stop.is_set():
            with inflight.REQUESTS if answering else contextlib.nullcontext():  # as the server counts
                for _ in range(5):
                    sum(range(3000))
                    time.sleep(0.0002)
            answered[0] += 1

    def pace(seconds=None) -> float:  # requests answered per second meanwhile
        before, t0 = answered[0], time.perf_counter()
        decoded = unpickling.loads(data) if seconds is None else time.sleep(seconds)
        pace = (answered[0] - before) / (time.perf_counter() - t0)
        if decoded is not None:
            assert decoded["words"] == words and len(decoded["rows"]) == len(words)
        return pace

    threads = [threading.Thread(target=answer_requests) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        alone = statistics.median(pace(0.7) for _ in range(3))
        during = statistics.median(pace() for _ in range(3))
    finally:
        stop.set()
        for t in threads:
            t.join()
    if answering:
        assert during > 0.65 * alone, f"{during:.0f} requests/s while decoding, {alone:.0f} without"
    else:
        assert during < 0.65 * alone, f"{during:.0f} /s while decoding, {alone:.0f} without: it rested"


def test_a_quiet_decoding_keeps_the_gil_between_frames(monkeypatch):
    """With no requests being answered, decoding does not hand the GIL over after each frame
    (``sleep(0)``): that made a 3M-word model's first load 0.3-0.6 s slower on a 2-core VM, and
    the interpreter's switch interval already lets any waiting thread in. While requests are
    answered, it hands over after every frame."""
    data = pickle.dumps({"words": [f"w{i}" for i in range(200_000)]}, protocol=4)
    me, sleeps = threading.get_ident(), []
    real_sleep = time.sleep

    def counted(seconds):
        if threading.get_ident() == me:
            sleeps.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(lifecycle.time, "sleep", counted)
    assert unpickling.loads(data)["words"][-1] == "w199999"
    assert sleeps == []
    with inflight.REQUESTS, inflight.REQUESTS:  # two requests in flight: the server is busy
        assert unpickling.loads(data)["words"][0] == "w0"
    frames = len(data) // (64 << 10)  # the C pickler's frames are about 64 KB
    assert sleeps.count(0) >= frames > 10


def _vocabulary_pickle(folder, words: list[str]) -> bytes:
    """The pickle gensim saves for a KeyedVectors of ``words``, its vectors in a sidecar."""
    kv = KeyedVectors(3)
    kv.add_vectors(words, np.arange(3 * len(words), dtype=np.float32).reshape(-1, 3))
    kv.set_vecattr(words[0], "count", 7)
    kv.save(str(folder / "v.kv"), sep_limit=0)
    return (folder / "v.kv").read_bytes()


def _same_state(decoded, whole) -> None:
    for name, value in whole.__dict__.items():
        if name != "key_to_index":
            got = decoded.__dict__[name]
            assert str(got) == str(value) if name == "expandos" else got == value, name
    np.testing.assert_array_equal(decoded.expandos["count"], whole.expandos["count"])


@pytest.mark.parametrize(
    "words",
    [
        [f"w{i}" for i in range(10)],  # the dict within one frame
        [f"{i * 2654435761 % 2**32:08x}é{i}" for i in range(150_000)],  # across many frames
        # keys as words (not the interned key objects, as a corpus' words are not), an unframed word
        ["_".join(["key", "to", "index"]), "".join(["nor", "ms"]), "x" * 70_000, "}", *map(str, range(5_000))],
    ],
    ids=["one-frame", "many-frames", "awkward-words"],
)
def test_a_dict_left_out_decodes_as_empty_and_the_rest_as_before(tmp_path, words):
    data = _vocabulary_pickle(tmp_path, words)
    skipped = unpickling.without_key_index(data, len(words))
    assert skipped is not None and sum(map(len, skipped)) < len(data)
    decoded, whole = unpickling.loads(skipped), pickle.loads(data)
    assert decoded.key_to_index == {} and whole.key_to_index == {w: i for i, w in enumerate(words)}
    assert decoded.index_to_key == words
    _same_state(decoded, whole)
    joined = b"".join(skipped)
    assert pickle.loads(joined).index_to_key == words  # the frames are sound for either unpickler
    assert pickle._loads(joined).index_to_key == words  # the pure-Python one checks them strictly


def test_a_pickle_of_another_layout_is_left_whole(tmp_path):
    """Anything but ``{index_to_key[i]: i}`` as gensim writes it is decoded whole."""
    words = [f"w{i}" for i in range(3_000)]
    data = _vocabulary_pickle(tmp_path, words)
    assert unpickling.without_key_index(data, len(words)) is not None
    assert unpickling.without_key_index(data, len(words) - 1) is None
    assert unpickling.without_key_index(data[:-5000], len(words)) is None  # truncated
    kv = KeyedVectors.load(str(tmp_path / "v.kv"))
    assert unpickling.without_key_index(pickle.dumps(kv, protocol=2), len(words)) is None
    inline = unpickling.without_key_index(pickle.dumps(kv, protocol=4), len(words))  # vectors inside
    np.testing.assert_array_equal(unpickling.loads(inline).vectors, kv.vectors)
    kv.key_to_index["w7"], kv.key_to_index["w8"] = 8, 7  # not the rows of the list
    kv.save(str(tmp_path / "swapped.kv"), sep_limit=0)
    assert unpickling.without_key_index((tmp_path / "swapped.kv").read_bytes(), len(words)) is None
    kv.key_to_index = {"".join(["w", w[1:]]): i for i, w in enumerate(words)}  # equal words, other objects
    kv.save(str(tmp_path / "copies.kv"), sep_limit=0)
    assert unpickling.without_key_index((tmp_path / "copies.kv").read_bytes(), len(words)) is None
    shared = _vocabulary_pickle(tmp_path, ["key_to_index", *words])  # the key's own object: a reference
    assert unpickling.without_key_index(shared, len(words) + 1) is None
