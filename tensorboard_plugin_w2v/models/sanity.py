"""Checks of a file against what its header announces, before gensim acts on the header."""

from __future__ import annotations

import os

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError
from tensorboard_plugin_w2v.io import formats
from tensorboard_plugin_w2v.models.model import file_label as _label

_SIZED_FORMATS = frozenset(
    {md.FORMAT_FASTTEXT_BIN, md.FORMAT_WORD2VEC_BINARY, md.FORMAT_WORD2VEC_TEXT, md.FORMAT_FASTTEXT_VEC}
)


def check_size(path: str, format: str) -> None:
    """Refuse a file too short for what its header announces, before gensim acts on the header.

    gensim allocates arrays of the announced size up front (a 2 KB word2vec file whose header
    claims a billion words took 8 GB of memory before failing), and its fastText reader loops
    forever at the end of a file truncated inside the vocabulary.
    """
    if format not in _SIZED_FORMATS:
        return
    size = os.path.getsize(path)
    header = formats.sniff(path)
    if header is None or header.format != format or not header.dim or header.vocab_size is None:
        return
    if format == md.FORMAT_FASTTEXT_BIN:
        with open(path, "rb") as f:
            head = f.read(72)
        bucket = int.from_bytes(head[40:44], "little", signed=True)
        needed = 76 + (header.vocab_size + max(bucket, 0)) * header.dim * 4
    elif format == md.FORMAT_WORD2VEC_BINARY:
        needed = header.vocab_size * (header.dim * 4 + 2)
    else:  # text: each row holds a word and ``dim`` numbers, each with a separator
        needed = header.vocab_size * (header.dim * 2 + 2)
    if size < needed:
        raise ModelLoadError(
            f"{_label(path)}: the file is truncated or corrupt (its header announces "
            f"{header.vocab_size} words of {header.dim} dimensions, more than {size} bytes can hold)"
        )
    if format == md.FORMAT_FASTTEXT_BIN:
        _walk_fasttext_vocabulary(path)


def _walk_fasttext_vocabulary(path: str) -> None:
    """Walk a fastText ``.bin`` vocabulary as gensim will, but stop at the end of the file.

    gensim reads each word a byte at a time until a NUL, and ``read(1)`` returns ``b""`` forever
    at the end of a file: a vocabulary that announces more words than the file holds (truncated,
    or crafted) would pin a core and the model's load lock for good.
    """
    with open(path, "rb") as f:
        head = f.read(92)  # magic, version, 12 ints and a double, then size, nwords, nlabels,
        # ntokens and the pruned-index size
        if len(head) < 92:
            raise ModelLoadError(f"{_label(path)}: the file is truncated or corrupt (its header is cut)")
        words = int.from_bytes(head[64:68], "little", signed=True)
        buf, start, eof = b"", 0, False
        for _ in range(max(words, 0)):
            while True:
                nul = buf.find(b"\0", start)
                if nul >= 0 and len(buf) >= nul + 10:  # the word, its NUL, a count and a type byte
                    break
                if eof:
                    raise ModelLoadError(
                        f"{_label(path)}: the file is truncated or corrupt (it ends inside the "
                        f"vocabulary of {words} words its header announces)"
                    )
                chunk = f.read(1 << 20)
                eof = not chunk
                buf, start = buf[start:] + chunk, 0
            start = nul + 10
