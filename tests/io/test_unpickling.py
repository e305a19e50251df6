"""A large gensim pickle is decoded without holding the server's other threads."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from fixtures import longest_pause
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.io import unpickling
from tensorboard_plugin_w2v.models import loading


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


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_every_pickle_protocol_is_decoded_as_pickle_decodes_it(protocol):
    value = {"words": ["king", "queen", "é"], "counts": np.arange(5), "big": b"x" * 200_000, "n": 3}
    data = pickle.dumps(value, protocol=protocol)
    decoded = unpickling.loads(data)
    assert decoded.keys() == value.keys() and decoded["words"] == value["words"]
    np.testing.assert_array_equal(decoded["counts"], value["counts"])
    assert decoded["big"] == value["big"] and decoded["n"] == 3
