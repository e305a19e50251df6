"""``w2v-milvus``: push a logdir's models into Milvus, list them, drop those of gone versions.

    w2v-milvus push logs --uri http://milvus:19530 [--run RUN]...
    w2v-milvus ls --uri http://milvus:19530 [--json]
    w2v-milvus gc logs --uri http://milvus:19530 [--dry-run]

The token of an authenticated cluster comes from ``--token`` or ``W2V_MILVUS_TOKEN``. Exit code
0 when everything asked for was done, 1 when some model could not be pushed, 2 for bad
arguments or an unreachable Milvus.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

from tensorboard_plugin_w2v.engines import milvus_push as mp
from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.errors import Word2VecError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="w2v-milvus", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def connection(p):
        p.add_argument("--uri", required=True, help="Milvus address, e.g. http://localhost:19530")
        p.add_argument("--token", default=None, help=f"token of an authenticated cluster (default: ${ms.TOKEN_ENV})")
        p.add_argument("--timeout", type=float, default=60.0, help="seconds per Milvus call (default: %(default)s)")

    push = sub.add_parser("push", help="load every model of LOGDIR (or of the named runs) into Milvus")
    push.add_argument("logdir")
    push.add_argument("--run", action="append", default=[], help="only this run (repeat for several)")
    push.add_argument("--index", choices=ms.INDEX_TYPES, default="HNSW", help="vector index (default: %(default)s)")
    push.add_argument("--no_pickle", action="store_true", help="refuse gensim's native (pickle) files")
    push.add_argument("--allow_outside_logdir", action="store_true", help="follow manifests out of LOGDIR")
    connection(push)

    ls = sub.add_parser("ls", help="list the pushed models")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    connection(ls)

    gc = sub.add_parser("gc", help="drop collections of LOGDIR's model versions that no longer exist")
    gc.add_argument("logdir")
    gc.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    gc.add_argument(
        "--partial-age", type=float, default=3600.0, help="drop unfinished pushes older than this (seconds)"
    )
    connection(gc)
    return parser


class _Bar:
    """A tqdm bar per model on a terminal (nothing when output is redirected)."""

    def __init__(self, label: str):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.label = label
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = self._tqdm(
                total=total, desc=f"{self.label} [{stage}]", unit=" rows", disable=None, leave=False, file=sys.stderr
            )
        if self.bar is not None:
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _label(result: mp.PushResult) -> str:
    if result.run is None:
        return result.path
    step = "" if result.step is None else f" step {result.step}"
    return f"{result.run}/{result.model}{step}"


def _push(args) -> int:
    if not os.path.isdir(args.logdir) and "://" not in args.logdir:
        print(f"w2v-milvus: {args.logdir}: no such folder", file=sys.stderr)
        return 2
    bars: list[_Bar] = []

    def on_start(version):
        step = "" if version.step is None else f" step {version.step}"
        bars.append(_Bar(f"{version.run}/{version.name}{step}"))
        return bars[-1]

    results = mp.push_logdir(
        args.logdir,
        args.uri,
        args.token,
        args.run or None,
        allow_outside_logdir=args.allow_outside_logdir,
        on_start=on_start,
        index_type=args.index,
        timeout=args.timeout,
        allow_pickle=not args.no_pickle,
    )
    for bar in bars:
        bar.close()
    for r in results:
        if r.status == mp.PUSHED:
            print(f"pushed   {_label(r)}: {r.rows} × {r.dim} in {r.seconds:.1f} s ({r.rows_per_second:,.0f} rows/s) -> {r.collection}")
        elif r.status == mp.SKIPPED:
            print(f"skipped  {_label(r)}: already pushed ({r.collection})")
        elif r.status == mp.LOCAL:
            print(f"local    {_label(r)}: {r.reason}")
        else:
            print(f"failed   {_label(r)}: {r.reason}")
    if not results:
        print(f"no models found in {args.logdir}")
    return 1 if any(r.status == mp.FAILED for r in results) else 0


def _ls(args) -> int:
    client = ms.connect(args.uri, args.token if args.token is not None else os.environ.get(ms.TOKEN_ENV), args.timeout)
    items = mp.list_pushed(client, args.timeout)
    if args.json:
        print(json.dumps([{"collection": i.collection, "complete": i.complete,
                           **(vars(i.record) if i.record else {})} for i in items], indent=1))
        return 0
    if not items:
        print("no pushed models")
    for i in items:
        r = i.record
        if r is None:
            print(f"{i.collection}  (no description: not written by w2v-milvus)")
            continue
        when = datetime.datetime.fromtimestamp(r.pushed_at).strftime("%Y-%m-%d %H:%M")
        name = f"{r.run}/{r.model}" + ("" if r.step is None else f" step {r.step}") if r.run else "-"
        state = "complete" if i.complete else "partial "
        print(f"{i.collection}  {state}  {r.rows:>9} × {r.dim:<4} {when}  {name}  {r.path}")
    return 0


def _gc(args) -> int:
    token = args.token if args.token is not None else os.environ.get(ms.TOKEN_ENV)
    dropped = mp.gc(args.logdir, args.uri, token, dry_run=args.dry_run, partial_age=args.partial_age, timeout=args.timeout)
    verb = "would drop" if args.dry_run else "dropped"
    for item in dropped:
        print(f"{verb} {item.collection} ({item.record.path if item.record else '?'})")
    print(f"{verb} {len(dropped)} collection(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"push": _push, "ls": _ls, "gc": _gc}[args.command](args)
    except ValueError as exc:
        print(f"w2v-milvus: {exc}", file=sys.stderr)
        return 2
    except Word2VecError as exc:
        print(f"w2v-milvus: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("w2v-milvus: interrupted; an unfinished push is never served (w2v-milvus gc drops what is left)",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a Milvus error outside a push (ls, gc)
        print(f"w2v-milvus: Milvus at {ms.redact(args.uri)}: {ms.describe(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
