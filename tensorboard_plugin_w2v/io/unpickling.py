"""Unpickling that lets the server's other threads run while a large pickle is decoded.

``pickle.loads`` decodes a whole pickle in one C call that holds the GIL: gensim's pickle of a
million-word vocabulary held it for a second, and every request of every TensorBoard plugin
waited meanwhile. Given a file object instead, the C unpickler asks for each frame of a
protocol-4 pickle (64 KB; gensim writes protocol 4) with a call to its ``read``. When that
``read`` is Python code, the interpreter may hand the GIL to a waiting thread there, so the others
wait at most a frame's decoding (about a millisecond) after the switch interval (5 ms), not the
whole pickle. While requests are being answered, ``read`` also makes way for them
(:class:`lifecycle.GilShare`): decoding keeps about a twentieth of the GIL then, and all of it
in a quiet process. Older protocols have no frames (the unpickler
would call ``read`` for every opcode), so they are decoded in one call as before.

    >>> import pickle
    >>> loads(pickle.dumps({"king": 0, "queen": 1}, protocol=4))
    {'king': 0, 'queen': 1}
"""

from __future__ import annotations

import mmap
import pickle
import pickletools

import numpy as np

from tensorboard_plugin_w2v import lifecycle

FRAMED_PROTOCOL = 4
_FRAME = pickle.FRAME[0]
# Opcodes a protocol-4 pickler writes outside frames (objects larger than a frame), with the
# size of their length field.
_UNFRAMED = {
    pickle.BINBYTES[0]: 4,
    pickle.BINUNICODE[0]: 4,
    pickle.BINBYTES8[0]: 8,
    pickle.BINUNICODE8[0]: 8,
    pickle.BYTEARRAY8[0]: 8,
}
_BATCH = 1000  # entries between MARK and SETITEMS, as the pickler batches them
_CHECKED = 64 * _BATCH  # entries compared at a time
_HEAD_BYTES = 1 << 20  # at most this much pickle before the list of words, walked op by op
_WORDS, _INDEX = "index_to_key", "key_to_index"  # gensim's KeyedVectors, in this order


def loads(data: bytes | mmap.mmap | tuple, encoding: str = "latin1"):
    """``pickle.loads(data, encoding=encoding)``, letting other threads run between frames;
    ``data`` may also be an ``mmap`` (:func:`~tensorboard_plugin_w2v.io.streamed.read_file`) or
    a tuple of buffers read one after the other (:func:`without_key_index`)."""
    head = data[0] if isinstance(data, tuple) else data
    if len(head) < 2 or head[0] != pickle.PROTO[0] or head[1] < FRAMED_PROTOCOL:
        return pickle.loads(b"".join(data) if isinstance(data, tuple) else data, encoding=encoding)
    return pickle.Unpickler(_Yielding(data if isinstance(data, tuple) else (data,)), encoding=encoding).load()


class _Yielding:
    """A file over buffers read one after the other (in place: no copy of the whole) whose
    methods are Python code, so each call is a point where the interpreter may hand the GIL to
    another thread."""

    def __init__(self, parts: tuple):
        self._parts = [memoryview(part).cast("B") for part in parts]
        self._part = self._at = 0
        self._share = lifecycle.GilShare()

    def read(self, size: int = -1) -> bytes:
        self._share.step()
        chunks = []
        while self._part < len(self._parts) and size != 0:
            part = self._parts[self._part]
            taken = part[self._at : len(part) if size < 0 else self._at + size]
            chunks.append(taken)
            self._at += len(taken)
            size -= len(taken) if size > 0 else 0
            if self._at == len(part):
                self._part, self._at = self._part + 1, 0
        return b"".join(chunks)

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        line = b""
        while self._part < len(self._parts) and not line.endswith(b"\n"):
            part = self._parts[self._part]
            ends = bytes(part[self._at : self._at + 4096]).find(b"\n")
            line += self.read(ends + 1 if ends >= 0 else min(4096, len(part) - self._at))
        return line


def without_key_index(data: bytes | mmap.mmap, items: int) -> tuple | None:
    """gensim's pickle of a vocabulary of ``items`` words, as buffers for :func:`loads` in which
    its ``key_to_index`` decodes as an empty dict; ``None`` unless the pickle holds exactly
    ``{index_to_key[i]: i}`` laid out as gensim writes it (protocol 4, that order, the words'
    own objects as keys).

    Decoding that dict is most of the work: 1.3 s of 1.8 s at 3M words, where the list takes
    0.4 s. The dict's bytes are checked against the bytes a pickler writes for it (each key a
    reference to the word at the same position, each value that position), so the dict built
    from the list is the one the file holds. Only its entries go: its memo slot stays, so every
    later reference resolves. The frame it began in is shortened and joined to the rest of the
    frame it ended in; the rest is not copied."""
    if items < 2 or len(data) < 12 or data[0] != pickle.PROTO[0] or data[1] < FRAMED_PROTOCOL:
        return None
    first_word = _first_word_slot(data)
    head = _text_op(_INDEX) + pickle.EMPTY_DICT + pickle.MEMOIZE + pickle.MARK
    found = data.find(head)
    if first_word is None or found < 0:
        return None
    start = found + len(head) - 1  # the entries' first MARK: EMPTY_DICT and MEMOIZE stay
    frames = _frames(data)
    first = _frame_of(frames, start)
    if first is None:
        return None
    end = _skip_framed(frames, start, first, _entries_size(first_word, items))
    if end is None:
        return None
    last = None if end in frames else _frame_of(frames, end)  # None: the next entry opens a frame
    whole = np.frombuffer(data, dtype=np.uint8)
    inner = sorted(at for at in frames if start < at < end)
    written = [whole[a + (9 if a != start else 0) : b] for a, b in zip([start, *inner], [*inner, end], strict=True)]
    chunks = (_index_entries(first_word, items, i, min(i + _CHECKED, items)) for i in range(0, items, _CHECKED))
    if not _same_bytes([w for w in written if len(w)], chunks):
        return None
    tail = end if last is None else last[0] + 9 + last[1]
    joined = bytes(data[first[0] + 9 : start]) + bytes(data[end:tail])
    view = memoryview(whole)
    return view[: first[0]], pickle.FRAME + len(joined).to_bytes(8, "little") + joined, view[tail:]


def _text_op(text: str) -> bytes:
    """How a protocol-4 pickler writes a short str the first time (``SHORT_BINUNICODE``, ``MEMOIZE``)."""
    raw = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw + pickle.MEMOIZE


def _first_word_slot(data) -> int | None:
    """The memo slot of ``index_to_key``'s first word (new to the pickle, as all its words are)."""
    at = data.find(_text_op(_WORDS) + pickle.EMPTY_LIST + pickle.MEMOIZE + pickle.MARK + pickle.SHORT_BINUNICODE)
    if at < 0:
        return None
    listed = at + len(_text_op(_WORDS))
    if listed > _HEAD_BYTES:
        return None  # much before the list (a model's raw vocabulary): too long to walk here
    try:  # the ops before the list (a few dozen), ended where it begins
        ops = [(op.name, position) for op, _arg, position in pickletools.genops(bytes(data[:listed]) + pickle.STOP)]
    except ValueError:
        return None
    if ops[-1] != ("STOP", listed) or any(name in ("PUT", "BINPUT", "LONG_BINPUT") for name, _ in ops):
        return None  # the name was inside another op, or slots are numbered: not the layout counted here
    slots = sum(name == "MEMOIZE" for name, _ in ops)
    return slots + 1  # the list's own slot comes first


def _entries_size(base: int, items: int) -> int:
    """How many bytes :func:`_index_entries` makes of all the entries."""
    bounds = np.clip([0, 256 - base, 256, 1 << 16, items], 0, items)
    return int(np.diff(bounds) @ np.array([4, 7, 8, 10])) + 2 * (items // _BATCH + 1)


def _skip_framed(frames: dict[int, int], start: int, frame: tuple[int, int], size: int) -> int | None:
    """Where the ``size`` bytes of ops from ``start`` (in ``frame``) end, stepping over the
    headers of the frames they run into; ``None`` past the last frame."""
    at, end = start, frame[0] + 9 + frame[1]
    while size > end - at:
        size -= end - at
        if end not in frames:
            return None
        at, end = end + 9, end + 9 + frames[end]
    return at + size


def _index_entries(base: int, items: int, first: int, stop: int) -> np.ndarray:
    """The bytes a protocol-4 pickler writes for entries ``first`` to ``stop`` (whole batches)
    of ``{memo[base + i]: i for i in range(items)}``: MARK, at most 1,000 pairs, SETITEMS, and
    a final empty batch when ``items`` is a multiple of 1,000. A key is BINGET below slot 256,
    else LONG_BINGET; a value BININT1, BININT2 or BININT by size: four kinds of pairs of fixed
    width, each laid out as one record array."""
    bounds = np.clip([0, 256 - base, 256, 1 << 16, items], first, stop).tolist()
    kinds = [("h", "u1", "K", "u1"), ("j", "<u4", "K", "u1"), ("j", "<u4", "M", "<u2"), ("j", "<u4", "J", "<i4")]
    pieces, starts, size = [], [np.zeros(1, dtype=np.int64)], 0
    for (low, high), (get, slot, put, value) in zip(zip(bounds, bounds[1:], strict=False), kinds, strict=True):
        pairs = np.zeros(high - low, dtype=[("get", "u1"), ("slot", slot), ("put", "u1"), ("value", value)])
        pairs["get"], pairs["put"] = ord(get), ord(put)
        pairs["slot"], pairs["value"] = np.arange(base + low, base + high), np.arange(low, high)
        pieces.append(pairs.view(np.uint8))
        starts.append(size + pairs.itemsize * np.arange(1, len(pairs) + 1))
        size += pairs.nbytes
    raw, starts = np.concatenate(pieces), np.concatenate(starts)  # starts[i]: where pair first + i starts
    cuts = starts[::_BATCH].tolist()
    if cuts[-1] != len(raw):
        cuts.append(len(raw))  # a last batch of fewer pairs
    if stop == items and items % _BATCH == 0:
        cuts.append(len(raw))  # the pickler's last, empty batch
    out = np.empty(len(raw) + 2 * (len(cuts) - 1), dtype=np.uint8)
    for batch, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        at = a + 2 * batch
        out[at], out[at + 1 : at + 1 + b - a], out[at + 1 + b - a] = pickle.MARK[0], raw[a:b], pickle.SETITEMS[0]
    return out


def _same_bytes(written: list[np.ndarray], chunks) -> bool:
    """Whether the non-empty arrays ``written``, one after the other, hold the bytes of ``chunks``."""
    part = at = 0
    for chunk in chunks:
        done = 0
        while done < len(chunk):
            if part == len(written):
                return False
            size = min(len(written[part]) - at, len(chunk) - done)
            if not np.array_equal(written[part][at : at + size], chunk[done : done + size]):
                return False
            done, at = done + size, at + size
            if at == len(written[part]):
                part, at = part + 1, 0
    return part == len(written)


def _frames(data) -> dict[int, int]:
    """Where each frame of a protocol-4 pickle starts and its length; empty if its chain breaks."""
    frames: dict[int, int] = {}
    at, size = 2, len(data)
    while at < size:
        op = data[at]
        if op == _FRAME:
            length = int.from_bytes(data[at + 1 : at + 9], "little")
            frames[at] = length
            at += 9 + length
        elif op in _UNFRAMED:
            width = _UNFRAMED[op]
            at += 1 + width + int.from_bytes(data[at + 1 : at + 1 + width], "little")
        else:
            return {}
    return frames if at == size else {}  # the last one ends with the data


def _frame_of(frames: dict[int, int], position: int) -> tuple[int, int] | None:
    """The ``(start, length)`` of the frame whose payload holds ``position``."""
    for at, length in frames.items():
        if at + 9 <= position < at + 9 + length:
            return at, length
    return None
