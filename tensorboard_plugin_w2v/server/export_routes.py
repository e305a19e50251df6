"""``/export_projector`` (POST) and ``/export_tsv``: a word's neighbourhood for the Projector tab;
``/exports`` and ``/exports/remove`` (POST): the export runs, listed and removed."""

from __future__ import annotations

import contextlib
import os
import shutil
import urllib.parse
from collections.abc import Callable
from typing import NamedTuple

from tensorboard.backend import http_util
from werkzeug import wrappers
from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.engines.serving import ServedModel
from tensorboard_plugin_w2v.errors import Conflict, InsufficientStorage, InvalidArgument, Word2VecError
from tensorboard_plugin_w2v.io import fileio, oserrors
from tensorboard_plugin_w2v.io.manifest import safe_name
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.server import http, params
from tensorboard_plugin_w2v.server.catalog import Catalog
from tensorboard_plugin_w2v.writers import exports

ROUTE_EXPORT_PROJECTOR = "/export_projector"
ROUTE_EXPORT_TSV = "/export_tsv"
ROUTE_EXPORTS = "/exports"
ROUTE_EXPORTS_REMOVE = "/exports/remove"
# Exports for the Projector tab go into new runs under this folder of the logdir.
EXPORTS_FOLDER = exports.EXPORTS_FOLDER
TSV_PARTS = ("tensor", "metadata")


class Neighbourhood(NamedTuple):
    """A query word and its ``n`` nearest neighbours in one model version."""

    version: ModelVersion
    model: ServedModel
    word: str
    n: int
    words: list[str]


def neighbourhood_impl(version: ModelVersion, model: ServedModel, word: str, n: int) -> Neighbourhood:
    found, _exact = model.neighbors(word, n, exact=True)  # a pushed model: scanned in batches
    return Neighbourhood(version, model, word, n, [word] + [f.word for f in found])


def export_projector_impl(logdir: str, hood: Neighbourhood) -> dict:
    """Write a neighbourhood as a new run the Projector lists; :class:`Conflict` (not writable) or
    :class:`InsufficientStorage` (disk full) with TSV links otherwise, the logdir left as it was."""
    version, word, n, words = hood.version, hood.word, hood.n, hood.words
    step = {"step": version.step} if version.step is not None else {}
    query = urllib.parse.urlencode({"run": version.run, "model": version.name, "word": word, "n": n, **step})
    tsv = {part: f"export_tsv?{query}&part={part}" for part in TSV_PARTS}
    try:
        if fileio.is_remote(logdir):
            raise PermissionError("remote logdirs are not written by the plugin")
        with logdir_unchanged_on_failure(logdir, EXPORTS_FOLDER):
            return exports.export_neighbourhood(
                logdir, hood.model.vectors_of(words), words, (version.run, version.name, version.step), word, n
            )
    except OSError as exc:
        if oserrors.is_disk_full(exc):
            raise InsufficientStorage(
                "the logdir is full: the export was not written and nothing of it was left behind; "
                "free some space, or download the two TSV files and load them with the Projector's "
                "Load button",
                tsv=tsv,
            ) from None
        raise Conflict(
            f"the logdir cannot be written ({exc.strerror or exc}); download the two TSV files "
            "and load them with the Projector's Load button",
            tsv=tsv,
        ) from None


@contextlib.contextmanager
def logdir_unchanged_on_failure(logdir: str, run_rel: str):
    """Remove the folders an export created under ``logdir`` if it fails (a full disk): the
    logdir is left as it was."""
    parts = run_rel.split("/")
    created = next(
        (
            os.path.join(logdir, *parts[:depth])
            for depth in range(1, len(parts) + 1)
            if not os.path.exists(os.path.join(logdir, *parts[:depth]))
        ),
        None,
    )  # the outermost folder this export creates
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def exports_impl(logdir: str) -> dict:
    """The Projector exports in the logdir, newest first."""
    return {"folder": EXPORTS_FOLDER, "exports": exports.list_exports(logdir)}


def exports_remove_impl(logdir: str, runs: list[str]) -> dict:
    """Delete export runs, so that they leave every tab's run list."""
    return {"removed": exports.remove_exports(logdir, runs)}


def export_tsv_impl(hood: Neighbourhood, part: str) -> tuple[str, bytes]:
    """``(file name, body)`` of one of the two TSV files the Projector's Load button takes."""
    from tensorboard_plugin_w2v.writers.projector import projector_tsvs

    tensor, metadata = projector_tsvs(hood.model.vectors_of(hood.words), hood.words)
    body = (tensor if part == "tensor" else metadata).encode("utf-8", "backslashreplace")
    return f"{safe_name(hood.word)[:40]}-{hood.n}-{part}.tsv", body


class ExportRoutes:
    """Export routes over a :class:`Catalog`."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        if catalog.group is not None:  # at start: what an export killed with its process left
            group = catalog.group
            group.spawn(exports.sweep_until_settled, name="w2v-exports-sweep", args=(catalog.logdir, group.stopping))

    def apps(self) -> dict[str, Callable]:
        return {
            ROUTE_EXPORT_PROJECTOR: http.json_route(self.export_projector_route, method="POST"),
            ROUTE_EXPORT_TSV: self.export_tsv_route,
            ROUTE_EXPORTS: http.json_route(self.exports_route),
            ROUTE_EXPORTS_REMOVE: http.json_route(self.exports_remove_route, method="POST"),
        }

    def _neighbourhood(self, args: MultiDict) -> Neighbourhood:
        version, model = self.catalog.resolve(params.model_ref(args))
        word = params.string(args, "word")
        n = params.integer(args, "n", md.DEFAULT_EXPORT_N, minimum=1, maximum=md.PROJECTOR_POINT_LIMIT - 1)
        return neighbourhood_impl(version, model, word, n)

    def export_projector_route(self, args: MultiDict) -> dict:
        return export_projector_impl(self.catalog.logdir, self._neighbourhood(args))

    def exports_route(self, args: MultiDict) -> dict:
        return exports_impl(self.catalog.logdir)

    def exports_remove_route(self, args: MultiDict) -> dict:
        return exports_remove_impl(self.catalog.logdir, params.strings(args, "run", exports.MAX_REMOVE))

    @wrappers.Request.application
    def export_tsv_route(self, request: wrappers.Request) -> wrappers.Response:
        try:
            part = params.string(request.args, "part")
            if part not in TSV_PARTS:
                raise InvalidArgument("part must be 'tensor' or 'metadata'")
            filename, body = export_tsv_impl(self._neighbourhood(request.args), part)
        except Word2VecError as exc:
            return http.error_response(request, exc)
        return http_util.Respond(
            request,
            body,
            "text/tab-separated-values",
            headers=[("Content-Disposition", f'attachment; filename="{filename}"')],
        )
