"""The approximate index itself: a `faiss <https://github.com/facebookresearch/faiss>`_ inverted
file (IVF) over a model's unit vectors, each stored as 8-bit scalar codes of its residual from
its list's centre (a quarter of the float32 matrix), searched by inner product, which is cosine
on unit vectors. The lists come from spherical k-means (unit centres, assignment by cosine):
with Euclidean k-means the centre of a diffuse list lies near the origin, so near every query,
and at 3M × 300 each query scanned 7× the rows it should. It only proposes candidates:
:mod:`~tensorboard_plugin_w2v.search.scoring` re-scores them with gensim's exact arithmetic on
the stored float32 vectors, so every similarity shown equals gensim's and 8-bit rounding costs
no recall. Building, saving and reusing indexes is :mod:`~tensorboard_plugin_w2v.search.index`'s
job; how many lists a query visits is calibrated per model (:mod:`.calibration`).

Why an inverted file and not a graph (HNSW, used up to format 3): at 3M × 300 on two cores an
HNSW graph took 27 minutes to build, these lists take under 2 (k-means on a sample, a pass that
finds every row's list so each list is allocated once, then a pass that encodes the rows), with
the same recall after calibration and a faster search.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from collections.abc import Callable

import numpy as np

from tensorboard_plugin_w2v.io import fileio, pages, prefetch

LIBRARY = "faiss"
FORMAT_VERSION = 5  # 5: centres kept as float16 (4: float32 centres; 3: usearch HNSW)
LISTS_PER_ROOT = 2  # about 2·√rows lists, rounded to a power of two
TRAIN_PER_LIST = 32  # k-means sample: this many rows per list
TRAIN_ITERATIONS = 10  # Lloyd iterations of the k-means
DIM_ALIGN = 16  # faiss's SIMD scan of 8-bit codes needs dimensions in multiples of 16 (14× faster at 300 → 304)
PROBES_DEFAULT = 16  # lists visited by an index saved without a calibrated count


# faiss's OpenMP threads (libgomp) spin for milliseconds after each parallel step unless told to
# sleep: after a search on 2 threads, about 11 ms of CPU each time, on cores a build's queries
# woke up for (in the load test the effect was within its run-to-run noise). libgomp reads this
# when faiss loads it; a setting of the user's own is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def available() -> bool:
    """True when the ANN library (faiss) can be imported (importing it: about 0.15 s the first time)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def installed() -> bool:
    """True when the ANN library (faiss) is installed, found without importing it: a model's
    first answer does not wait for the import, which the index builder's thread does
    (:func:`available`)."""
    return importlib.util.find_spec("faiss") is not None


def cache_key(identity: fileio.FileIdentity) -> str:
    """Name of a model version's index in the cache: its identity and the index parameters."""
    text = (
        f"{identity.path}|{identity.size}|{identity.mtime_ns}|"
        f"{LIBRARY}-v{FORMAT_VERSION}-ivf{LISTS_PER_ROOT}r-sq8-c16-it{TRAIN_ITERATIONS}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def list_count(rows: int) -> int:
    """Lists of an index over ``rows`` vectors: a power of two near ``2·√rows``, with at least
    :data:`TRAIN_PER_LIST` rows per list to train on."""
    wanted = 2 ** round(math.log2(max(1.0, LISTS_PER_ROOT * math.sqrt(max(1, rows)))))
    most = 2 ** int(math.log2(max(1, rows // TRAIN_PER_LIST)))
    return max(1, min(wanted, most))


def training_rows(rows: int) -> np.ndarray:
    """The rows k-means trains on (:data:`TRAIN_PER_LIST` per list, drawn once, in order)."""
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(rows, min(rows, list_count(rows) * TRAIN_PER_LIST), replace=False))


def padded_dim(dim: int) -> int:
    return -(-dim // DIM_ALIGN) * DIM_ALIGN


def pad(unit: np.ndarray, dim: int) -> np.ndarray:
    """``unit`` (rows × d, float32) widened with zero columns to ``dim``: distances are unchanged."""
    unit = np.atleast_2d(unit)
    if unit.shape[1] == dim:
        return np.ascontiguousarray(unit, dtype=np.float32)
    out = np.zeros((len(unit), dim), dtype=np.float32)
    out[:, : unit.shape[1]] = unit
    return out


def set_threads(threads: int) -> None:
    """Threads faiss uses for calls from the calling thread (OpenMP keeps the setting per
    thread): ``0`` means every core."""
    import faiss

    faiss.omp_set_num_threads(threads if threads > 0 else (os.cpu_count() or 1))


def train(sample: np.ndarray, dim: int, rows: int, stop: Callable[[], bool] | None = None):
    """An empty, trained index for ``rows`` vectors of ``dim`` (before padding): spherical
    k-means on ``sample`` (unit rows), one Lloyd iteration per call, so a build can stop between them
    (``stop()`` true: returns ``None``), then the 8-bit codes' ranges on the residuals."""
    import faiss

    width = padded_dim(dim)
    lists = min(list_count(rows), max(1, len(sample)))
    sample = pad(sample, width)
    centres = None
    for _ in range(TRAIN_ITERATIONS if lists > 1 else 0):
        if stop is not None and stop():
            return None
        kmeans = faiss.Kmeans(
            width, lists, niter=1, seed=1234, spherical=True, min_points_per_centroid=1,
            max_points_per_centroid=1 << 30,
        )
        kmeans.train(sample, init_centroids=centres)
        centres = kmeans.centroids
    centres = centres if centres is not None else sample.mean(axis=0, keepdims=True)
    # The index keeps its centres as float16: every query is compared with all of them, and
    # half the bytes is what counts once they have left the CPU caches between requests (3M ×
    # 300: 4,096 centres, route p50 1.66 → 1.49 ms in-process with another request in between).
    coarse = faiss.IndexScalarQuantizer(width, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    coarse.train(centres)
    coarse.add(centres)
    # The codes' ranges are trained on the sample's residuals from the same (decoded) centres,
    # found by one matrix product (see list_finder); then the index takes the float16 ones.
    index = faiss.IndexIVFScalarQuantizer(
        _flat(coarse.reconstruct_n(0, lists)), width, lists, faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )
    index.train(sample)  # the lists are set: this trains only the codes' ranges
    index.quantizer = coarse
    index.own_fields = True
    coarse.this.disown()  # the index owns (and frees) its coarse quantizer now
    return index


def _flat(centres: np.ndarray):
    """An exact inner-product index over ``centres`` (its batch searches are BLAS products)."""
    import faiss

    flat = faiss.IndexFlatIP(centres.shape[1])
    flat.add(np.ascontiguousarray(centres, dtype=np.float32))
    return flat


def list_finder(index) -> Callable[[np.ndarray], np.ndarray]:
    """``find(unit_rows)``: the list of each row, the one whose centre is nearest. The float16
    centres are decoded once and compared in float32, in one matrix product per call: their own
    scan decodes every centre for every row (the 1M × 300 build took 42 s instead of 24)."""
    flat = _flat(index.quantizer.reconstruct_n(0, index.nlist))
    return lambda unit: flat.assign(pad(unit, index.d), 1).ravel()


def reserve(index, sizes: np.ndarray) -> None:
    """Allocate each list once for ``sizes[list]`` rows. Lists grown row batch by row batch
    reallocate as they grow, and the memory left between them counted 19 % of the index at 3M
    × 300 (resident memory 1.24× matrix + index at the end of a build, 1.20× once mapped)."""
    import faiss

    lists = faiss.downcast_InvertedLists(index.invlists)
    for number, size in enumerate(sizes.tolist()):
        lists.resize(number, size)  # from empty: exactly this capacity …
        lists.resize(number, 0)  # … which a vector keeps when it shrinks


def add(index, first_row: int, unit: np.ndarray, lists: np.ndarray | None = None) -> None:
    """Append unit rows ``first_row …`` (ids are row numbers) to their ``lists`` (found by
    :func:`list_finder` if not given)."""
    import faiss

    x = pad(unit, index.d)
    ids = np.arange(first_row, first_row + len(unit), dtype=np.int64)
    lists = np.ascontiguousarray(list_finder(index)(x) if lists is None else lists, dtype=np.int64)
    index.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(lists))


class AnnIndex:
    """A built index: ``candidates(unit_queries, count)`` proposes row numbers per query."""

    def __init__(self, index, path: str | None = None, probes: int = PROBES_DEFAULT, min_candidates: int = 0):
        self._index = index
        self.path = path
        self._mapped_lists = None  # a mapped index's lists (see candidates)
        self.probes = probes
        # Candidates re-scored per query, at least: 8-bit rounding can put the true neighbours
        # of data with many near-equal distances a little further down (see calibration).
        self.min_candidates = min_candidates

    @property
    def lists(self) -> int:
        return int(self._index.nlist)

    @property
    def probes(self) -> int:
        """Lists visited per query (faiss's ``nprobe``)."""
        return int(self._index.nprobe)

    @probes.setter
    def probes(self, value: int) -> None:
        self._index.nprobe = max(1, min(int(value), int(self._index.nlist)))

    @property
    def nbytes(self) -> int:
        if self.path is not None:
            return os.path.getsize(self.path)
        return self.serialized_bytes

    @property
    def serialized_bytes(self) -> int:
        """About what the index takes written out: codes and ids of every row, and the centres."""
        index = self._index
        return int(index.ntotal) * (int(index.code_size) + 8) + int(index.nlist) * int(index.d) * 2 + 4096

    def candidates(self, unit_queries: np.ndarray, count: int, threads: int = 1) -> np.ndarray:
        """``len(unit_queries) × count`` row numbers, best first; ``-1`` pads missing ones."""
        q = pad(unit_queries, self._index.d)
        set_threads(threads)
        prefetch.settle(self.path)
        if self._mapped_lists is not None and prefetch.reaching(self.path):
            return self._search_asking(q, count)
        _, found = self._index.search(q, count)
        return found

    def _search_asking(self, q: np.ndarray, count: int) -> np.ndarray:
        """faiss's search in its two steps (the nearest centres, then their lists), asking the
        kernel between them for exactly the pages of the visited lists the prefetch has not
        reached, all at once: each fault in a list would read 8 MB around it."""
        index, lists = self._index, self._mapped_lists
        distances, visited = index.quantizer.search(q, index.nprobe)
        base = int(lists.ptr)
        for number in np.unique(visited[visited >= 0]).tolist():
            one = lists.lists.at(number)  # its codes, then its ids, from ``offset``
            offset, length = int(one.offset), int(one.capacity) * (int(index.code_size) + 8)
            if prefetch.not_yet_in(self.path, np.array([offset + length]))[0]:
                pages.ask_for(base + offset, length)
        _, found = index.search_preassigned(q, count, visited, distances)
        return found

    def save(self, path: str) -> None:
        import faiss

        faiss.write_index(self._index, path)

    @classmethod
    def open(cls, path: str, probes: int = PROBES_DEFAULT, min_candidates: int = 0) -> AnnIndex:
        """Memory-map a saved index (its codes are read from the page cache, not copied)."""
        import faiss

        try:
            index = faiss.read_index(path, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a faiss index ({exc})") from None
        if not isinstance(index, faiss.IndexIVFScalarQuantizer):
            raise ValueError(f"{path} holds a {type(index).__name__}, not an IVF index")
        lists = faiss.downcast_InvertedLists(index.invlists)
        if isinstance(lists, faiss.OnDiskInvertedLists):
            # A mapped index's lists would otherwise be "prefetched" by up to 32 threads started
            # on every search (one per list visited) and joined on the next: 0.1 ms of each
            # 0.4 ms search at 3M × 300, and threads fighting the queries for two cores. The
            # index's pages are brought in once, in the background (:mod:`..io.prefetch`).
            lists.prefetch_nthread = 0
        opened = cls(index, path, probes, min_candidates)
        if isinstance(lists, faiss.OnDiskInvertedLists):
            opened._mapped_lists = lists
        return opened

