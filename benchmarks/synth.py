"""Deterministic synthetic word2vec-like models for the benchmark.

Vectors are Gaussian clusters around random centres, so nearest neighbours are meaningful
(points of one cluster are each other's neighbours) and recall@k measures something real.
Each cluster also varies mostly along a few directions of its own, as real embeddings do
(their intrinsic dimension is far below their width): the ``"subspace"`` shape. The other
:data:`SHAPES` are isotropic Gaussian clusters, harder for an approximate index because every
direction of the noise counts: ``"tight"`` and ``"loose"`` (clusters of about 200 words, noise
0.25 and 1.0 relative to unit-variance centres) and ``"c3000"`` (3,000 centres, noise 0.6).
"""

from __future__ import annotations

import glob
import os

import numpy as np
from gensim.models import KeyedVectors

CLUSTER_SIZE = 200  # words per cluster on average
SUBSPACE = 16  # directions along which a cluster mostly varies


def vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n × dim`` float32 vectors in clusters (same seed, same array)."""
    rng = np.random.default_rng(seed)
    n_clusters = max(1, n // CLUSTER_SIZE)
    sizes = rng.multinomial(n, np.full(n_clusters, 1.0 / n_clusters))
    rows = rng.permutation(n)  # clusters are scattered over the vocabulary, as in real models
    out = np.empty((n, dim), dtype=np.float32)
    scale = np.float32(0.6 / np.sqrt(SUBSPACE))
    offset = 0
    for size in sizes:
        centre = rng.standard_normal(dim, dtype=np.float32)
        basis = rng.standard_normal((SUBSPACE, dim), dtype=np.float32) * scale
        coef = rng.standard_normal((size, SUBSPACE), dtype=np.float32)
        block = centre + coef @ basis
        block += rng.standard_normal((size, dim), dtype=np.float32) * np.float32(0.25)
        out[np.sort(rows[offset : offset + size])] = block
        offset += size
    return out


def clustered(n: int, dim: int, centres: int, noise: float, seed: int = 0) -> np.ndarray:
    """``n × dim`` float32 points, each a unit-variance Gaussian centre (of ``centres``) plus
    isotropic Gaussian noise of standard deviation ``noise``; generated in chunks."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal((max(1, centres), dim), dtype=np.float32)
    label = rng.integers(0, len(centre), n)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 65_536):
        stop = min(n, start + 65_536)
        out[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
        out[start:stop] *= np.float32(noise)
        out[start:stop] += centre[label[start:stop]]
    return out


SHAPES = {
    "subspace": vectors,
    "tight": lambda n, dim, seed=0: clustered(n, dim, max(1, n // CLUSTER_SIZE), 0.25, seed),
    "loose": lambda n, dim, seed=0: clustered(n, dim, max(1, n // CLUSTER_SIZE), 1.0, seed),
    "c3000": lambda n, dim, seed=0: clustered(n, dim, 3000, 0.6, seed),
}


def keyed_vectors(n: int, dim: int, seed: int = 0, shape: str = "subspace") -> KeyedVectors:
    """A ``KeyedVectors`` of synthetic words ``w0 … w{n-1}`` with Zipf-like counts."""
    kv = KeyedVectors(dim, count=n, dtype=np.float32)
    kv.index_to_key = [f"w{i}" for i in range(n)]
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    kv.vectors = SHAPES[shape](n, dim, seed)
    kv.norms = None
    kv.expandos["count"] = (1e9 / np.arange(1, n + 1)).astype(np.int64)
    return kv


def write_model(folder: str, n: int, dim: int, seed: int = 0, shape: str = "subspace") -> str:
    """Write a gensim ``KeyedVectors`` file (with its ``.npy`` sidecar) once; return its path."""
    name = f"synth-{n}x{dim}-s{seed}" + ("" if shape == "subspace" else f"-{shape}")
    path = os.path.join(folder, name + ".kv")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    return save(keyed_vectors(n, dim, seed, shape), path)


def save(kv: KeyedVectors, path: str) -> str:
    """Save ``kv`` at ``path`` with every array in a ``.npy`` sidecar (memory-mappable), the
    sidecars renamed into place before the main file; return ``path``."""
    tmp = path + ".tmp"
    kv.save(tmp, sep_limit=0)
    for side in glob.glob(glob.escape(tmp) + ".*.npy"):
        os.replace(side, path + side[len(tmp) :])
    os.replace(tmp, path)
    return path


def sidecars(path: str) -> list[str]:
    """The ``.npy`` files saved beside ``path``."""
    return sorted(glob.glob(glob.escape(path) + ".*.npy"))
