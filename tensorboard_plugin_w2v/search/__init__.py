"""Nearest-neighbour kernels: norms, exact top-k, candidate re-scoring, the approximate index."""
