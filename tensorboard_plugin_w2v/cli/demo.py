"""``w2v-demo``: build a demo logdir from data inside the gensim wheel and serve it in TensorBoard.

The logdir holds a Word2Vec model trained on gensim's bundled Lee corpus (with per-epoch
snapshots), one trained on its bundled Wikipedia sample (a vocabulary wide enough for the
built-in bias tests), gensim's bundled pretrained vector files in several formats, and a
projector export, so every part of the Word2Vec tab has something to show::

    w2v-demo --logdir logs            # build, then run `tensorboard --logdir logs`
    w2v-demo --logdir logs --no-serve # build only
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys

logger = logging.getLogger("w2v-demo")

TRAINED_RUNS = {"lee_cbow": 0, "lee_skipgram": 1}  # run -> sg
PROJECTOR_RUN = "projector"
WIKI_RUN = "wikipedia"  # gensim's bundled sample of English Wikipedia: 106 articles, 450k words
WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
# Vector files that ship inside the gensim wheel, by the run that shows them.
BUNDLED_VECTORS = {
    "pretrained": ("lee_fasttext.vec", "euclidean_vectors.bin", "test_glove.txt", "crime-and-punishment.bin"),
}


def build_demo_logdir(logdir: str, epochs: int = 20) -> None:
    """Write the demo runs into ``logdir`` (existing demo runs are replaced).

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
    build_demo_logdir(args.logdir, epochs=args.epochs)
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
    ]
    print(f"serving {args.logdir} at http://{args.host}:{args.port}/#word2vec (Ctrl-C stops)")
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
