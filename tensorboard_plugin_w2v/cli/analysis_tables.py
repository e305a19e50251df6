"""Plain-text tables of the analyses for the command line (``w2v-drift``, ``w2v-eval --weat``)."""

from __future__ import annotations


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_weat(rows: list[dict]) -> str:
    """The built-in WEAT tests (:func:`~tensorboard_plugin_w2v.analysis.weat.run_all`) as a table."""
    lines = [
        "WEAT (Caliskan et al. 2017): effect size, one-sided permutation p-value",
        f"  {'test':<7}  {'effect':>7}  {'p-value':>8}  {'splits':>16}  words used X/Y/A/B",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"  {row['test']:<7}  {'—':>7}  {'—':>8}  {'':>16}  {row['error']}")
            continue
        splits = f"{row['splits']:,} {'exact' if row['exact'] else 'sampled'}"
        used = "/".join(str(row["sets"][k]["used"]) for k in ("x", "y", "a", "b"))
        lines.append(
            f"  {row['test']:<7}  {_num(row['effect_size'], 3):>7}  {_num(row['p_value']):>8}  "
            f"{splits:>16}  {used}  {row['title']}"
        )
    lines.append("  (sampled: the observed split and 99,999 random ones from a fixed seed)")
    return "\n".join(lines)


def format_drift(report: dict) -> str:
    """A ``w2v-drift`` report as lists of the most and least changed words."""
    a, b = report["a"], report["b"]
    lines = [
        f"A: {a['path']}: {a['format']}, {a['vocab_size']} words × {a['dim']}",
        f"B: {b['path']}: {b['format']}, {b['vocab_size']} words × {b['dim']}",
        f"shared words: {report['shared']}, anchors: {report['anchors']}, ranked: {report['considered']}",
        "drift = 1 − cos(a, b R), R the orthogonal Procrustes rotation of B onto A",
    ]
    for title, rows in (("most changed", report["most_changed"]), ("least changed", report["least_changed"])):
        lines += ["", f"{title}:"]
        width = max([len(r["word"]) for r in rows] + [4])
        lines += [f"  {r['word']:<{width}}  {_num(r['drift'])}" for r in rows]
    if report["words"]:
        lines += ["", "asked:"]
        width = max(len(r["word"]) for r in report["words"])
        lines += [
            f"  {r['word']:<{width}}  {_num(r['drift'])}  rank {r['rank']} of {report['considered']}"
            for r in report["words"]
        ]
    return "\n".join(lines)
