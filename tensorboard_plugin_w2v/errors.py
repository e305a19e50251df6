"""Domain errors: one type per kind of failure, each with a message meant for people.

They say what went wrong, not how a protocol reports it: the server maps each type to an HTTP
status in one place (:mod:`tensorboard_plugin_w2v.server.http`), the CLIs print the message.
``details`` carry machine-readable context (suggestions, known names) into the JSON answer.
"""


class Word2VecError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict:
        return {"error": self.message, **self.details}


class InvalidArgument(Word2VecError, ValueError):
    """An argument is missing or malformed (a query's word list, a method name, a limit)."""


BadRequest = InvalidArgument  # the name this error had before; kept for callers that use it


class NotFound(Word2VecError, LookupError):
    """An unknown run, model, step, word or benchmark."""


class ModelLoadError(Word2VecError):
    """A model file could not be read or parsed; the reason is meant for people."""


class BenchmarkError(Word2VecError):
    """A benchmark file that cannot be read or parsed."""


class Conflict(Word2VecError):
    """The request cannot be carried out in the current state (a read-only logdir, a cancelled job)."""


class Busy(Word2VecError):
    """Too much work is already waiting; try again later (``details["retry_after"]`` seconds)."""


class StoreUnavailable(Word2VecError):
    """Storage did not answer in time or answered an error (a remote store down, a file that kept
    changing while it was read): not the file's fault, so nothing is remembered and the next
    request tries again (``details["retry_after"]`` seconds)."""


class InsufficientStorage(Word2VecError, OSError):
    """A write ran out of space (a full logdir); nothing partial was left behind."""


class Unavailable(Word2VecError):
    """A service the answer depends on (a Milvus cluster) cannot answer now; the reason says why."""
