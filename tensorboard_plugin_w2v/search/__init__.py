"""Nearest-neighbour kernels: exact top-k, exact cosines of a scan or of candidates, the
approximate index and its background builds. (Row norms live below, in ``models.norms``.)"""
