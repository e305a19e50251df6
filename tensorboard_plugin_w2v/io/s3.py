"""The S3 client of the plugin's own calls: ``S3_ENDPOINT`` as TensorBoard's gfile uses it, and calls
that give up after about ``--word2vec_remote_timeout`` seconds (TensorBoard's gfile has no timeout)."""

from __future__ import annotations

import os
import threading

DEFAULT_TIMEOUT_SECONDS = 30.0

# What ``--word2vec_remote_timeout`` set (one setting per process, like the cache folder).
timeout_seconds = DEFAULT_TIMEOUT_SECONDS


def configure(timeout: float) -> None:
    """Set how long a request waits for remote storage (``--word2vec_remote_timeout``)."""
    global timeout_seconds
    timeout_seconds = float(timeout)


_clients: dict[tuple[str | None, float], object] = {}
_clients_lock = threading.Lock()


def client(timeout: float | None = None):
    """A boto3 S3 client for ``S3_ENDPOINT`` whose every call gives up after about ``timeout`` s."""
    import boto3
    import botocore.config

    timeout = timeout_seconds if timeout is None else timeout
    endpoint = os.environ.get("S3_ENDPOINT") or None
    key = (endpoint, timeout)
    with _clients_lock:  # boto3's default session is not thread-safe when creating clients
        found = _clients.get(key)
        if found is None:
            config = botocore.config.Config(
                connect_timeout=max(1.0, timeout / 3),
                read_timeout=max(1.0, timeout / 3),
                retries={"max_attempts": 2, "mode": "standard"},
            )
            found = _clients[key] = boto3.client("s3", endpoint_url=endpoint, config=config)
        return found


def split(path: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``."""
    bucket, _, key = path[len("s3://") :].partition("/")
    return bucket, key
