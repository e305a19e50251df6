"""Small real gensim models for the Word2Vec tab's browser tests.

``make_logdir(path)`` writes a log directory with seven runs:

* ``run_a/w2v.model`` – a Word2Vec model trained on gensim's Lee background corpus
  (big enough for meaningful neighbours and analogies),
* ``run_b/w2v.model`` – the same corpus, different seed and window (for the compare view),
* ``run_c/w2v.model`` – the same corpus trained with skip-gram,
* ``run_steps`` – model ``lee`` logged with ``log_model`` at training steps 1, 2 and 3,
* ``run_text/vectors.txt`` – ``run_c``'s vectors in word2vec text format (no counts),
* ``run_x_broken/w2v.model`` – a truncated copy of ``run_a``'s file (a load error),
* ``run_xss/w2v.model`` – KeyedVectors whose vocabulary holds HTML/script-looking words,
  to prove the tab renders model-provided words as text.

Training is deterministic (``workers=1`` and fixed seeds) and takes a few seconds.
"""

from __future__ import annotations

import os

import numpy as np

XSS_WORD = "<img src=x onerror=window.__xss=1>"
XSS_WORDS = [XSS_WORD, "<script>window.__xss=2</script>", "plain", "words", "here", "more"]


def _lee_sentences():
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    return list(LineSentence(datapath("lee_background.cor")))


def make_logdir(logdir: str) -> str:
    """Create the test log directory under ``logdir`` and return it."""
    from gensim.models import KeyedVectors, Word2Vec

    sentences = _lee_sentences()
    for run, seed, window, sg in (("run_a", 1, 5, 0), ("run_b", 2, 3, 0), ("run_c", 3, 5, 1)):
        os.makedirs(os.path.join(logdir, run), exist_ok=True)
        model = Word2Vec(
            sentences,
            vector_size=50,
            window=window,
            min_count=5,
            epochs=40,
            seed=seed,
            sg=sg,
            workers=1,
        )
        model.save(os.path.join(logdir, run, "w2v.model"))

    # Plain word2vec text vectors: no corpus counts, no training parameters.
    os.makedirs(os.path.join(logdir, "run_text"), exist_ok=True)
    model.wv.save_word2vec_format(os.path.join(logdir, "run_text", "vectors.txt"), binary=False)

    # A run with three training steps of one model "lee", logged as users log them.
    from tensorboard_plugin_w2v.writers.summary import log_model

    for step in (1, 2, 3):
        model = Word2Vec(sentences, vector_size=32, min_count=5, epochs=step * 5, seed=1, workers=1)
        log_model(os.path.join(logdir, "run_steps"), model, name="lee", step=step)

    # A model file cut short: it is listed, but fails to load with a readable error.
    os.makedirs(os.path.join(logdir, "run_x_broken"), exist_ok=True)
    with open(os.path.join(logdir, "run_a", "w2v.model"), "rb") as src:
        head = src.read(3000)
    with open(os.path.join(logdir, "run_x_broken", "w2v.model"), "wb") as dst:
        dst.write(head)

    os.makedirs(os.path.join(logdir, "run_xss"), exist_ok=True)
    rng = np.random.default_rng(0)
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(XSS_WORDS, rng.normal(size=(len(XSS_WORDS), 8)).astype(np.float32))
    for i, word in enumerate(XSS_WORDS):
        kv.set_vecattr(word, "count", 100 - i)
    kv.save(os.path.join(logdir, "run_xss", "w2v.model"))
    return logdir


if __name__ == "__main__":
    import sys

    print(make_logdir(sys.argv[1] if len(sys.argv) > 1 else "logs/e2e"))
