"""Which runs and models a logdir holds, from cheap reads only (headers and manifests).

A run is any folder under the logdir that holds models, named as TensorBoard names runs
(its path relative to the logdir with ``/`` separators, ``.`` for the logdir itself). Models
come from three places, in this order of precedence for a file claimed twice:

1. the run's manifest, ``<run>/plugins/word2vec/manifest.json``, written by
   :func:`tensorboard_plugin_w2v.writers.summary.log_model` (names, steps, paths);
2. embeddings named by a ``projector_config.pbtxt`` in the run (``tensor_path`` + metadata);
3. files gensim or word2vec tools saved in the run, recognised by their header.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass, field

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import fileio, formats
from tensorboard_plugin_w2v.io.manifest import ManifestTooNew, read_entries

SOURCE_MANIFEST = "manifest"
SOURCE_PROJECTOR = "projector"
SOURCE_FILE = "file"


@dataclass(frozen=True)
class ModelVersion:
    """One file of a model: one training step, or the only version of an unlogged file."""

    run: str
    name: str
    step: int | None
    path: str
    format: str | None
    source: str
    metadata_path: str | None = None
    tensor_shape: tuple[int, ...] | None = None
    header: formats.Sniffed | None = field(default=None, compare=False)
    error: str | None = None


@dataclass
class ModelEntry:
    """A named model of a run with all its versions, oldest step first."""

    run: str
    name: str
    versions: list[ModelVersion]

    @property
    def steps(self) -> list[int]:
        return sorted({v.step for v in self.versions if v.step is not None})

    def version(self, step: int | None = None) -> ModelVersion:
        """The version at ``step``, or the latest one; ``KeyError`` if no version has it."""
        if step is None:
            return max(self.versions, key=lambda v: (v.step is not None, v.step or 0))
        for v in self.versions:
            if v.step == step:
                return v
        raise KeyError(step)


def run_name(logdir: str, folder: str) -> str:
    """TensorBoard's name for a run folder."""
    base = fileio.normpath(logdir).rstrip("/")
    path = fileio.normpath(folder).rstrip("/")
    if path == base:
        return "."
    rel = path[len(base) + 1 :] if path.startswith(base) else path
    return printable(rel.replace("\\", "/"))


def printable(name: str) -> str:
    """A file name's bytes that are not UTF-8 (``os`` decodes them to lone surrogates, which no
    JSON encoder or browser URL accepts) as ``%XX``: the name a browser sends back for it."""
    if not any("\udc80" <= c <= "\udcff" for c in name):
        return name
    return "".join(f"%{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in name)


class Discovery:
    """Scans a logdir; remembers each file's header by identity so a rescan only stats files."""

    def __init__(self, logdir: str, allow_outside_logdir: bool = False):
        self.logdir = logdir
        self.allow_outside_logdir = allow_outside_logdir
        self._sniffed: dict[str, tuple[fileio.FileIdentity, formats.Sniffed | None]] = {}
        self._lock = threading.Lock()

    def scan(self) -> dict[str, dict[str, ModelEntry]]:
        """``{run: {model_name: ModelEntry}}`` for the whole logdir, freshly read."""
        runs: dict[str, dict[str, ModelEntry]] = {}
        if not fileio.isdir(self.logdir):
            return runs
        seen: set[str] = set()
        for folder, dirs, files in fileio.walk(self.logdir):
            parts = fileio.normpath(folder).replace("\\", "/").split("/")
            if md.PLUGINS_DIR in parts[len(self._logdir_parts()) :]:
                continue  # plugin assets belong to their run, not to a run of their own
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            run = run_name(self.logdir, folder)
            versions = self._scan_run(run, folder, sorted(files))
            seen.update(fileio.join(folder, name) for name in files)  # models or not: cached
            for v in versions:
                seen.add(v.path)
            if versions:
                runs[run] = _group(versions)
        with self._lock:
            for path in set(self._sniffed) - seen:
                self._sniffed.pop(path, None)
        return runs

    def _logdir_parts(self) -> list[str]:
        return fileio.normpath(self.logdir).replace("\\", "/").rstrip("/").split("/")

    def _scan_run(self, run: str, folder: str, files: list[str]) -> list[ModelVersion]:
        versions: list[ModelVersion] = []
        claimed: set[str] = set()
        manifest = fileio.join(folder, md.MANIFEST_PATH)
        if fileio.exists(manifest):
            versions += self._read_manifest(run, folder, manifest)
        if md.PROJECTOR_CONFIG_NAME in files:
            versions += self._read_projector_config(
                run, folder, fileio.join(folder, md.PROJECTOR_CONFIG_NAME)
            )
        for v in versions:
            claimed.add(fileio.normpath(v.path))
            if v.metadata_path:
                claimed.add(fileio.normpath(v.metadata_path))
        for name in files:
            path = fileio.join(folder, name)
            if fileio.normpath(path) in claimed or not formats.may_be_model(name):
                continue
            if (
                not fileio.is_remote(path)
                and os.path.islink(path)
                and not fileio.is_within(path, self.logdir)
            ):
                continue  # a symbolic link out of the logdir: never read, never served
            header = self._sniff(path)
            if header is not None:
                versions.append(
                    ModelVersion(run, printable(name), None, path, header.format, SOURCE_FILE, header=header)
                )
        return versions

    def _sniff(self, path: str) -> formats.Sniffed | None:
        if not fileio.is_remote(path) and not os.path.isfile(path):
            return None  # a FIFO or a device: reading it could block the scan forever
        try:
            identity = fileio.stat(path)
        except OSError:
            return None
        with self._lock:
            cached = self._sniffed.get(path)
        if cached and cached[0] == identity:
            return cached[1]
        try:
            header = formats.sniff(path)
        except OSError:
            header = None
        if header is None and cached and cached[1] is not None:
            # A model whose new version does not sniff is most likely being saved over (gensim
            # truncates and rewrites in place): it stays listed, and the store keeps its last
            # good version answering (or shows the load error if it never becomes whole again).
            header = cached[1]
        with self._lock:
            self._sniffed[path] = (identity, header)
        return header

    def _resolve(self, folder: str, path: str) -> tuple[str, str | None]:
        """An entry's absolute path, and an error if it must not be read."""
        if fileio.is_remote(path) or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
            full = path
        else:
            full = fileio.normpath(fileio.join(folder, path))
        if not self.allow_outside_logdir and not fileio.is_within(full, self.logdir):
            return full, (
                f"{path} lies outside the logdir; start TensorBoard with "
                "--word2vec_allow_outside_logdir to read it"
            )
        if not fileio.exists(full):
            return full, f"file not found: {path}"
        return full, None

    def _read_manifest(self, run: str, folder: str, manifest: str) -> list[ModelVersion]:
        try:
            entries = read_entries(manifest)
        except ManifestTooNew as exc:
            return _newer_manifest(run, manifest, exc)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return [
                ModelVersion(
                    run,
                    md.MANIFEST_NAME,
                    None,
                    manifest,
                    None,
                    SOURCE_MANIFEST,
                    error=f"the run's manifest {md.MANIFEST_PATH} is unreadable: {exc}",
                )
            ]
        versions = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                versions.append(
                    ModelVersion(
                        run,
                        f"{md.MANIFEST_NAME}#{i}",
                        None,
                        manifest,
                        None,
                        SOURCE_MANIFEST,
                        error=f"manifest entry {i} has no path",
                    )
                )
                continue
            step = entry.get("step")
            step = step if isinstance(step, int) and not isinstance(step, bool) else None
            name = printable(str(entry.get("name") or entry["path"].rsplit("/", 1)[-1]))
            full, error = self._resolve(folder, entry["path"])
            header = None
            if error is None:
                header = self._sniff(full)
                if header is None:
                    error = f"{entry['path']} is not a word2vec model in any format this plugin reads"
            versions.append(
                ModelVersion(
                    run,
                    name,
                    step,
                    full,
                    header.format if header else entry.get("format"),
                    SOURCE_MANIFEST,
                    header=header,
                    error=error,
                )
            )
        return versions

    def _read_projector_config(self, run: str, folder: str, config_path: str) -> list[ModelVersion]:
        from google.protobuf import text_format
        from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

        try:
            config = text_format.Parse(fileio.read_text(config_path), ProjectorConfig())
        except Exception as exc:  # protobuf raises its own ParseError; report, never crash
            return [
                ModelVersion(
                    run,
                    md.PROJECTOR_CONFIG_NAME,
                    None,
                    config_path,
                    None,
                    SOURCE_PROJECTOR,
                    error=f"{md.PROJECTOR_CONFIG_NAME} is unreadable: {exc}",
                )
            ]
        versions = []
        for emb in config.embeddings:
            if not emb.tensor_path:
                continue  # tensors in TensorFlow checkpoints are the Projector's business
            name = emb.tensor_name or emb.tensor_path.rsplit("/", 1)[-1]
            full, error = self._resolve(folder, emb.tensor_path)
            meta = None
            if emb.metadata_path:
                meta, meta_error = self._resolve(folder, emb.metadata_path)
                error = error or meta_error
            elif error is None:
                error = "the embedding has no metadata_path, so its rows have no words"
            shape = tuple(emb.tensor_shape) or None
            fmt = md.FORMAT_PROJECTOR_TSV
            if shape and len(shape) == 2 and error is None:
                if fileio.stat(full).size == shape[0] * shape[1] * 4:
                    fmt = md.FORMAT_PROJECTOR_RAW
            header = (
                formats.Sniffed(fmt, dim=shape[1], vocab_size=shape[0]) if shape and len(shape) == 2 else None
            )
            versions.append(
                ModelVersion(
                    run,
                    name,
                    None,
                    full,
                    fmt,
                    SOURCE_PROJECTOR,
                    metadata_path=meta,
                    tensor_shape=shape,
                    header=header,
                    error=error,
                )
            )
        return versions


def _newer_manifest(run: str, manifest: str, exc: ManifestTooNew) -> list[ModelVersion]:
    """The models a newer version's manifest names, listed with the reason they are not read."""
    names = exc.names or [(md.MANIFEST_NAME, None)]
    return [
        ModelVersion(run, printable(name), step, manifest, None, SOURCE_MANIFEST, error=exc.reason)
        for name, step in dict.fromkeys(names)
    ]


def _group(versions: list[ModelVersion]) -> dict[str, ModelEntry]:
    """Versions sharing a name form one model; an unlogged file whose name is taken is renamed."""
    entries: dict[str, ModelEntry] = {}
    for v in versions:
        entry = entries.get(v.name)
        if (
            entry is not None
            and v.source == SOURCE_MANIFEST
            and all(e.source == SOURCE_MANIFEST for e in entry.versions)
            and all(e.step != v.step for e in entry.versions)
        ):
            entry.versions.append(v)
            continue
        name, n = v.name, 2
        while name in entries:
            name, n = f"{v.name} ({n})", n + 1
        if name != v.name:
            v = dataclasses.replace(v, name=name)
        entries[name] = ModelEntry(v.run, name, [v])
    for entry in entries.values():
        entry.versions.sort(key=lambda v: (v.step is None, v.step or 0))
    return entries
