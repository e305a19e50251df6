"""The plugin's TensorBoard flags (``--word2vec_*``): definition, checks, and the settings they make.

Light on purpose: TensorBoard defines every plugin's flags at each start.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from tensorboard.plugins import base_plugin

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io.cachedir import default_cache_dir
from tensorboard_plugin_w2v.io.s3 import DEFAULT_TIMEOUT_SECONDS as DEFAULT_REMOTE_TIMEOUT_SECONDS
from tensorboard_plugin_w2v.models.cache_budget import DEFAULT_BUDGET as DEFAULT_CACHE_BUDGET

MILVUS_TOKEN_ENV = "W2V_MILVUS_TOKEN"  # the token of --word2vec_milvus_uri when no flag gives it
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``"8G"`` → bytes; a plain number means bytes.

    >>> parse_size("512M")
    536870912
    """
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 512M or 8G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def define_flags(parser) -> None:
    """Add the ``--word2vec_*`` flags to TensorBoard's parser."""
    group = parser.add_argument_group("word2vec")
    group.add_argument(
        "--word2vec_memory_budget",
        metavar="SIZE",
        default="8G",
        help="Memory for loaded word2vec models; least recently used models "
        "are dropped beyond it (e.g. 512M, 8G). Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_cache_dir",
        metavar="DIR",
        default=default_cache_dir(),
        help="Local folder for converted models, search indexes and copies of "
        "remote files. Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_no_pickle",
        action="store_true",
        help="Refuse gensim's native (pickle-based) files, for logdirs whose "
        "writers are not trusted. Other formats keep working.",
    )
    group.add_argument(
        "--word2vec_mmap",
        choices=md.MMAP_POLICIES,
        default=md.MMAP_AUTO,
        help="Which gensim files in the logdir are memory-mapped instead of read into memory: "
        "'always' (fastest start, least memory; a file rewritten in place while served can crash "
        "TensorBoard), 'never' (safe where jobs rewrite files in place), or 'auto': files unchanged "
        "for 5 minutes are mapped, fresher ones read into memory (large ones are also copied into "
        "the cache folder, for later loads to map). Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_allow_outside_logdir",
        action="store_true",
        help="Let manifests name model files outside the logdir.",
    )
    group.add_argument(
        "--word2vec_reload_interval",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="How often queries rescan the logdir for new or removed models. Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_cache_budget",
        metavar="SIZE",
        default=DEFAULT_CACHE_BUDGET,
        help="Most disk space the cache folder's entries (converted models, copies, vocabularies, "
        "search indexes) may take; the least valuable (longest unused, quickest to rebuild) are "
        "removed beyond it, never one in use. Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_remote_timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_REMOTE_TIMEOUT_SECONDS,
        help="How long a query waits for remote storage (s3://, gs://) before answering 503; "
        "the copy goes on and the next query tries again. Default: %(default)s.",
    )
    _define_milvus_flags(group)


def _define_milvus_flags(group) -> None:
    group.add_argument(
        "--word2vec_milvus_uri",
        metavar="URI",
        default=None,
        help="Serve models pushed with w2v-milvus from this Milvus (e.g. http://milvus:19530); "
        "models not pushed are served locally. Needs pip install '.[milvus]'.",
    )
    group.add_argument(
        "--word2vec_milvus_token",
        metavar="TOKEN",
        default=None,
        help=f"Token of an authenticated Milvus cluster (default: ${MILVUS_TOKEN_ENV}); never logged.",
    )
    group.add_argument(
        "--word2vec_milvus_timeout",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="How long one Milvus call may take before the model is answered from its local "
        "file (or 503). Default: %(default)s.",
    )
    group.add_argument(
        "--word2vec_milvus_budget",
        metavar="SIZE",
        default="16G",
        help="Estimated Milvus memory of the collections this TensorBoard keeps loaded (vectors "
        "and HNSW graph); least recently used ones are released beyond it. Default: %(default)s.",
    )


def fix_flags(flags) -> None:
    """Check the flags and add ``word2vec_memory_budget_bytes`` and ``word2vec_cache_budget_bytes``."""
    try:
        flags.word2vec_memory_budget_bytes = parse_size(flags.word2vec_memory_budget)
    except ValueError as exc:
        raise base_plugin.FlagsError(f"--word2vec_memory_budget: {exc}") from None
    try:
        flags.word2vec_cache_budget_bytes = parse_size(flags.word2vec_cache_budget)
    except ValueError as exc:
        raise base_plugin.FlagsError(f"--word2vec_cache_budget: {exc}") from None
    if not flags.word2vec_remote_timeout > 0:
        raise base_plugin.FlagsError("--word2vec_remote_timeout must be a positive number of seconds")
    if flags.word2vec_reload_interval < 0:
        raise base_plugin.FlagsError("--word2vec_reload_interval must not be negative")
    try:
        flags.word2vec_milvus_budget_bytes = parse_size(flags.word2vec_milvus_budget)
    except ValueError as exc:
        raise base_plugin.FlagsError(f"--word2vec_milvus_budget: {exc}") from None
    if flags.word2vec_milvus_timeout <= 0:
        raise base_plugin.FlagsError("--word2vec_milvus_timeout must be positive")


@dataclass(frozen=True)
class Settings:
    """The plugin's flags (``--word2vec_*``), checked; defaults where TensorBoard gives none."""

    memory_budget_bytes: int
    cache_dir: str
    reload_interval: float
    allow_pickle: bool
    mmap_policy: str
    allow_outside_logdir: bool
    cache_budget_bytes: int = 0
    remote_timeout: float = DEFAULT_REMOTE_TIMEOUT_SECONDS
    milvus_uri: str | None = None
    milvus_token: str | None = field(default=None, repr=False)  # never logged
    milvus_timeout: float = 10.0
    milvus_budget_bytes: int = 16 << 30

    @classmethod
    def from_flags(cls, flags) -> Settings:
        budget = getattr(flags, "word2vec_memory_budget_bytes", None) or parse_size(
            getattr(flags, "word2vec_memory_budget", "8G")
        )
        return cls(
            memory_budget_bytes=budget,
            cache_dir=getattr(flags, "word2vec_cache_dir", None) or default_cache_dir(),
            reload_interval=float(getattr(flags, "word2vec_reload_interval", 5.0)),
            allow_pickle=not getattr(flags, "word2vec_no_pickle", False),
            mmap_policy=getattr(flags, "word2vec_mmap", None) or md.MMAP_AUTO,
            allow_outside_logdir=bool(getattr(flags, "word2vec_allow_outside_logdir", False)),
            cache_budget_bytes=getattr(flags, "word2vec_cache_budget_bytes", None)
            or parse_size(getattr(flags, "word2vec_cache_budget", DEFAULT_CACHE_BUDGET)),
            remote_timeout=float(getattr(flags, "word2vec_remote_timeout", DEFAULT_REMOTE_TIMEOUT_SECONDS)),
            milvus_uri=getattr(flags, "word2vec_milvus_uri", None) or None,
            milvus_token=getattr(flags, "word2vec_milvus_token", None) or os.environ.get(MILVUS_TOKEN_ENV),
            milvus_timeout=float(getattr(flags, "word2vec_milvus_timeout", 10.0)),
            milvus_budget_bytes=getattr(flags, "word2vec_milvus_budget_bytes", None)
            or parse_size(getattr(flags, "word2vec_milvus_budget", "16G")),
        )
