"""End to end: the installed plugin inside the real ``tensorboard`` command, over HTTP."""

from __future__ import annotations

import urllib.parse

import numpy as np
import pytest
from tb_process import get_json, tensorboard

pytestmark = pytest.mark.slow


def test_real_tensorboard_serves_the_plugin(logdir, lee_model):
    with tensorboard(logdir) as base:
        status, listing = get_json(f"{base}/data/plugins_listing")
        assert listing["word2vec"]["tab_name"] == "Word2Vec"
        assert listing["word2vec"]["enabled"] is True
        assert listing["word2vec"]["loading_mechanism"]["module_path"].endswith("/index.js")

        status, data = get_json(f"{base}/data/plugin/word2vec/models")
        assert status == 200
        assert {"lee", "pretrained", "training", "projector"} <= {m["run"] for m in data["models"]}

        query = urllib.parse.urlencode({"run": "lee", "model": "w2v.model", "word": "police", "k": 10})
        status, data = get_json(f"{base}/data/plugin/word2vec/neighbors?{query}")
        expected = lee_model.wv.most_similar("police", topn=10)
        assert status == 200
        assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected]
        np.testing.assert_allclose(
            [n["similarity"] for n in data["neighbors"]], [s for _, s in expected], atol=1e-5
        )

        query = urllib.parse.urlencode({"run": "lee", "model": "w2v.model", "word": "<script>"})
        status, data = get_json(f"{base}/data/plugin/word2vec/neighbors?{query}")
        assert status == 404 and "<script>" in data["error"]
