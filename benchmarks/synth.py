"""Deterministic synthetic word2vec-like models for the benchmark.

Vectors are Gaussian clusters around random centres, so nearest neighbours are meaningful
(points of one cluster are each other's neighbours) and recall@k measures something real.
Each cluster also varies mostly along a few directions of its own, as real embeddings do
(their intrinsic dimension is far below their width).
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


def keyed_vectors(n: int, dim: int, seed: int = 0) -> KeyedVectors:
    """A ``KeyedVectors`` of synthetic words ``w0 … w{n-1}`` with Zipf-like counts."""
    kv = KeyedVectors(dim, count=n, dtype=np.float32)
    kv.index_to_key = [f"w{i}" for i in range(n)]
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    kv.vectors = vectors(n, dim, seed)
    kv.norms = None
    kv.expandos["count"] = (1e9 / np.arange(1, n + 1)).astype(np.int64)
    return kv


def write_model(folder: str, n: int, dim: int, seed: int = 0) -> str:
    """Write a gensim ``KeyedVectors`` file (with its ``.npy`` sidecar) once; return its path."""
    path = os.path.join(folder, f"synth-{n}x{dim}-s{seed}.kv")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    return save(keyed_vectors(n, dim, seed), path)


def save(kv: KeyedVectors, path: str) -> str:
    """Save ``kv`` at ``path`` with every array in a ``.npy`` sidecar (memory-mappable), the
    sidecars renamed into place before the main file; return ``path``."""
    tmp = path + ".tmp"
    kv.save(tmp, sep_limit=0)
    for side in glob.glob(glob.escape(tmp) + ".*.npy"):
        os.replace(side, path + side[len(tmp) :])
    os.replace(tmp, path)
    return path
