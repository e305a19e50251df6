"""``w2v-visualizer MODEL OUTPUT_DIR``: put a word2vec model into TensorBoard's Projector.

Reads any format the plugin loads and writes OUTPUT_DIR so that ``tensorboard --logdir
OUTPUT_DIR`` shows the vectors in the Projector tab with words as labels (and in the
Word2Vec tab). Also runs as ``python -m tensorboard_plugin_w2v.cli.visualizer``.

    $ w2v-visualizer GoogleNews-vectors-negative300.bin logs/news --limit 50000
    $ tensorboard --logdir logs/news
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tensorboard_plugin_w2v.cli.modelfile import open_model
from tensorboard_plugin_w2v.errors import NotFound, Word2VecError
from tensorboard_plugin_w2v.writers.projector import PROJECTOR_POINT_LIMIT, default_name, export_model

PROG = "w2v-visualizer"
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments (``w2v-visualizer --help`` shows them)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write a word2vec model where TensorBoard's Projector shows it, words as labels.",
        epilog="Then run: tensorboard --logdir OUTPUT_DIR",
    )
    parser.add_argument(
        "model",
        help="model file: gensim Word2Vec/FastText/KeyedVectors, word2vec .bin/.txt, fastText .bin/.vec or GloVe",
    )
    parser.add_argument("output_dir", help="run directory to write (created if missing)")
    parser.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help=f"keep the N most frequent words (the Projector loads the first {PROJECTOR_POINT_LIMIT:,} only)",
    )
    parser.add_argument("--name", help="embedding name shown in the Projector (default: the file's name)")
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="show a progress bar"
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        return _fail(f"{args.output_dir}: exists and is not a directory")
    try:
        loaded = open_model(args.model)
    except Word2VecError as exc:
        return _fail(exc.message)
    words = loaded.vocab_size
    if words == 0:
        return _fail(f"{args.model}: the model has no words")
    shown = min(words, args.limit) if args.limit else words
    if shown > PROJECTOR_POINT_LIMIT:
        print(
            f"note: {shown:,} words will be written, but the Projector loads the first "
            f"{PROJECTOR_POINT_LIMIT:,} only; use --limit {PROJECTOR_POINT_LIMIT} to write just those",
            file=sys.stderr,
        )
    progress = args.progress if args.progress is not None else (None if shown >= 50_000 else False)
    try:
        export = export_model(
            loaded,
            args.output_dir,
            name=args.name or default_name(args.model),
            limit=args.limit,
            progress=progress,
        )
    except (NotFound, ValueError) as exc:
        return _fail(f"{args.model}: {getattr(exc, 'message', exc)}")
    except OSError as exc:
        return _fail(f"{exc.filename or args.output_dir}: cannot write: {exc.strerror or exc}")
    rows, dim = export.shape
    kind = "float32" if export.raw else "TSV"
    print(f"wrote {rows:,} words x {dim} dimensions ({kind}) as {export.tensor_name!r} to {args.output_dir}")
    print(f"now run: tensorboard --logdir {args.output_dir}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _entry() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(_entry())
