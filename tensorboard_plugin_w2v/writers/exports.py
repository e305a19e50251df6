"""The tab's Projector exports: neighbourhoods written as runs under ``<logdir>/word2vec_exports/``.

Each export is a run of its own (TensorBoard's Projector reads a run's config once, when the
run appears), so exports are listed here and can be removed: otherwise they would pile up in
the run list of every TensorBoard tab. Run paths use ``[A-Za-z0-9_.-]`` only, and tensor names
avoid ``+ & # %``: the Projector puts both into its URLs without encoding them. The server
imports this module at TensorBoard's start, so gensim is imported only when an export is written.

    >>> export_neighbourhood("logs", kv, ["king", "queen"], ("glove", "glove.kv", None), "king", 1)  # doctest: +SKIP
    {'run': 'word2vec_exports/king-1-glove-20260101-120000', 'tensor_name': 'king and 1 neighbours (glove/glove.kv)', …}
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from typing import Any

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import Conflict, InvalidArgument, NotFound
from tensorboard_plugin_w2v.io import fileio, temporaries
from tensorboard_plugin_w2v.io.manifest import safe_name

EXPORTS_FOLDER = "word2vec_exports"
# What an export was made from, beside its projector config (read by the listing).
RECORD_PATH = f"{md.PLUGIN_DIR}/export.json"
MAX_REMOVE = 1000


def is_export_run(run: str) -> bool:
    """Whether ``run`` is one of the tab's Projector exports."""
    return run.split("/", 1)[0] == EXPORTS_FOLDER


def export_neighbourhood(
    logdir: str, kv: Any, words: Sequence[str], source: tuple[str, str, int | None], word: str, n: int
) -> dict:
    """Write ``words`` (the query ``word`` first) as a new export run; its listing row.

    ``source`` is the ``(run, model, step)`` the words come from. Raises ``OSError`` when the
    logdir cannot be written.
    """
    from tensorboard_plugin_w2v.writers.projector import export_subset, projector_safe_name

    run, model, step = source
    folder = os.path.join(logdir, EXPORTS_FOLDER)
    os.makedirs(folder, exist_ok=True)
    sweep_unfinished(logdir)  # the start's sweep leaves a run whose writer died a moment before it
    stem = "-".join(
        [safe_name(word)[:30], str(len(words) - 1), safe_name(os.path.splitext(model)[0] or model)[:30]]
    )
    name = _new_folder(folder, f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = os.path.join(folder, name)
    tensor_name = projector_safe_name(f"{word} and {len(words) - 1} neighbours ({run}/{model})")
    try:
        # locked while written: a process killed mid-export leaves a run that sweeps remove
        with temporaries.writer_lock(run_dir) as writer:
            export = export_subset(kv, words, run_dir, tensor_name)
            record = {
                "tensor_name": export.tensor_name,
                "points": export.shape[0],
                "word": word,
                "n": n,
                "source": {"run": run, "model": model, "step": step},
                "created": time.time(),
            }
            fileio.write_atomic(  # written last: an export with its record is complete
                os.path.join(run_dir, *RECORD_PATH.split("/")),
                json.dumps(record, ensure_ascii=False).encode("utf-8", "backslashreplace"),
            )
            os.unlink(writer)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return {"run": f"{EXPORTS_FOLDER}/{name}", **record}


def sweep_unfinished(logdir: str) -> list[str]:
    """Remove the export runs whose writer died before finishing them (a TensorBoard killed
    mid-export); the runs removed. Complete exports (with their record) are never touched."""
    if not logdir or fileio.is_remote(logdir):
        return []
    removed = []
    for entry in _unfinished(logdir):
        try:
            claimed = os.path.exists(os.path.join(entry.path, temporaries.WRITER_NAME)) or temporaries.unclaimed(entry.path)
        except OSError:
            continue
        # only runs this package started (a lock file, or not even that yet) whose writer is gone
        if claimed and temporaries.abandoned(entry.path) and temporaries.remove(entry.path):
            removed.append(f"{EXPORTS_FOLDER}/{entry.name}")
    return removed


def sweep_until_settled(logdir: str, stopping: threading.Event, first: float = 2.0, longest: float = 600.0) -> None:
    """:func:`sweep_unfinished` now, and again after ``first`` seconds, twice that, … while
    unfinished runs remain: a writer killed a moment before the first sweep still looks alive
    to it."""
    if not logdir or fileio.is_remote(logdir):
        return
    wait = first
    while True:
        sweep_unfinished(logdir)
        if not _unfinished(logdir) or stopping.wait(wait):
            return
        wait = min(2 * wait, longest)


def _unfinished(logdir: str) -> list[os.DirEntry]:
    return [e for e in _export_folders(logdir) if not os.path.exists(os.path.join(e.path, *RECORD_PATH.split("/")))]


def _export_folders(logdir: str) -> list[os.DirEntry]:
    try:
        entries = list(os.scandir(os.path.join(logdir, EXPORTS_FOLDER)))
    except OSError:
        return []
    return [e for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]


def list_exports(logdir: str) -> list[dict]:
    """The export runs in ``logdir``, newest first (nothing for remote logdirs); unfinished ones
    left by a killed process are removed first."""
    if not logdir or fileio.is_remote(logdir):
        return []
    sweep_unfinished(logdir)
    rows = []
    for entry in _export_folders(logdir):
        if not os.path.isfile(os.path.join(entry.path, md.PROJECTOR_CONFIG_NAME)):
            continue
        if os.path.exists(os.path.join(entry.path, temporaries.WRITER_NAME)):
            continue  # still being written
        rows.append({"run": f"{EXPORTS_FOLDER}/{entry.name}", **_record(entry.path)})
    rows.sort(key=lambda r: (r.get("created") or 0, r["run"]), reverse=True)
    return rows


def remove_exports(logdir: str, runs: Sequence[str]) -> list[str]:
    """Delete the export runs named in ``runs`` (names from :func:`list_exports`, never paths)."""
    if not runs:
        raise InvalidArgument("missing parameter 'run' (repeat it to remove several exports)")
    if len(runs) > MAX_REMOVE:
        raise InvalidArgument(f"at most {MAX_REMOVE} exports can be removed at once, got {len(runs)}")
    known = {row["run"] for row in list_exports(logdir)}
    unknown = [r for r in runs if r not in known]
    if unknown:
        raise NotFound(f"no export named {unknown[0]!r}", known_exports=sorted(known)[:100])
    removed = []
    for run in dict.fromkeys(runs):
        name = run.split("/", 1)[1]
        try:
            shutil.rmtree(os.path.join(logdir, EXPORTS_FOLDER, name))
        except OSError as exc:
            raise Conflict(f"cannot remove {run}: {exc.strerror or exc}", removed=removed) from None
        removed.append(run)
    return removed


def _new_folder(parent: str, stem: str) -> str:
    """Create and return a folder name under ``parent`` that no export used before."""
    for i in range(1, 1000):
        name = stem if i == 1 else f"{stem}-{i}"
        try:
            os.mkdir(os.path.join(parent, name))
        except FileExistsError:
            continue
        return name
    raise FileExistsError(f"too many exports named {stem} in {parent}")


def _record(run_dir: str) -> dict:
    """What an export run's record says (its folder's time alone when the record is unreadable)."""
    try:
        with open(os.path.join(run_dir, *RECORD_PATH.split("/")), encoding="utf-8") as f:
            record = json.load(f)
        if isinstance(record, dict):
            return record
    except (OSError, ValueError):
        pass
    return {"tensor_name": None, "points": None, "created": os.path.getmtime(run_dir)}
