"""Recognise model files by their first bytes, never by loading them.

``sniff(path)`` reads at most ``HEAD_BYTES`` and returns what the header says (format,
dimension, vocabulary size where cheap, training parameters for fastText ``.bin``), or
``None`` for files that are not models (event files, TSVs, ``.npy`` sidecars, ...).
"""

from __future__ import annotations

import os
import pickletools
import re
import struct
from dataclasses import dataclass, field

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import fileio

HEAD_BYTES = 64 * 1024

# (module, class) of a pickled gensim object -> format name.
_GENSIM_CLASSES = {
    ("gensim.models.word2vec", "Word2Vec"): md.FORMAT_GENSIM_WORD2VEC,
    ("gensim.models.fasttext", "FastText"): md.FORMAT_GENSIM_FASTTEXT,
    ("gensim.models.keyedvectors", "KeyedVectors"): md.FORMAT_GENSIM_KEYEDVECTORS,
    ("gensim.models.keyedvectors", "Word2VecKeyedVectors"): md.FORMAT_GENSIM_KEYEDVECTORS,
    ("gensim.models.keyedvectors", "EuclideanKeyedVectors"): md.FORMAT_GENSIM_KEYEDVECTORS,
    ("gensim.models.fasttext", "FastTextKeyedVectors"): md.FORMAT_GENSIM_KEYEDVECTORS,
}
_FASTTEXT_MAGIC = 793712314
_NPY_MAGIC = b"\x93NUMPY"
_W2V_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
# Names that are never models themselves: TensorBoard's files and our own.
_SKIP_NAME = re.compile(
    r"(^events\.out\.tfevents\.|^\.tmp-|\.part$|\.npy$|\.pbtxt$|\.tsv$|\.json$|\.pb$"
    r"|\.index$|\.data-\d+-of-\d+$|^checkpoint$|\.png$|\.csv$|\.lock$)"
)


@dataclass(frozen=True)
class Sniffed:
    """What a file's header tells without loading it."""

    format: str
    dim: int | None = None
    vocab_size: int | None = None
    training: dict | None = field(default=None, compare=False)


def may_be_model(filename: str) -> bool:
    """Cheap name filter applied before any read."""
    return not _SKIP_NAME.search(os.path.basename(filename))


def sniff(path: str) -> Sniffed | None:
    """The model format of ``path`` from its header, or ``None`` if it is not a model."""
    head = fileio.read_head(path, HEAD_BYTES)
    if len(head) < 4:
        return None
    if head.startswith(_NPY_MAGIC):
        return None
    if head[:1] == b"\x80":
        return _sniff_pickle(head)
    if struct.unpack("<i", head[:4])[0] == _FASTTEXT_MAGIC:
        return _sniff_fasttext_bin(head)
    return _sniff_text_or_word2vec_binary(path, head)


def pickle_class(head: bytes) -> tuple[str, str] | None:
    """The (module, name) of the first class a pickle stream builds, read without unpickling."""
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(head):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return strings[-2], strings[-1]
            elif opcode.name == "GLOBAL":
                module, _, name = arg.partition(" ")
                return module, name
    except Exception:  # a truncated head ends the opcode stream; nothing to report
        return None
    return None


_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"})
_SCALAR_OPS = frozenset({"BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "NONE", "NEWTRUE", "NEWFALSE"})
_FULL_MODELS = frozenset({md.FORMAT_GENSIM_WORD2VEC, md.FORMAT_GENSIM_FASTTEXT})


def _sniff_pickle(head: bytes) -> Sniffed | None:
    cls = pickle_class(head)
    fmt = _GENSIM_CLASSES.get(cls) if cls else None
    if fmt is None:
        return None
    scalars = _leading_scalars(head)
    training = {k: v for k, v in scalars.items() if k in md.TRAINING_ATTRIBUTES}
    dim = scalars.get("vector_size")
    return Sniffed(
        fmt,
        dim=dim if isinstance(dim, int) else None,
        training=training if fmt in _FULL_MODELS and training else None,
    )


def _leading_scalars(head: bytes) -> dict:
    """``name: number`` attributes a gensim pickle stores before its vectors, read as opcodes."""
    found: dict = {}
    key = None
    try:
        for opcode, arg, _pos in pickletools.genops(head):
            if opcode.name == "MEMOIZE":
                continue
            if opcode.name in _SCALAR_OPS and key is not None:
                found.setdefault(
                    key, arg if opcode.name not in ("NEWTRUE", "NEWFALSE") else opcode.name == "NEWTRUE"
                )
            key = arg if opcode.name in _STRING_OPS else None
            if key in ("wv", "index_to_key"):
                break
    except Exception:  # the head ends mid-stream: keep what was read
        pass
    return found


def _sniff_fasttext_bin(head: bytes) -> Sniffed | None:
    if len(head) < 72:
        return None
    (dim, ws, epoch, min_count, neg, _ngrams, loss, model) = struct.unpack("<8i", head[8:40])
    nwords = struct.unpack("<i", head[68:72])[0]
    training = {
        "sg": 1 if model == 2 else 0,
        "window": ws,
        "epochs": epoch,
        "min_count": min_count,
        "negative": neg if loss == 2 else 0,
        "hs": 1 if loss == 1 else 0,
    }
    return Sniffed(md.FORMAT_FASTTEXT_BIN, dim=dim, vocab_size=nwords, training=training)


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _sniff_text_or_word2vec_binary(path: str, head: bytes) -> Sniffed | None:
    first, sep, rest = head.partition(b"\n")
    if not sep:
        return None
    header = _W2V_HEADER.match(first)
    if header:
        vocab_size, dim = int(header.group(1)), int(header.group(2))
        if dim <= 0:
            return None
        line = rest.split(b"\n", 1)[0]
        tokens = line.rstrip().split(b" ")
        is_text = len(tokens) == dim + 1 and all(_is_float(t) for t in tokens[1:])
        if not is_text and vocab_size == 0:
            is_text = True
        if is_text:
            fmt = md.FORMAT_FASTTEXT_VEC if path.endswith(".vec") else md.FORMAT_WORD2VEC_TEXT
        else:
            fmt = md.FORMAT_WORD2VEC_BINARY
        return Sniffed(fmt, dim=dim, vocab_size=vocab_size)
    # GloVe: no header; every line is a word and the same number of floats.
    lines = head.split(b"\n")
    complete = lines[:-1] if len(lines) > 1 else lines
    widths = set()
    for line in complete[:20]:
        tokens = line.rstrip().split(b" ")
        if len(tokens) < 2 or not all(_is_float(t) for t in tokens[1:]):
            return None
        widths.add(len(tokens))
    if len(widths) != 1:
        return None
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return Sniffed(md.FORMAT_GLOVE_TEXT, dim=widths.pop() - 1)
