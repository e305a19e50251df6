"""One error type per kind of failure; the plugin maps each to one HTTP status."""


class Word2VecError(Exception):
    """Base class of every error this package raises on purpose."""

    http_status = 500

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict:
        return {"error": self.message, **self.details}


class BadRequest(Word2VecError):
    """A parameter is missing or malformed."""

    http_status = 400


class NotFound(Word2VecError):
    """An unknown run, model, step or word."""

    http_status = 404


class ModelLoadError(Word2VecError):
    """A model file could not be read or parsed; the reason is meant for people."""

    http_status = 422


class Conflict(Word2VecError):
    """The request cannot be carried out in the current state (e.g. read-only logdir)."""

    http_status = 409


class Busy(Word2VecError):
    """Too much work is already waiting; the client should try again later."""

    http_status = 429
