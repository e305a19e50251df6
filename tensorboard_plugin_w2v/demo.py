"""``w2v-demo``: build a demo logdir from data inside the gensim wheel and serve it in TensorBoard.

The logdir holds a Word2Vec model trained on gensim's bundled Lee corpus (with per-epoch
snapshots), gensim's bundled pretrained vector files in several formats, and a projector
export, so every part of the Word2Vec tab has something to show::

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

# Vector files that ship inside the gensim wheel, by the run that shows them.
BUNDLED_VECTORS = {
    "pretrained": ("lee_fasttext.vec", "euclidean_vectors.bin", "test_glove.txt", "crime-and-punishment.bin"),
}


def build_demo_logdir(logdir: str, epochs: int = 20) -> None:
    """Write the demo models into ``logdir`` (existing demo runs are replaced)."""
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    corpus = LineSentence(datapath("lee_background.cor"))
    for sg, run in ((0, "lee_cbow"), (1, "lee_skipgram")):
        run_dir = os.path.join(logdir, run)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        logger.info("training %s (%d epochs) on gensim's Lee corpus", run, epochs)
        model = Word2Vec(
            corpus, vector_size=100, window=5, min_count=3, sg=sg, epochs=epochs, seed=1, workers=2
        )
        model.save(os.path.join(run_dir, "word2vec.model"))
    for run, names in BUNDLED_VECTORS.items():
        run_dir = os.path.join(logdir, run)
        os.makedirs(run_dir, exist_ok=True)
        for name in names:
            shutil.copyfile(datapath(name), os.path.join(run_dir, name))


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
