"""HTTP plumbing of the plugin: JSON routes, the one mapping of domain errors to statuses, static files.

A route handler takes the request's query parameters, returns plain data (a dict, or a
:class:`Reply` for a status other than 200) and raises domain errors
(:mod:`tensorboard_plugin_w2v.errors`); :func:`json_route` turns that into a WSGI app.

    >>> from tensorboard_plugin_w2v.errors import NotFound
    >>> status_of(NotFound("unknown run 'x'"))
    404
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tensorboard.backend import http_util
from werkzeug import wrappers
from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v.errors import (
    BenchmarkError,
    Busy,
    Conflict,
    InsufficientStorage,
    InvalidArgument,
    ModelLoadError,
    NotFound,
    StoreUnavailable,
    Unavailable,
    Word2VecError,
)
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.server import inflight

logger = logging.getLogger(__name__)

# Each kind of failure and its HTTP status (documented in docs/http_api.md).
STATUS = {
    InvalidArgument: 400,
    NotFound: 404,
    Conflict: 409,
    ModelLoadError: 422,
    BenchmarkError: 422,
    Busy: 429,
    StoreUnavailable: 503,
    InsufficientStorage: 507,
    Unavailable: 503,
}


def status_of(exc: Word2VecError) -> int:
    """The HTTP status of a domain error (its nearest listed class; 500 for none)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


@dataclass
class Reply:
    """A route's answer with a status other than 200 (e.g. 202: still being computed)."""

    data: dict
    status: int = 200


Handler = Callable[[MultiDict], "dict | Reply"]


def json_route(handler: Handler, method: str = "GET") -> Callable:
    """A WSGI app answering JSON: ``handler(request.args)``'s data, or the error it raised.

    POST routes need an ``X-Requested-With`` header (a custom header forces a CORS preflight,
    so other web sites cannot post here). Requests are counted in :data:`inflight.REQUESTS`
    while they are answered (BLAS gets one thread per call while several are).
    """
    allowed = ("GET", "HEAD") if method == "GET" else (method,)

    @wrappers.Request.application
    def handle(request: wrappers.Request) -> wrappers.Response:
        if request.method not in allowed:
            return json_response(
                request, {"error": f"method {request.method} is not allowed; use {method}"}, 405
            )
        if method == "POST" and not request.headers.get("X-Requested-With"):
            return json_response(request, {"error": "POST requests need an X-Requested-With header"}, 403)
        with inflight.REQUESTS:
            try:
                reply = handler(request.args)
            except Word2VecError as exc:
                return error_response(request, exc)
            except Exception:
                logger.exception("unexpected error in %s", request.path)
                return json_response(request, {"error": "internal error; see the TensorBoard log"}, 500)
            if isinstance(reply, Reply):
                return json_response(request, reply.data, reply.status)
            return json_response(request, reply)

    return handle


def error_response(request: wrappers.Request, exc: Word2VecError) -> wrappers.Response:
    """The JSON answer to a domain error, with ``Retry-After`` when it says when to retry."""
    response = json_response(request, exc.to_json(), status_of(exc))
    if "retry_after" in exc.details:
        response.headers["Retry-After"] = str(exc.details["retry_after"])
    return response


def finite(value: Any) -> Any:
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_body(data: Any) -> bytes:
    """``data`` as UTF-8 JSON; NaN and infinity become null (:func:`finite` walks ``data`` only
    when the plain encoding found one: most answers have none, and the walk costs as much)."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError:
        data = finite(data)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a word pickled that way): escape it in JSON
        return json.dumps(data, ensure_ascii=True, allow_nan=False).encode("ascii")


def json_response(request: wrappers.Request, data: dict, status: int = 200) -> wrappers.Response:
    return http_util.Respond(request, json_body(data), "application/json", code=status)


def static_file(request: wrappers.Request, folder: str, name: str) -> wrappers.Response:
    """A file of ``folder`` (no sub-folders, no hidden files), or a JSON 404."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return json_response(request, {"error": f"no such file: {name!r}"}, 404)
    path = os.path.join(folder, name)
    if not os.path.isfile(path) or not fileio.is_within(path, folder):
        message = f"no such file: {name!r}"
        if name == "index.js":
            message = "the Word2Vec tab was not built; reinstall with Node.js available (pip install .)"
        return json_response(request, {"error": message}, 404)
    with open(path, "rb") as f:
        content = f.read()
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith((".js", ".mjs")):
        mimetype = "text/javascript"
    return http_util.Respond(request, content, mimetype)
