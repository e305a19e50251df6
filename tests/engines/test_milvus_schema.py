"""Milvus naming and filter helpers, and that nothing changes without the flag (no server needed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.io.fileio import FileIdentity


def test_a_new_file_version_gets_a_new_collection_name():
    base = FileIdentity("/logs/run/w2v.model", 1000, 5)
    names = {
        ms.collection_name(i)
        for i in (base, FileIdentity(base.path, 1001, 5), FileIdentity(base.path, 1000, 6),
                  FileIdentity(base.path, 1000, 5, "etag"), FileIdentity("/logs/other", 1000, 5))
    }
    assert len(names) == 5
    assert ms.collection_name(base) == ms.collection_name(FileIdentity(base.path, 1000, 5))
    name = ms.collection_name(base)
    assert name.startswith(ms.PREFIX) and len(name) <= 255 and name.replace("_", "").isalnum()
    assert ms.is_complete_name(name) and not ms.is_complete_name(ms.partial_name(name))


def test_description_round_trip_and_foreign_collections():
    record = ms.PushedVersion(path="/l/a.bin", size=3, mtime_ns=4, version="", format="word2vec-binary",
                              rows=10, dim=4, counts_known=False, training={"sg": 1}, run="r", model="a.bin")
    back = ms.PushedVersion.from_description(record.to_description())
    assert back == record and back.identity == FileIdentity("/l/a.bin", 3, 4, "")
    assert ms.PushedVersion.from_description("someone else's collection") is None
    assert ms.PushedVersion.from_description('{"other": 1}') is None


@pytest.mark.parametrize(
    "prefix,inside,outside",
    [
        ("po", ["po", "police", "pozzz", "po\U0010ffff"], ["pn", "pp", "p", "q"]),
        ("ü", ["ü", "über"], ["u", "v", "ý"]),
        ("a\U0010ffff", ["a\U0010ffff", "a\U0010ffffz"], ["b", "a"]),
        ("\ud7ff", ["\ud7ffx"], ["\ue000"]),
    ],
)
def test_prefix_filter_is_the_range_of_strings_starting_with_the_prefix(prefix, inside, outside):
    """The filter's bounds, applied in UTF-8 byte order as Milvus compares VARCHARs."""
    lower = prefix.encode("utf-8", "surrogatepass")
    upper = ms._successor(prefix)
    upper_b = None if upper is None else upper.encode("utf-8", "surrogatepass")

    def selected(word):
        b = word.encode("utf-8", "surrogatepass")
        return b >= lower and (upper_b is None or b < upper_b)

    assert all(selected(w) for w in inside) and not any(selected(w) for w in outside)
    assert ms.prefix_filter("lower", "") == ""
    assert ms._successor("\U0010ffff") is None


def test_literals_escape_quotes_backslashes_and_control_characters_only():
    assert ms.literal('say "hi"') == '"say \\"hi\\""'
    assert ms.literal("a\\b\tc") == '"a\\\\b\\tc"'
    assert ms.literal("日本😀") == '"日本😀"'


def test_uris_are_redacted_and_tokens_never_appear():
    assert ms.redact("https://user:pw@milvus.example:19530/db") == "https://milvus.example:19530/db"
    assert ms.redact("http://127.0.0.1:19530") == "http://127.0.0.1:19530"


def test_without_the_flag_pymilvus_is_never_imported(tmp_path):
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = f"""
import sys
sys.path.insert(0, {tests!r})
from fixtures import make_client
client, plugin = make_client({str(tmp_path)!r}, cache_dir={str(tmp_path / "cache")!r})
assert client.get("/data/plugin/word2vec/models").status_code == 200
assert plugin.engines.milvus is None
print("pymilvus" in sys.modules, "tensorboard_plugin_w2v.engines.milvus" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_milvus_flags_are_checked():
    import argparse

    from tensorboard.plugins import base_plugin

    from tensorboard_plugin_w2v.server.loader import Word2VecLoader

    loader = Word2VecLoader()
    parser = argparse.ArgumentParser()
    loader.define_flags(parser)
    for bad in (["--word2vec_milvus_budget", "lots"], ["--word2vec_milvus_timeout", "0"]):
        with pytest.raises(base_plugin.FlagsError):
            loader.fix_flags(parser.parse_args(bad))
    flags = parser.parse_args(["--word2vec_milvus_uri", "http://m:19530", "--word2vec_milvus_budget", "2G"])
    loader.fix_flags(flags)
    assert flags.word2vec_milvus_budget_bytes == 2 << 30 and flags.word2vec_milvus_token is None
