"""``w2v-eval``: gensim's benchmark figures for a model file, from the command line.

    $ w2v-eval logs/run1/w2v.model                          # analogies, WordSim353, SimLex-999
    $ w2v-eval vectors.bin --benchmark analogies --method both
    $ w2v-eval vectors.bin --benchmark my_pairs.tsv --json
    $ w2v-eval vectors.bin --weat                           # the ten WEAT bias tests

``--benchmark`` takes a built-in name (``analogies``, ``wordsim353``, ``simlex999``) or the
path of a file in the same format (``questions-words.txt`` or ``wordsim353.tsv``). Problems with
the files are reported in one line on stderr with exit status 2, as ``w2v-visualizer`` reports
them (``w2v-eval: error: PATH: problem``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from tensorboard_plugin_w2v.analysis import evaluation
from tensorboard_plugin_w2v.cli.modelfile import open_model
from tensorboard_plugin_w2v.errors import Word2VecError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="w2v-eval",
        description="Evaluate a word2vec model on word analogies and word-pair similarity, "
        "with the figures of gensim's evaluate_word_analogies and evaluate_word_pairs.",
    )
    parser.add_argument("model", help="model file in any format the Word2Vec plugin reads")
    parser.add_argument(
        "--benchmark",
        "-b",
        action="append",
        metavar="NAME_OR_FILE",
        help="built-in benchmark (analogies, wordsim353, simlex999) or a file in the same "
        "format; repeat for several. Default: all three built-ins.",
    )
    parser.add_argument(
        "--method",
        choices=[*evaluation.METHODS, "both"],
        default=evaluation.METHOD_3COSADD,
        help="how analogies are solved (default: %(default)s, gensim's)",
    )
    parser.add_argument(
        "--restrict-vocab",
        type=int,
        default=evaluation.DEFAULT_RESTRICT_VOCAB,
        metavar="N",
        help="only the first N (most frequent) words take part, as in gensim (default: %(default)s)",
    )
    parser.add_argument(
        "--weat",
        action="store_true",
        help="run the ten built-in WEAT bias tests of Caliskan et al. 2017 instead of the default "
        "benchmarks (add -b to run benchmarks too)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def resolve_benchmark(spec: str) -> evaluation.Benchmark:
    """A built-in name, or a path to a benchmark file."""
    if spec in evaluation.BUILTINS:
        return evaluation.builtin(spec)
    if not os.path.exists(spec):
        known = ", ".join(evaluation.BUILTINS)
        raise evaluation.BenchmarkError(f"no benchmark {spec!r}: not a file, nor one of {known}")
    return evaluation.benchmark_file(spec)


def report(args: argparse.Namespace) -> dict:
    """Evaluate as the parsed command line asks; the JSON-ready report (raises on bad input)."""
    if args.restrict_vocab < 1:
        raise evaluation.BenchmarkError("--restrict-vocab must be at least 1")
    default = [] if getattr(args, "weat", False) else list(evaluation.BUILTINS)
    benchmarks = [resolve_benchmark(b) for b in (args.benchmark or default)]
    model = open_model(args.model)
    methods = list(evaluation.METHODS) if args.method == "both" else [args.method]
    results = []
    for benchmark in benchmarks:
        if benchmark.kind == evaluation.KIND_ANALOGIES:
            for method in methods:
                with _ProgressBar(f"{benchmark.name} ({method})") as progress:
                    result = evaluation.evaluate_analogies(
                        model.kv, benchmark, method, args.restrict_vocab, progress=progress
                    )
                results.append(result.to_json())
        else:
            results.append(evaluation.evaluate_pairs(model.kv, benchmark, args.restrict_vocab).to_json())
    out = {
        "model": args.model,
        "format": model.format,
        "vocab_size": model.vocab_size,
        "dim": model.dim,
        "results": results,
    }
    if getattr(args, "weat", False):
        from tensorboard_plugin_w2v.analysis import weat

        out["weat"] = weat.run_all(model.kv)
    return out


class _ProgressBar(evaluation.Progress):
    """Questions answered, as a bar on a terminal's standard error (nothing when redirected)."""

    def __init__(self, label: str):
        super().__init__()
        from tqdm.auto import tqdm

        self._bar = tqdm(desc=label, unit=" questions", disable=None, leave=False, file=sys.stderr)

    def check(self, done: int) -> None:
        if self.total is not None and self._bar.total != self.total:
            self._bar.reset(total=self.total)
        self._bar.update(done - self._bar.n)
        super().check(done)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _coverage(answered: int, questions: int) -> str:
    """Share of the questions answered, never shown as 0 % or 100 % when it is not."""
    if not questions:
        return "—"
    share = 100 * answered / questions
    if 0 < share < 0.1:
        return "<0.1%"
    if 99.9 < share < 100:
        return ">99.9%"
    return f"{share:.1f}%"


def format_table(report: dict) -> str:
    """The report as plain-text tables, one per benchmark."""
    lines = [f"{report['model']}: {report['format']}, {report['vocab_size']} words × {report['dim']}"]
    for r in report["results"]:
        lines.append("")
        if r["kind"] == evaluation.KIND_ANALOGIES:
            lines.append(f"{r['benchmark']} ({r['method']}, restrict_vocab={r['restrict_vocab']})")
            width = max([len(s["section"]) for s in r["sections"]] + [len("Total accuracy")])
            lines.append(
                f"  {'section':<{width}}  {'correct':>8}  {'asked':>6}  {'accuracy':>8}  {'coverage':>8}"
                f"  {'skipped':>8}"
            )
            # Coverage beside accuracy: the questions answered, of those in the benchmark (the
            # others have a word outside the vocabulary or restrict_vocab).
            rows = [(s["section"], s, s["questions"], s["oov"]) for s in r["sections"]]
            for category in ("semantic", "syntactic"):
                part = [s for s in r["sections"] if s["category"] == category]
                rows.append(
                    (category, r[category], sum(s["questions"] for s in part), sum(s["oov"] for s in part))
                )
            rows.append(("Total accuracy", r["total"], r["questions"], r["oov"]))
            for name, s, questions, skipped in rows:
                lines.append(
                    f"  {name:<{width}}  {s['correct']:>8}  {s['total']:>6}  {_pct(s['accuracy']):>8}"
                    f"  {_coverage(s['total'], questions):>8}  {skipped:>8}"
                )
            oov = "—" if r["oov_ratio"] is None else f"{r['oov_ratio']:.1f}%"
            lines.append(f"  questions: {r['questions']}, skipped for unknown words: {r['oov']} ({oov})")
        else:
            oov = "—" if r["oov_ratio"] is None else f"{r['oov_ratio']:.1f}%"
            lines.append(f"{r['benchmark']} (restrict_vocab={r['restrict_vocab']})")
            lines.append(f"  Pearson   {_num(r['pearson']['r'])}  (p = {_num(r['pearson']['pvalue'])})")
            lines.append(f"  Spearman  {_num(r['spearman']['rho'])}  (p = {_num(r['spearman']['pvalue'])})")
            lines.append(
                f"  coverage  {_coverage(r['used'], r['pairs'])}  ({r['used']} of {r['pairs']} pairs used;"
                f" skipped for unknown words: {r['oov']}, {oov})"
            )
    if "weat" in report:
        from tensorboard_plugin_w2v.cli.analysis_tables import format_weat

        lines += ["", format_weat(report["weat"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        data = report(args)
    except Word2VecError as exc:
        print(f"w2v-eval: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else format_table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
