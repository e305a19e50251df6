"""``w2v-drift``: which words moved between two models (orthogonal Procrustes alignment).

    $ w2v-drift run1/w2v.model run2/w2v.model            # the 20 most and least changed words
    $ w2v-drift old.bin new.bin --anchors 10000 -k 50 --json
    $ w2v-drift old.bin new.bin --word police --word fire

Model B is rotated onto model A with the ``--anchors`` most frequent shared words (A's order;
default all, at most 50,000); a word's drift is ``1 − cos(a_w, b_w R)``. Problems with the files
are reported in one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tensorboard_plugin_w2v.analysis import alignment
from tensorboard_plugin_w2v.cli.analysis_tables import format_drift
from tensorboard_plugin_w2v.errors import Word2VecError
from tensorboard_plugin_w2v.models.loading import LoadedModel, load_model

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="w2v-drift",
        description="Align model B onto model A (orthogonal Procrustes on their shared words) and "
        "list the words that moved most and least.",
    )
    parser.add_argument("model_a", metavar="MODEL_A", help="model file in any format the plugin reads")
    parser.add_argument("model_b", metavar="MODEL_B", help="model file of the same dimension")
    parser.add_argument(
        "--anchors",
        type=int,
        metavar="N",
        help=f"align on the N most frequent shared words (default: all, at most {alignment.MAX_ANCHORS:,})",
    )
    parser.add_argument(
        "-k",
        type=int,
        default=alignment.DEFAULT_TOP,
        metavar="K",
        help="how many most and least changed words to list (default: %(default)s)",
    )
    parser.add_argument(
        "--restrict-vocab",
        type=int,
        metavar="M",
        help="rank only the M most frequent shared words (default: all)",
    )
    parser.add_argument("--word", action="append", default=[], help="also report this word's drift and rank")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _model_json(path: str, model: LoadedModel) -> dict:
    return {"path": path, "format": model.format, "vocab_size": model.vocab_size, "dim": model.dim}


def report(args: argparse.Namespace) -> dict:
    """Compare the two files as the parsed command line asks (raises on bad input)."""
    for name, value, minimum in (
        ("--anchors", args.anchors, 1),
        ("-k", args.k, 0),
        ("--restrict-vocab", args.restrict_vocab, 1),
    ):
        if value is not None and value < minimum:
            raise Word2VecError(f"{name} must be at least {minimum}, got {value}")
    model_a, model_b = load_model(args.model_a), load_model(args.model_b)
    try:
        found = alignment.drift(
            model_a.kv,
            model_b.kv,
            anchors=args.anchors,
            top=min(args.k, alignment.MAX_TOP),
            restrict_vocab=args.restrict_vocab,
            words=args.word,
            counts_known_a=model_a.counts_known,
        )
    except Word2VecError as exc:
        raise Word2VecError(f"{args.model_a} and {args.model_b}: {exc.message}") from None
    return {
        "a": _model_json(args.model_a, model_a),
        "b": _model_json(args.model_b, model_b),
        **found.to_json(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        data = report(args)
    except Word2VecError as exc:
        print(f"w2v-drift: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else format_drift(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
