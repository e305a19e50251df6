"""Log gensim models and their training into a TensorBoard run, without TensorFlow.

:func:`log_model` saves a model under ``<run>/plugins/word2vec/`` and lists it in the run's
manifest, where the Word2Vec tab finds it (every step of it) on its next rescan.
:class:`TrainingLogger` is a gensim callback that logs the loss of each epoch as a scalar and
snapshots the model every few epochs, so the tab can show how a word's neighbours move.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> logger = TrainingLogger("logs/run1", name="w2v", snapshot_every=2)    # doctest: +SKIP
    >>> model = Word2Vec(common_texts, min_count=1, epochs=6, compute_loss=True,
    ...                  callbacks=[logger])                                   # doctest: +SKIP
    >>> log_model("logs/run1", model, name="w2v-final")                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shutil
import socket
import time
import uuid
import warnings
from typing import Any

from gensim.models import FastText, KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.record_writer import RecordWriter

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import fileio, manifest, temporaries
from tensorboard_plugin_w2v.models.loading import LoadedModel

MODELS_DIR = f"{md.PLUGIN_DIR}/models"
_event_files = itertools.count()


def log_model(logdir: str, model: Any, name: str | None = None, step: int | None = None) -> str:
    """Save ``model`` into the run directory ``logdir`` and list it in the run's manifest.

    ``model`` is a gensim ``Word2Vec`` or ``FastText`` (saved whole, with its training
    parameters) or ``KeyedVectors`` (any other object with a ``.wv`` saves that). Logging the
    same ``name`` and ``step`` again replaces that version. The files are written under a
    temporary name and renamed, and the manifest is replaced atomically afterwards, so the
    plugin never sees a half-written model. Returns the saved file's absolute path.

    >>> log_model("logs/run1", model, name="w2v", step=5)    # doctest: +SKIP
    '/home/me/logs/run1/plugins/word2vec/models/w2v-5-1a2b3c4d/w2v.model'
    """
    if fileio.is_remote(logdir):
        raise ValueError(f"{logdir}: log_model writes to local directories only")
    obj, fmt = _saveable(model)
    if len(_vectors_of(obj).index_to_key) == 0:
        raise ValueError("the model has no vocabulary yet; log it after build_vocab() or training")
    if step is not None:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise TypeError(f"step must be an int or None, got {step!r}")
        step = int(step)
    if name is None:
        name = "fasttext" if fmt == md.FORMAT_GENSIM_FASTTEXT else "word2vec"
    name = str(name)
    if not name.strip():
        raise ValueError("name must not be empty")
    run_dir = os.path.abspath(logdir)
    manifest.check_writable(run_dir)  # a newer version's manifest: refuse before writing anything
    models = os.path.join(run_dir, *MODELS_DIR.split("/"))
    slug = manifest.safe_name(name)
    folder = f"{slug}-{'latest' if step is None else step}-{uuid.uuid4().hex[:8]}"
    rel = f"{MODELS_DIR}/{folder}/{slug}.model"
    replaced = _save_and_list(obj, run_dir, models, folder, f"{slug}.model", name=name, step=step, format=fmt)
    for old in replaced:  # delete the replaced version's folder, if this module wrote it
        old_folder = str(old.get("path", "")).rsplit("/", 1)[0]
        if old_folder.rsplit("/", 1)[0] == MODELS_DIR and old_folder != f"{MODELS_DIR}/{folder}":
            shutil.rmtree(os.path.join(run_dir, *old_folder.split("/")), ignore_errors=True)
    return os.path.join(run_dir, *rel.split("/"))


def _save_and_list(obj, run_dir: str, models: str, folder: str, file: str, **entry) -> list[dict]:
    """Save ``obj`` into ``models/folder/file`` and list it in the manifest; the entries it replaced.

    The model is saved into a temporary folder this process holds locked (see
    :mod:`~tensorboard_plugin_w2v.io.temporaries`), flushed to disk, and renamed into place under
    the manifest's lock just before the manifest is replaced. A writer killed at any moment leaves either a locked-then-
    abandoned temporary or a folder no entry names; the next call removes both.
    """
    os.makedirs(models, exist_ok=True)
    temporaries.sweep_folder(models)  # what a writer killed mid-save left behind
    with temporaries.claimed_folder(models) as tmp:

        def publish(entries: list) -> None:
            _remove_unlisted(models, entries)
            os.rename(tmp, os.path.join(models, folder))  # its lock file goes along, then goes
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(models, folder, temporaries.WRITER_NAME))

        try:
            obj.save(os.path.join(tmp, file))
            fileio.settle_folder(tmp)  # flushed, with the umask's modes (mkdtemp makes it 0700)
            rel = f"{MODELS_DIR}/{folder}/{file}"
            return manifest.add_entry(run_dir, path=rel, under_lock=publish, **entry)[1]
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+-(latest|-?\d+)-[0-9a-f]{8}$")


def _remove_unlisted(models: str, entries: list) -> None:
    """Remove folders :func:`log_model` wrote that no manifest entry names (a writer killed
    between renaming its folder and listing it)."""
    listed = {
        str(e.get("path", "")).split("/")[-2]
        for e in entries
        if isinstance(e, dict) and str(e.get("path", "")).startswith(MODELS_DIR + "/")
    }
    for name in os.listdir(models):
        if _FOLDER.match(name) and name not in listed and os.path.isdir(os.path.join(models, name)):
            shutil.rmtree(os.path.join(models, name), ignore_errors=True)


class TrainingLogger(CallbackAny2Vec):
    """gensim callback: per-epoch loss as a TensorBoard scalar, and a model snapshot every N epochs.

    Steps count completed epochs (1, 2, ...), across repeated ``train()`` calls too. The loss
    scalar (tag ``<name>/loss``) needs ``compute_loss=True``; gensim reports a cumulative loss,
    so the difference from the previous epoch is logged. Snapshots go through :func:`log_model`
    as model ``name`` with the epoch as step; ``snapshot_every=None`` turns them off, and with
    ``snapshot_at_end`` the last epoch is always snapshotted. Each snapshot is a whole model
    (for FastText that includes its ``bucket`` x ``vector_size`` n-gram table), so pick
    ``snapshot_every`` with the disk in mind.

    >>> Word2Vec(sentences, compute_loss=True,
    ...          callbacks=[TrainingLogger("logs/run1", snapshot_every=5)])   # doctest: +SKIP
    """

    def __init__(
        self,
        logdir: str,
        name: str = "word2vec",
        snapshot_every: int | None = 1,
        log_loss: bool = True,
        snapshot_at_end: bool = True,
    ):
        if snapshot_every is not None and (not isinstance(snapshot_every, int) or snapshot_every < 1):
            raise ValueError(f"snapshot_every must be a positive int or None, got {snapshot_every!r}")
        self.logdir = logdir
        self.name = name
        self.snapshot_every = snapshot_every
        self.log_loss = log_loss
        self.snapshot_at_end = snapshot_at_end
        self.epoch = 0
        self.losses: list[float] = []
        self._previous_loss = 0.0
        self._last_snapshot: int | None = None
        self._events: EventFileWriter | None = None
        self._loss_ok = False

    def on_train_begin(self, model) -> None:
        self._previous_loss = 0.0  # gensim resets its running loss at the start of train()
        self._loss_ok = self.log_loss
        if self.log_loss and isinstance(model, FastText):
            warnings.warn(
                "gensim's FastText does not compute a training loss; no loss is logged", stacklevel=2
            )
            self._loss_ok = False
        elif self.log_loss and not getattr(model, "compute_loss", False):
            warnings.warn(
                "pass compute_loss=True to Word2Vec (or train()) to log the training loss", stacklevel=2
            )
            self._loss_ok = False

    def on_epoch_end(self, model) -> None:
        self.epoch += 1
        if self._loss_ok:
            total = float(model.get_latest_training_loss())
            loss = total - self._previous_loss
            self._previous_loss = total
            self.losses.append(loss)
            if self._events is None:
                self._events = EventFileWriter(self.logdir)
            self._events.add_scalar(f"{self.name}/loss", loss, self.epoch)
        if self.snapshot_every and self.epoch % self.snapshot_every == 0:
            self._snapshot(model)

    def on_train_end(self, model) -> None:
        if self.snapshot_at_end and self.epoch and self._last_snapshot != self.epoch:
            self._snapshot(model)
        if self._events is not None:
            self._events.close()
            self._events = None

    def _snapshot(self, model) -> None:
        log_model(self.logdir, model, name=self.name, step=self.epoch)
        self._last_snapshot = self.epoch


class EventFileWriter:
    """Appends scalar events to a new event file in ``run_dir`` (TensorBoard's record format).

    TensorBoard's own ``EventFileWriter`` imports TensorFlow whenever it is installed; this
    one only uses TensorBoard's protos and record framing.
    """

    def __init__(self, run_dir: str):
        os.makedirs(run_dir, exist_ok=True)
        self.path = os.path.join(run_dir, _event_file_name())
        self._file = open(self.path, "ab")
        self._records = RecordWriter(self._file)
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=scalar_pb(tag, value)))

    def close(self) -> None:
        self._file.close()

    def _write(self, event) -> None:
        self._records.write(event.SerializeToString())
        self._file.flush()


def ensure_event_file(run_dir: str) -> None:
    """Give ``run_dir`` an event file if it has none, so TensorBoard lists it as a run."""
    if any("tfevents" in f and not f.startswith(".") for f in os.listdir(run_dir)):
        return
    buffer = io.BytesIO()
    RecordWriter(buffer).write(
        event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
    )
    fileio.write_atomic(os.path.join(run_dir, _event_file_name()), buffer.getvalue())


def _event_file_name() -> str:
    """A new event file's name, sorting after the earlier ones of this process, as TensorBoard names them."""
    return (
        f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}."
        f"{next(_event_files):06d}.w2v"
    )


def _saveable(model: Any) -> tuple[Any, str]:
    """The object to save and its format name (only classes the plugin's sniffer knows)."""
    if type(model) is Word2Vec:
        return model, md.FORMAT_GENSIM_WORD2VEC
    if type(model) is FastText:
        return model, md.FORMAT_GENSIM_FASTTEXT
    if isinstance(model, LoadedModel):
        model = model.kv
    if not isinstance(model, KeyedVectors) and isinstance(getattr(model, "wv", None), KeyedVectors):
        model = model.wv
    if isinstance(model, KeyedVectors):
        return model, md.FORMAT_GENSIM_KEYEDVECTORS
    raise TypeError(f"expected a gensim Word2Vec, FastText or KeyedVectors, got {type(model).__name__}")


def _vectors_of(obj: Any) -> KeyedVectors:
    return obj if isinstance(obj, KeyedVectors) else obj.wv
