"""The norms of a large memory-mapped matrix, computed by a child process while a model decodes.

gensim's unpickling of a large vocabulary holds this process's GIL for seconds, and a thread
computing the norms beside it waited for the GIL at each of its NumPy calls: it computed a
tenth of a 3M-word model's norms during the load and slowed the decoding down. A child has a
GIL of its own. It maps the same file (the page cache is shared), computes each chunk's norms
with :func:`~tensorboard_plugin_w2v.models.norms.finished_norms_into` (the same calls on the same
numbers, so the same bits), from the last chunk to the first, into shared memory the parent
maps (a ``memfd`` passed by descriptor), and prints each chunk's number once it is written.
Only finished values are written there, so a chunk the parent computed too (where they meet)
only ever holds the same bits. The
parent's threads take chunks from the first (:class:`~tensorboard_plugin_w2v.models.norms.MappedNormsJob`),
and the two meet.

    python -m tensorboard_plugin_w2v.models.norms_child PATH OFFSET ROWS COLUMNS DTYPE CHUNK_ROWS FD
"""

from __future__ import annotations

import mmap
import sys

import numpy as np

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import pages
from tensorboard_plugin_w2v.models.norms import finished_norms_into


def main(argv: list[str]) -> int:
    path, offset, rows, columns, dtype, chunk_rows, fd = argv
    rows, columns, chunk_rows = int(rows), int(columns), int(chunk_rows)
    lifecycle.lower_priority(lifecycle.LOADING)  # below the parent's requests, as its own threads run
    vectors = np.memmap(path, dtype=np.dtype(dtype), mode="r", offset=int(offset), shape=(rows, columns))
    shared = mmap.mmap(int(fd), rows * vectors.dtype.itemsize)
    out = np.frombuffer(shared, dtype=vectors.dtype)
    scratch = None
    for chunk in reversed(range(-(-rows // chunk_rows))):
        start, stop = chunk * chunk_rows, min(rows, (chunk + 1) * chunk_rows)
        pages.populate_array(vectors[start:stop])  # read in large steps, not page by page
        # The parent may have computed this chunk already and be reading it: finished norms only.
        scratch = finished_norms_into(vectors[start:stop], out[start:stop], scratch)
        try:
            print(chunk, flush=True)
        except BrokenPipeError:  # the parent has what it needs
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
