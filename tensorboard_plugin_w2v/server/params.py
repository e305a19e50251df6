"""Parsing of query-string parameters into checked Python values (400 on anything malformed)."""

from __future__ import annotations

from typing import NamedTuple

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v.errors import InvalidArgument

MAX_PARAM_CHARS = 1000
MIN_STEP = -(2**63)


class ModelRef(NamedTuple):
    """A model version as a request names it: run, model and (``None``: the latest) step."""

    run: str
    model: str
    step: int | None = None


def model_ref(args: MultiDict) -> ModelRef:
    """The ``run``, ``model`` and ``step`` parameters."""
    run, model = string(args, "run"), string(args, "model")
    return ModelRef(run, model, integer(args, "step", None, minimum=MIN_STEP))


def string(args: MultiDict, name: str, required: bool = True, default: str | None = None) -> str | None:
    """One string parameter; repeated parameters are refused rather than silently dropped."""
    values = args.getlist(name)
    if not values:
        if required:
            raise InvalidArgument(f"missing parameter {name!r}")
        return default
    if len(values) > 1:
        raise InvalidArgument(f"parameter {name!r} is given {len(values)} times; give it once")
    return _check(name, values[0])


def strings(args: MultiDict, name: str, max_count: int) -> list[str]:
    """A repeatable string parameter, e.g. ``word=a&word=b``."""
    values = args.getlist(name)
    if len(values) > max_count:
        raise InvalidArgument(f"at most {max_count} values of {name!r} are allowed, got {len(values)}")
    return [_check(name, v) for v in values]


def integer(
    args: MultiDict, name: str, default: int | None, minimum: int = 0, maximum: int | None = None
) -> int | None:
    """An integer parameter within ``[minimum, maximum]`` (values above ``maximum`` are capped)."""
    raw = string(args, name, required=False)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidArgument(f"parameter {name!r} must be an integer, got {raw[:40]!r}") from None
    if value < minimum:
        raise InvalidArgument(f"parameter {name!r} must be at least {minimum}, got {value}")
    return min(value, maximum) if maximum is not None else value


def boolean(args: MultiDict, name: str, default: bool = False) -> bool:
    raw = string(args, name, required=False)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidArgument(f"parameter {name!r} must be 1 or 0, got {raw[:40]!r}")


def _check(name: str, value: str) -> str:
    if len(value) > MAX_PARAM_CHARS:
        raise InvalidArgument(f"parameter {name!r} is longer than {MAX_PARAM_CHARS} characters")
    if "\x00" in value:
        raise InvalidArgument(f"parameter {name!r} contains a NUL character")
    return value
